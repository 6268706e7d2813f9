"""Weights that give NaN / inf: recognise it in a forward pass and say so in one line.

The weights of a diverged run can be finite (so ``load_weights`` takes them) and still overflow
in the graph: the RPN's box deltas blow up, the proposals hold NaN / inf and RoI Align refuses
them (``ops.roi_align.NON_FINITE_BOXES``), or the graph runs through and its outputs hold
NaN / inf. :func:`predict_finite` runs an inference graph on one batch and turns both cases
into a :class:`~fashion_mrcnn.errors.NonFiniteOutputError` naming the weights file (every
inference path uses it: ``MaskRCNN.detect`` and so predict, evaluate, submit and Matterport's
``detect``, and the app's engine); :func:`is_non_finite_boxes` recognises RoI Align's error
(training uses it too). The check on the outputs is numpy (``np.isfinite``), after the graph.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fashion_mrcnn.errors import NonFiniteOutputError
from fashion_mrcnn.ops.roi_align import NON_FINITE_BOXES

#: ``NonFiniteOutputError.where`` when RoI Align met non-finite boxes inside the graph.
BOXES = "the boxes before RoI Align"


def is_non_finite_boxes(exc: BaseException) -> bool:
    """Whether ``exc`` is RoI Align refusing NaN / inf boxes (``ops.roi_align.roi_align_tf``'s
    ``tf.errors.InvalidArgumentError``)."""
    import tensorflow as tf

    return isinstance(exc, tf.errors.InvalidArgumentError) and NON_FINITE_BOXES in str(exc)


def non_finite_outputs(outputs: Mapping[str, np.ndarray]) -> list[str]:
    """Names of the float arrays among ``outputs`` that hold a NaN / inf, in key order."""
    bad = []
    for name, value in outputs.items():
        value = np.asarray(value)
        if np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all():
            bad.append(name)
    return bad


def non_finite_error(weights, where: str) -> NonFiniteOutputError:
    """The one-line error for ``weights`` (a path, or None) whose graph gave NaN / inf in
    ``where``."""
    name = str(weights) if weights else "the model's weights (loaded from no file)"
    return NonFiniteOutputError(
        f"{name}: the weights give non-finite outputs (NaN / inf in {where}): they are likely "
        "from a training run that diverged; use an earlier checkpoint",
        weights=weights,
        where=where,
    )


def predict_finite(keras_model, inputs: Mapping, weights=None) -> dict[str, np.ndarray]:
    """``keras_model.predict_on_batch(inputs)`` as a dict of numpy arrays (batch first).

    ``weights``: the file the model's weights came from, for the message. Raises
    NonFiniteOutputError when RoI Align meets non-finite boxes or an output holds NaN / inf;
    any other error of the graph propagates unchanged.
    """
    import tensorflow as tf

    try:
        out = keras_model.predict_on_batch(dict(inputs))
    except tf.errors.InvalidArgumentError as exc:
        if not is_non_finite_boxes(exc):
            raise
        raise non_finite_error(weights, BOXES) from None
    out = {k: np.asarray(v) for k, v in out.items()}
    bad = non_finite_outputs(out)
    if bad:
        raise non_finite_error(weights, "the outputs " + ", ".join(bad))
    return out
