"""PyramidROIAlign against crop_and_resize_np + level assignment, and its gradients."""

import numpy as np
import tensorflow as tf

from fashion_mrcnn.layers import PyramidROIAlign
from fashion_mrcnn.ops.roi_align import roi_levels_np
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


def test_pyramid_roi_align_matches_numpy():
    rng = np.random.default_rng(0)
    fms = pyramid(rng)
    boxes = random_boxes(rng, 2, 40)
    boxes[1, -5:] = 0  # zero padding
    boxes[0, :3] = [[0.05, 0.1, 0.95, 0.9], [0.0, 0.0, 1.0, 1.0], [0.2, 0.0, 0.99, 0.8]]
    levels = roi_levels_np(boxes, IMAGE)
    assert set(np.unique(levels)) == {2, 3, 4, 5}  # every level exercised
    kwargs = dict(pool_shape=[7, 7], image_shape=list(IMAGE), name="roi_align_classifier")
    (out,) = check_layer(PyramidROIAlign, kwargs, [boxes] + fms, [(2, 40, 7, 7, 5)])
    np.testing.assert_allclose(out, pyramid_roi_align_np(boxes, fms, (7, 7), IMAGE), atol=1e-4)


def test_gradient_reaches_features_only():
    rng = np.random.default_rng(1)
    fms = [tf.constant(f) for f in pyramid(rng, batch=1, channels=2)]
    boxes = tf.constant(random_boxes(rng, 1, 10))
    layer = PyramidROIAlign([3, 3], IMAGE)
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


def test_canonical_size_moves_small_image_boxes_up_the_pyramid():
    rng = np.random.default_rng(2)
    small = (128, 128, 3)
    boxes = random_boxes(rng, 1, 50)
    assert roi_levels_np(boxes, small).max() <= 3  # Matterport's 224: P4 / P5 unused at 128 px
    scaled = roi_levels_np(boxes, small, canonical_size=224 * 128 / 1024)
    assert scaled.max() == 5
    fms = [rng.normal(size=(1, 128 // s, 128 // s, 3)).astype(np.float32) for s in (4, 8, 16, 32)]
    layer = PyramidROIAlign([5, 5], small, canonical_size=28.0)
    np.testing.assert_allclose(
        np.asarray(layer([boxes] + fms)),
        pyramid_roi_align_np(boxes, fms, (5, 5), small, canonical_size=28.0),
        atol=1e-4,
    )
    assert PyramidROIAlign.from_config(layer.get_config()).canonical_size == 28.0
