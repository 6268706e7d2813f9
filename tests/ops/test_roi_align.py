"""ops.roi_align: the numpy crop_and_resize reference against tf.image.crop_and_resize (both
refusing NaN / inf boxes), and FPN level assignment numpy vs TF."""

import numpy as np
import pytest
import tensorflow as tf

from fashion_mrcnn.ops import roi_align as R


def random_norm_boxes(rng, n, outside=0.0):
    a = rng.uniform(-outside, 1 + outside, (n, 2, 2))
    return np.stack([a[:, 0, 0], a[:, 1, 0], a[:, 0, 1], a[:, 1, 1]], axis=1).astype(np.float32)


@pytest.mark.parametrize("size", [(7, 7), (14, 10), (1, 1), (1, 5)])
def test_crop_and_resize_np_matches_tf(size):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 17, 23, 4)).astype(np.float32)
    boxes = random_norm_boxes(rng, 20, outside=0.2)  # includes flipped and out-of-image boxes
    idx = rng.integers(0, 2, 20).astype(np.int32)
    expected = tf.image.crop_and_resize(images, boxes, idx, size, extrapolation_value=0.5).numpy()
    got = R.crop_and_resize_np(images, boxes, size, box_indices=idx, extrapolation_value=0.5)
    assert got.shape == (20,) + size + (4,)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    single = R.crop_and_resize_np(images[1], boxes, size)
    expected1 = tf.image.crop_and_resize(images[1:], boxes, np.zeros(20, np.int32), size).numpy()
    np.testing.assert_allclose(single, expected1, atol=1e-4)


def test_crop_and_resize_identity_box():
    img = np.arange(5 * 5, dtype=np.float32).reshape(5, 5, 1)
    out = R.crop_and_resize_np(img, [[0, 0, 1, 1]], (5, 5))
    np.testing.assert_allclose(out[0], img)
    with pytest.raises(ValueError, match="box_indices"):
        R.crop_and_resize_np(img[None], [[0, 0, 1, 1]], (5, 5))


def test_roi_align_tf_wrapper_and_gradient_stops_at_boxes():
    rng = np.random.default_rng(1)
    fm = tf.constant(rng.normal(size=(1, 9, 9, 2)).astype(np.float32))
    boxes = tf.Variable(random_norm_boxes(rng, 3))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(fm)
        out = R.roi_align_tf(fm, boxes, tf.zeros(3, tf.int32), (4, 4))
        total = tf.reduce_sum(out)
    np.testing.assert_allclose(
        out.numpy(), R.crop_and_resize_np(fm.numpy()[0], boxes.numpy(), (4, 4)), atol=1e-5
    )
    assert tape.gradient(total, boxes) is None
    assert tape.gradient(total, fm) is not None


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_both_crops_refuse_a_non_finite_box_naming_it(bad):
    fm = np.ones((1, 5, 5, 2), np.float32)
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, bad, 1.0, 1.0]], np.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match=R.NON_FINITE_BOXES):
        R.roi_align_tf(fm, boxes, np.zeros(2, np.int32), (3, 3))
    with pytest.raises(ValueError, match=R.NON_FINITE_BOXES):
        R.crop_and_resize_np(fm[0], boxes, (3, 3))


def test_roi_levels():
    shape = (1024, 1024)
    # a 224 px box on a 1024 image -> level 4; 112 -> 3; 56 -> 2; 448 -> 5; tiny -> 2; huge -> 5
    sides = np.array([224, 112, 56, 448, 2, 1023]) / 1023
    boxes = np.stack([np.zeros(6), np.zeros(6), sides, sides], axis=1)
    boxes = np.concatenate([boxes, np.zeros((1, 4))])  # padding box
    expected = [4, 3, 2, 5, 2, 5, 2]
    np.testing.assert_array_equal(R.roi_levels_np(boxes, shape), expected)
    np.testing.assert_array_equal(R.roi_levels_tf(boxes, shape).numpy(), expected)
    rng = np.random.default_rng(2)
    rand = random_norm_boxes(rng, 500)
    rand = np.concatenate(
        [np.minimum(rand[:, :2], rand[:, 2:]), np.maximum(rand[:, :2], rand[:, 2:])], 1
    )
    np.testing.assert_array_equal(
        R.roi_levels_tf(rand, (512, 384)).numpy(), R.roi_levels_np(rand, (512, 384))
    )
    np.testing.assert_array_equal(
        R.roi_levels_tf(rand, (128, 128), 28.0).numpy(), R.roi_levels_np(rand, (128, 128), 28.0)
    )
