"""ops.nms: the numpy reference against tf.image.non_max_suppression; per-class NMS."""

import numpy as np
import pytest
import tensorflow as tf

from fashion_mrcnn.ops import nms as N


def clustered_boxes(rng, n):
    centres = rng.uniform(0.2, 0.8, (6, 2))[rng.integers(0, 6, n)] + rng.normal(0, 0.03, (n, 2))
    size = rng.uniform(0.05, 0.3, (n, 2))
    return np.concatenate([centres - size / 2, centres + size / 2], axis=1).astype(np.float32)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("threshold", [0.3, 0.7])
def test_nms_np_matches_tf(seed, threshold):
    rng = np.random.default_rng(seed)
    boxes = clustered_boxes(rng, 200)
    scores = rng.random(200).astype(np.float32)
    expected = tf.image.non_max_suppression(boxes, scores, 50, threshold).numpy()
    np.testing.assert_array_equal(N.nms_np(boxes, scores, threshold, 50), expected)
    idx, count = N.nms_padded_tf(boxes, scores, 300, threshold)
    full = tf.image.non_max_suppression(boxes, scores, 300, threshold).numpy()
    assert int(count) == len(full) < 300
    np.testing.assert_array_equal(idx.numpy()[: len(full)], full)
    assert (idx.numpy()[len(full) :] == -1).all()


def test_nms_known_case_and_zero_area():
    boxes = np.array([[0, 0, 1, 1], [0, 0, 1, 0.9], [0, 0.5, 1, 1.5], [0, 0, 0, 0], [0, 0, 0, 0]])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    # IoU(0, 1) = 0.9 > 0.5 dropped; IoU(0, 2) = 1/3 kept; zero-area boxes overlap nothing
    np.testing.assert_array_equal(N.nms_np(boxes, scores, 0.5), [0, 2, 3, 4])
    np.testing.assert_array_equal(
        tf.image.non_max_suppression(boxes.astype(np.float32), scores.astype(np.float32), 10, 0.5),
        [0, 2, 3, 4],
    )
    assert N.nms_np(np.zeros((0, 4)), np.zeros(0), 0.5).shape == (0,)


@pytest.mark.parametrize("seed", range(3))
def test_per_class_nms_np_vs_tf(seed):
    rng = np.random.default_rng(seed)
    boxes = np.clip(clustered_boxes(rng, 150), 0, 1)
    scores = rng.random(150).astype(np.float32)
    classes = rng.integers(1, 47, 150)
    expected = N.per_class_nms_np(boxes, scores, classes, 0.3, 40)
    idx, count = N.per_class_nms_tf(boxes, scores, classes, 40, 0.3)
    np.testing.assert_array_equal(idx.numpy()[: int(count)], expected)
    idx, count = N.per_class_nms_fixed_tf(boxes, scores, classes, 40, 0.3, num_classes=47)
    np.testing.assert_array_equal(idx.numpy()[: int(count)], expected)
    assert (idx.numpy()[int(count) :] == -1).all()
    # fixed shapes: rows not valid, or of class 0, are as if absent (the detection layer's
    # filter), and XLA compiles it
    valid = rng.random(150) < 0.6
    classes[::7] = 0
    ok = np.nonzero(valid & (classes > 0))[0]
    expected = ok[N.per_class_nms_np(boxes[ok], scores[ok], classes[ok], 0.3, 40)]
    compiled = tf.function(
        lambda *a: N.per_class_nms_fixed_tf(*a, 40, 0.3, 47, valid=valid), jit_compile=True
    )
    idx, count = compiled(boxes, scores, classes)
    np.testing.assert_array_equal(idx.numpy()[: int(count)], expected)
    # with one class everything is one NMS
    one = N.per_class_nms_np(boxes, scores, np.ones(150, int), 0.3, 40)
    np.testing.assert_array_equal(one, N.nms_np(boxes, scores, 0.3, 40))
    # boxes of different classes never suppress each other
    twin = np.concatenate([boxes[:1], boxes[:1]])
    kept = N.per_class_nms_np(twin, [0.9, 0.8], [1, 2], 0.3, 10)
    np.testing.assert_array_equal(kept, [0, 1])
