"""PyramidROIAlign against crop_and_resize_np + level assignment, and its gradients, with both
crops (``method``); the XLA one compiled, equal to the other in values and gradients."""

import numpy as np
import pytest
import tensorflow as tf

from fashion_mrcnn.constants import ROI_ALIGN_METHODS
from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.layers import PyramidROIAlign
from fashion_mrcnn.layers.pyramid_roi_align import LEVELS
from fashion_mrcnn.ops.roi_align import NON_FINITE_BOXES, crop_and_resize_grad_np, roi_levels_np
from tests.layer_helper import check_layer
from tests.reference.pyramid_roi_align import pyramid_roi_align_np

IMAGE = (512, 384, 3)  # level 5 needs images above ~320 px


def pyramid(rng, batch=2, channels=5):
    return [
        rng.normal(size=(batch, IMAGE[0] // s, IMAGE[1] // s, channels)).astype(np.float32)
        for s in (4, 8, 16, 32)
    ]


def random_boxes(rng, batch, n):
    size = np.exp(rng.uniform(np.log(0.02), np.log(0.9), (batch, n, 2)))
    y1x1 = rng.uniform(0, 1, (batch, n, 2)) * (1 - size)
    return np.concatenate([y1x1, y1x1 + size], axis=-1).astype(np.float32)


@pytest.mark.parametrize("method", ROI_ALIGN_METHODS)
def test_pyramid_roi_align_matches_numpy(method):
    rng = np.random.default_rng(0)
    fms = pyramid(rng)
    boxes = random_boxes(rng, 2, 40)
    boxes[1, -5:] = 0  # zero padding
    boxes[0, :3] = [[0.05, 0.1, 0.95, 0.9], [0.0, 0.0, 1.0, 1.0], [0.2, 0.0, 0.99, 0.8]]
    levels = roi_levels_np(boxes, IMAGE)
    assert set(np.unique(levels)) == {2, 3, 4, 5}  # every level exercised
    kwargs = dict(pool_shape=[7, 7], image_shape=list(IMAGE), method=method, name="roi_align")
    # "xla" in a graph: Grappler's x / c -> x * (1 / c) and XLA's fused multiply-adds move some
    # sampling positions by one float32 ulp (1.5e-5 px on P2's 128 rows), so eager and graph
    # outputs differ by up to ~5e-5 on N(0, 1) features, as the numpy reference does
    atol = 1e-4 if method == "xla" else 1e-5
    (out,) = check_layer(PyramidROIAlign, kwargs, [boxes] + fms, [(2, 40, 7, 7, 5)], atol=atol)
    np.testing.assert_allclose(out, pyramid_roi_align_np(boxes, fms, (7, 7), IMAGE), atol=1e-4)


@pytest.mark.parametrize("method", ROI_ALIGN_METHODS)
def test_gradient_reaches_features_only(method):
    rng = np.random.default_rng(1)
    fms = [tf.constant(f) for f in pyramid(rng, batch=1, channels=2)]
    boxes = tf.constant(random_boxes(rng, 1, 10))
    layer = PyramidROIAlign([3, 3], IMAGE, method=method)
    with tf.GradientTape() as tape:
        tape.watch(fms)
        tape.watch(boxes)
        total = tf.reduce_sum(layer([boxes] + fms))
    grads = tape.gradient(total, [boxes] + fms)
    assert grads[0] is None
    levels = set(roi_levels_np(boxes.numpy(), IMAGE).ravel())
    for level, g in zip((2, 3, 4, 5), grads[1:]):
        used = g is not None and float(tf.reduce_sum(tf.abs(g))) > 0
        assert used == (level in levels), level


@pytest.mark.parametrize("method", ROI_ALIGN_METHODS)
def test_canonical_size_moves_small_image_boxes_up_the_pyramid(method):
    rng = np.random.default_rng(2)
    small = (128, 128, 3)
    boxes = random_boxes(rng, 1, 50)
    assert roi_levels_np(boxes, small).max() <= 3  # Matterport's 224: P4 / P5 unused at 128 px
    scaled = roi_levels_np(boxes, small, canonical_size=224 * 128 / 1024)
    assert scaled.max() == 5
    fms = [rng.normal(size=(1, 128 // s, 128 // s, 3)).astype(np.float32) for s in (4, 8, 16, 32)]
    layer = PyramidROIAlign([5, 5], small, canonical_size=28.0, method=method)
    np.testing.assert_allclose(
        np.asarray(layer([boxes] + fms)),
        pyramid_roi_align_np(boxes, fms, (5, 5), small, canonical_size=28.0),
        atol=1e-4,
    )
    clone = PyramidROIAlign.from_config(layer.get_config())
    assert (clone.canonical_size, clone.method) == (28.0, method)


def pooled_and_gradients(layer, boxes, fms, upstream):
    """(layer output, d sum(output * upstream) / d P2..P5)."""
    with tf.GradientTape() as tape:
        tape.watch(fms)
        out = layer([boxes] + fms)
        total = tf.reduce_sum(out * upstream)
    return out, tape.gradient(total, fms)


def test_xla_method_compiles_and_equals_crop_and_resize_with_gradients():
    rng = np.random.default_rng(3)
    fms = [tf.constant(f) for f in pyramid(rng, batch=2, channels=3)]
    boxes = random_boxes(rng, 2, 30)
    boxes[1, -4:] = 0  # zero padding
    boxes = tf.constant(boxes)
    upstream = tf.constant(rng.normal(size=(2, 30, 4, 4, 3)).astype(np.float32))
    expected = PyramidROIAlign([4, 4], IMAGE)([boxes] + fms)
    # the reference gradient: numpy's, level by level (CropAndResize's own CPU gradient races
    # between threads, tensorflow/tensorflow#42033; tests/ops/test_roi_align.kernel_gradient)
    levels = roi_levels_np(boxes.numpy(), IMAGE)
    flat = boxes.numpy().reshape(-1, 4)
    image_of_box = np.repeat(np.arange(2), 30)
    up = upstream.numpy().reshape(60, 4, 4, 3)
    expected_grads = [
        crop_and_resize_grad_np(fm.shape, flat[rows], image_of_box[rows], up[rows])
        for fm, rows in ((fm, np.flatnonzero(levels.ravel() == lv)) for fm, lv in zip(fms, LEVELS))
    ]
    assert all(np.abs(g).sum() > 0 for g in expected_grads[:2])
    xla = PyramidROIAlign([4, 4], IMAGE, method="xla")
    compiled = tf.function(lambda b, f: pooled_and_gradients(xla, b, f, upstream), jit_compile=True)
    for out, grads in (pooled_and_gradients(xla, boxes, fms, upstream), compiled(boxes, fms)):
        np.testing.assert_allclose(out.numpy(), np.asarray(expected), atol=1e-4)  # 1-ulp grid
        for got, want in zip(grads, expected_grads):
            np.testing.assert_allclose(got.numpy(), want, atol=1e-4)


def test_non_finite_box_refused_by_crop_and_resize_and_nan_by_xla():
    rng = np.random.default_rng(4)
    fms = pyramid(rng, batch=1, channels=2)
    boxes = random_boxes(rng, 1, 3)
    boxes[0, 1, 2] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match=NON_FINITE_BOXES):
        PyramidROIAlign([2, 2], IMAGE)([boxes] + fms)
    out = np.asarray(PyramidROIAlign([2, 2], IMAGE, method="xla")([boxes] + fms))
    assert np.isnan(out[0, 1]).all() and np.isfinite(out[0, [0, 2]]).all()
    with pytest.raises(ConfigError, match="method"):
        PyramidROIAlign([2, 2], IMAGE, method="cuda")
