"""Which layers train: Matterport's layer presets, ``set_trainable``, the frozen-BN warning.

``LAYER_REGEX`` maps Matterport's ``layers=`` presets ("heads", "3+", "4+", "5+", "all") to
regular expressions matched in full against layer names; any other string is a regex itself.
:func:`set_trainable` applies one to a Keras model (``MaskRCNN.set_trainable`` and
``MaskRCNN.train(layers=...)`` call it), :func:`get_trainable_layers` lists the result.
:func:`backbone_layers` names the layers a backbone weights file must hold (every weighted layer
outside the heads), and :func:`warn_unnormalised` warns when frozen BatchNorm would train from
random weights.
"""

from __future__ import annotations

import re
import warnings

import keras

from fashion_mrcnn.model.norm import FrozenBatchNorm

LAYER_REGEX = {
    "heads": r"(mrcnn\_.*)|(rpn\_.*)|(fpn\_.*)",
    "3+": r"(res3.*)|(bn3.*)|(res4.*)|(bn4.*)|(res5.*)|(bn5.*)|(mrcnn\_.*)|(rpn\_.*)|(fpn\_.*)",
    "4+": r"(res4.*)|(bn4.*)|(res5.*)|(bn5.*)|(mrcnn\_.*)|(rpn\_.*)|(fpn\_.*)",
    "5+": r"(res5.*)|(bn5.*)|(mrcnn\_.*)|(rpn\_.*)|(fpn\_.*)",
    "all": ".*",
}
# Stage-4 blocks g..w: in resnet101, not in resnet50 (blocks a..f).
RESNET101_ONLY = r"(res|bn)4[g-w]_branch.*"


def set_trainable(keras_model, layer_regex: str, indent: int = 0, verbose: int = 1) -> None:
    """Make the layers of ``keras_model`` whose name fullmatches ``layer_regex`` (or a
    ``LAYER_REGEX`` preset key) trainable and the rest frozen, recursing into nested models.
    Frozen BN (NORM "frozen_bn") stays frozen. ``verbose > 1`` prints each trainable layer."""
    layer_regex = LAYER_REGEX.get(layer_regex, layer_regex)
    for layer in keras_model.layers:
        if isinstance(layer, keras.Model):
            layer.trainable = True
            set_trainable(layer, layer_regex, indent + 4, verbose)
            continue
        if not layer.weights:
            continue
        on = bool(re.fullmatch(layer_regex, layer.name))
        if isinstance(layer, FrozenBatchNorm):
            on = False
        layer.trainable = on
        if on and verbose > 1:
            print(f"{' ' * indent}{layer.name:30} ({layer.__class__.__name__})")


def get_trainable_layers(keras_model) -> list:
    """Layers with weights (recursing into nested models) that are currently trainable."""
    out = []
    for layer in keras_model.layers:
        if isinstance(layer, keras.Model):
            out += get_trainable_layers(layer)
        elif layer.trainable_weights:
            out.append(layer)
    return out


def backbone_layers(layer_names, imagenet_resnet50: bool) -> list[str]:
    """The names in ``layer_names`` (weighted leaf layers) a backbone weights file must hold:
    every one outside the heads (FPN, RPN, mask / box heads). ``imagenet_resnet50``: the file
    is Keras' ResNet50, so resnet101's stage-4 blocks g-w are not required from it."""
    required = [n for n in layer_names if not re.fullmatch(LAYER_REGEX["heads"], n)]
    if imagenet_resnet50:
        required = [n for n in required if not re.fullmatch(RESNET101_ONLY, n)]
    return required


_WARNED_UNNORMALISED = False


def warn_unnormalised(config, weights_loaded: bool) -> None:
    """Warn once per process when training starts from random weights with frozen BatchNorm
    (Matterport's ``TRAIN_BN = False``): the backbone's BN layers then keep their initial
    statistics (mean 0, variance 1) and never normalise anything, so activations grow through
    the ResNet stages and the first losses are huge (Matterport's shapes sample starts near 44).
    """
    global _WARNED_UNNORMALISED
    if _WARNED_UNNORMALISED or weights_loaded or config.NORM != "frozen_bn":
        return
    _WARNED_UNNORMALISED = True
    warnings.warn(
        "training from random weights with frozen BatchNorm (NORM='frozen_bn', TRAIN_BN=False): "
        "the backbone is left unnormalised and training starts at a huge loss. Use GroupNorm "
        "(NORM='gn', as the cpu-* presets do), trainable BatchNorm (NORM='bn' / TRAIN_BN=None), "
        "or start from weights (BACKBONE_WEIGHTS='imagenet', --init-weights).",
        UserWarning,
        stacklevel=3,
    )
