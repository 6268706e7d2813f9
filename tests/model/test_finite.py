"""model.finite: weights whose graph gives NaN / inf boxes or outputs fail with one line naming
the weights file (Matterport's ``detect`` included); any other error of the graph stays itself."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from fashion_mrcnn.errors import NonFiniteOutputError, WeightsError
from fashion_mrcnn.model.finite import BOXES, non_finite_outputs, predict_finite
from fashion_mrcnn.model.weights import leaf_layers, save_checkpoint
from fashion_mrcnn.ops.roi_align import roi_align_tf
from tests.model.engine_helpers import smoke_config


class _Crop(keras.layers.Layer):
    """RoI Align of ``boxes`` [1, N, 4] on ``fm`` [1, 4, 4, 1] -> [1, N, 2, 2, 1]."""

    def call(self, fm, boxes):
        n = tf.shape(boxes)[1]
        return roi_align_tf(fm, boxes[0], tf.zeros([n], tf.int32), (2, 2))[None]


class _NonNegative(keras.layers.Layer):
    """``x`` unchanged; InvalidArgumentError (not about boxes) when an entry is negative."""

    def call(self, x):
        with tf.control_dependencies([tf.debugging.assert_non_negative(x)]):
            return tf.identity(x)


def _graph() -> keras.Model:
    fm = keras.Input((4, 4, 1), batch_size=1, name="fm")
    boxes = keras.Input((2, 4), batch_size=1, name="boxes")
    x = keras.Input((3,), batch_size=1, name="x")
    outputs = {"crops": _Crop()(fm, boxes), "y": _NonNegative()(x)}
    return keras.Model({"fm": fm, "boxes": boxes, "x": x}, outputs)


def _inputs(box=(0.0, 0.0, 1.0, 1.0), x=(1.0, 2.0, 3.0)) -> dict:
    return {
        "fm": np.ones((1, 4, 4, 1), np.float32),
        "boxes": np.array([[[0.0, 0.0, 0.5, 0.5], box]], np.float32),
        "x": np.array([x], np.float32),
    }


def test_predict_finite_refuses_non_finite_boxes_and_outputs_naming_the_weights(tmp_path):
    graph = _graph()
    weights = tmp_path / "mask_rcnn_x_0007.h5"
    out = predict_finite(graph, _inputs(), weights)
    assert out["crops"].shape == (1, 2, 2, 2, 1) and isinstance(out["y"], np.ndarray)

    with pytest.raises(NonFiniteOutputError) as info:
        predict_finite(graph, _inputs(box=(0.0, np.nan, 1.0, 1.0)), weights)
    message = str(info.value)
    assert message.startswith(f"{weights}: the weights give non-finite outputs (NaN / inf in ")
    assert BOXES in message and "diverged" in message and "\n" not in message
    assert "CropAndResize" not in message and info.value.__suppress_context__
    assert isinstance(info.value, WeightsError)  # the CLI's exit 2, one line
    assert info.value.weights == weights and info.value.where == BOXES

    with pytest.raises(NonFiniteOutputError, match=r"NaN / inf in the outputs y\)"):
        predict_finite(graph, _inputs(x=(1.0, np.inf, 0.0)), weights)
    with pytest.raises(
        NonFiniteOutputError, match="^the model's weights \\(loaded from no file\\)"
    ):
        predict_finite(graph, _inputs(box=(np.inf, 0.0, 1.0, 1.0)))
    with pytest.raises(tf.errors.InvalidArgumentError):  # another graph error: not ours to name
        predict_finite(graph, _inputs(x=(-1.0, 0.0, 0.0)), weights)


def test_non_finite_outputs_names_float_arrays_with_nan_or_inf():
    outputs = {
        "a": np.zeros(3, np.float32),
        "b": np.array([1.0, np.nan]),
        "c": np.array([1, 2], np.int32),
        "d": np.array([[np.inf]], np.float32),
    }
    assert non_finite_outputs(outputs) == ["b", "d"]


def test_matterport_detect_on_diverged_weights_is_one_line_naming_the_file(tmp_path):
    from fashion_mrcnn.mrcnn import model as modellib

    cfg = smoke_config(IMAGES_PER_GPU=1)
    model = modellib.MaskRCNN("inference", cfg, tmp_path)
    kernel = leaf_layers(model.keras_model)["rpn_bbox_pred"].kernel  # finite, but exploded
    kernel.assign(np.full(kernel.shape, 1e30, "float32"))
    path = save_checkpoint(model.keras_model, tmp_path / "run20260101T0000" / "mask_rcnn_x_0007.h5")
    model.load_weights(str(path))
    image = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    with pytest.raises(NonFiniteOutputError) as info:
        model.detect([image])
    assert str(info.value).startswith(f"{path}: the weights give non-finite outputs")
