"""Every custom layer of the model package: eager call with a numpy reference and a
``get_config`` / ``from_config`` round trip."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fashion_mrcnn.model.graph import (
    AnchorsConstant,
    CastFloat,
    DetectionBoxes,
    LeadingPositives,
    MetaActiveClasses,
)
from fashion_mrcnn.model.heads import HasClass, MergeRois, SplitRois, WindowConv
from fashion_mrcnn.model.norm import FrozenBatchNorm, GroupNorm
from fashion_mrcnn.ops.anchors import get_anchors

RNG = np.random.default_rng(0)


def _round_trip(layer):
    clone = layer.__class__.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    return clone


def test_merge_split_rois():
    x = RNG.normal(size=(2, 3, 4, 4, 5)).astype("float32")
    merge, split = _round_trip(MergeRois()), _round_trip(SplitRois())
    flat = np.asarray(merge(x))
    np.testing.assert_array_equal(flat, x.reshape(6, 4, 4, 5))
    y = np.asarray(split(flat[..., :2], x))
    np.testing.assert_array_equal(y, x[..., :2])
    # only the kept rows go through (a head on real RoIs), the others come back as zeros
    keep = np.array([[True, False, True], [False, False, True]])
    rows = np.asarray(merge(x, keep))
    np.testing.assert_array_equal(rows, x[keep])
    back = np.asarray(split(rows[..., :2], x, keep))
    want = np.zeros(x.shape[:-1] + (2,), "float32")
    want[keep] = x[keep][..., :2]
    np.testing.assert_array_equal(back, want)


@pytest.mark.parametrize("window", [7, 1])
def test_window_conv_is_the_convolution_over_its_whole_input(window):
    x = RNG.normal(size=(5, window, window, 6)).astype("float32")
    layer = WindowConv(4, window, activation="relu", name="w")
    conv = keras.layers.Conv2D(4, window, activation="relu")
    out = np.asarray(layer(x))
    conv(x)
    conv.set_weights(layer.get_weights())
    assert layer.kernel.shape == (window, window, 6, 4)  # Conv2D's layout: Matterport binds
    np.testing.assert_allclose(out, np.asarray(conv(x)), rtol=1e-5, atol=1e-5)
    kernel, bias = layer.get_weights()
    want = np.maximum(x.reshape(5, -1) @ kernel.reshape(-1, 4) + bias, 0).reshape(5, 1, 1, 4)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    clone = _round_trip(layer)
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), out, rtol=1e-6)


def test_window_conv_refuses_a_window_smaller_than_its_input():
    with pytest.raises(ValueError, match="kernel covering its input"):
        WindowConv(4, 3, name="w")(np.zeros((1, 7, 7, 2), "float32"))


def test_has_class():
    ids = np.array([[3, 0, -1], [0, 7, 0]], "int32")
    np.testing.assert_array_equal(np.asarray(_round_trip(HasClass())(ids)), ids > 0)
    det = RNG.normal(size=(2, 3, 6)).astype("float32")
    det[..., 4] = ids
    np.testing.assert_array_equal(np.asarray(_round_trip(HasClass(column=4))(det)), ids > 0)
    # nothing positive: one row all the same, never an empty head
    none = np.asarray(HasClass()(np.zeros((2, 3), "int32")))
    assert none.sum() == 1 and none[0, 0]


def _leading_positives_reference(x, ids):
    n = max(1, int((ids > 0).sum(axis=1).max()))
    return x[:, :n]


@pytest.mark.parametrize(
    "ids",
    [
        [[3, 1, 0, 0, 0], [2, 0, 0, 0, 0]],  # the largest count wins: 2 slots
        [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],  # no positive: one slot, never an empty head
        [[1, 2, 3, 4, 5], [6, 7, 8, 9, 1]],  # all positive: every slot
    ],
)
def test_leading_positives(ids):
    ids = np.asarray(ids, "int32")
    x = RNG.normal(size=(2, 5, 3, 3)).astype("float32")
    layer = _round_trip(LeadingPositives())
    out = np.asarray(layer(x, ids))
    np.testing.assert_array_equal(out, _leading_positives_reference(x, ids))
    np.testing.assert_array_equal(
        np.asarray(layer(ids, ids)), _leading_positives_reference(ids, ids)
    )


def test_anchors_constant():
    layer = AnchorsConstant((128, 128, 3), (8, 16, 32, 64, 128), (0.5, 1, 2), (4, 8, 16, 32, 64))
    clone = _round_trip(layer)
    out = np.asarray(clone(np.zeros((3, 128, 128, 3), "float32")))
    want = get_anchors((128, 128), (8, 16, 32, 64, 128), (0.5, 1, 2), (4, 8, 16, 32, 64))
    assert out.shape == (3,) + want.shape
    np.testing.assert_allclose(out[2], want, rtol=1e-6)
    assert not layer.weights  # never part of a weights file


def test_meta_boxes_cast():
    meta = RNG.normal(size=(2, 12 + 5)).astype("float32")
    np.testing.assert_array_equal(np.asarray(_round_trip(MetaActiveClasses())(meta)), meta[:, 12:])
    det = RNG.normal(size=(2, 7, 6)).astype("float32")
    np.testing.assert_array_equal(np.asarray(_round_trip(DetectionBoxes())(det)), det[..., :4])
    m = RNG.integers(0, 2, (2, 5, 5, 3)).astype("uint8")
    out = np.asarray(_round_trip(CastFloat())(m))
    assert out.dtype == np.float32 and (out == m).all()


@pytest.mark.parametrize("cls", [FrozenBatchNorm, GroupNorm])
def test_norm_round_trip(cls):
    kwargs = {"groups": 4} if cls is GroupNorm else {}
    layer = cls(name="n", **kwargs)
    x = RNG.normal(2.0, 3.0, size=(2, 3, 3, 8)).astype("float32")
    a = np.asarray(layer(x))
    clone = _round_trip(layer)
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), a, rtol=1e-6)
    if cls is GroupNorm:  # numpy reference: per sample, per group of 2 channels
        g = x.reshape(2, 3, 3, 4, 2)
        ref = (g - g.mean(axis=(1, 2, 4), keepdims=True)) / np.sqrt(
            g.var(axis=(1, 2, 4), keepdims=True) + 1e-3
        )
        np.testing.assert_allclose(a, ref.reshape(x.shape), rtol=1e-4, atol=1e-5)
    else:
        assert isinstance(clone, keras.layers.BatchNormalization) and not clone.trainable
