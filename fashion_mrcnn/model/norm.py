"""Normalisation layers selected by ``config.NORM``.

- ``"frozen_bn"``: :class:`FrozenBatchNorm`, a BatchNormalization that always runs in inference
  mode (moving statistics, never batch statistics) and whose four weights never train. This is
  Matterport's ``TRAIN_BN = False`` and the right choice with pretrained weights and small batches.
- ``"bn"``: ordinary trainable BatchNormalization (batch statistics in training).
- ``"gn"``: ``keras.layers.GroupNormalization`` with up to 32 groups (fewer for narrow layers, always
  a divisor of the channel count). Works at any batch size; has only ``gamma``/``beta``.

Every norm layer keeps the Matterport layer name it is given (``bn_conv1``, ``mrcnn_mask_bn1``...),
so Matterport ``.h5`` files bind to it by name.
"""

from __future__ import annotations

import keras

from fashion_mrcnn.constants import NORMS
from fashion_mrcnn.errors import ConfigError


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class FrozenBatchNorm(keras.layers.BatchNormalization):
    """BatchNormalization that always normalises with its moving statistics.

    Input/output: any float tensor ``[..., C]`` (channels last). ``training`` is ignored, and the
    layer refuses to become trainable so ``set_trainable`` cannot unfreeze it by accident.
    """

    def __init__(self, **kwargs):
        kwargs.pop("trainable", None)
        super().__init__(trainable=False, **kwargs)

    @property
    def trainable(self):
        return False

    @trainable.setter
    def trainable(self, value):
        # Keras sets ``trainable`` during construction and in ``set_trainable``; a frozen BN
        # stays frozen whatever is asked.
        self._trainable = False
        for v in getattr(self, "_trainable_variables", []):
            v.trainable = False

    def call(self, inputs, training=None, mask=None):
        return super().call(inputs, training=False, mask=mask)


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class GroupNorm(keras.layers.GroupNormalization):
    """GroupNormalization that also accepts (and ignores) the ``mask``/``training`` call arguments
    a BatchNormalization receives, so it can replace one inside an existing functional graph."""

    def call(self, inputs, mask=None, training=None):
        return super().call(inputs)


def group_count(channels: int, max_groups: int = 32) -> int:
    """The largest divisor of ``channels`` that is <= ``max_groups`` (32 for 256 channels)."""
    for g in range(min(max_groups, channels), 0, -1):
        if channels % g == 0:
            return g
    return 1


def norm_layer(norm: str, name: str, channels: int, axis: int = -1) -> keras.layers.Layer:
    """A normalisation layer of kind ``norm`` ("frozen_bn" | "bn" | "gn") named ``name``.

    ``channels`` is the size of the normalised axis (needed to choose the GroupNorm group count).
    """
    if norm == "frozen_bn":
        return FrozenBatchNorm(axis=axis, name=name)
    if norm == "bn":
        return keras.layers.BatchNormalization(axis=axis, name=name)
    if norm == "gn":
        return GroupNorm(groups=group_count(channels), axis=axis, name=name)
    raise ConfigError(f"NORM must be one of {NORMS}, got {norm!r}")


def config_norm(config) -> str:
    """The effective NORM of a config (``NORM`` when present, else mapped from ``TRAIN_BN``).

    Matterport's ``TRAIN_BN``: False -> "frozen_bn", None -> "bn"; True (training-mode BN even at
    inference) is not supported and maps to "bn".
    """
    norm = getattr(config, "NORM", None)
    if norm is None:
        train_bn = getattr(config, "TRAIN_BN", False)
        norm = "frozen_bn" if train_bn is False else "bn"
    if norm not in NORMS:
        raise ConfigError(f"NORM must be one of {NORMS}, got {norm!r}")
    return norm
