"""ops.boxes: numpy references, their TensorFlow twins on random inputs, and edge cases."""

import numpy as np
import pytest

from fashion_mrcnn.ops import boxes as B


def random_boxes(rng, n, lo=0.0, hi=100.0, min_size=1.0):
    y1 = rng.uniform(lo, hi, n)
    x1 = rng.uniform(lo, hi, n)
    h = rng.uniform(min_size, hi / 2, n)
    w = rng.uniform(min_size, hi / 2, n)
    return np.stack([y1, x1, y1 + h, x1 + w], axis=1).astype(np.float32)


def test_box_iou_known_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 30]], np.float32)
    iou = B.box_iou_np(a, b)
    np.testing.assert_allclose(iou[0], [1.0, 25 / 175, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(iou[1], 0.0)  # degenerate box: no NaN


def test_box_iou_tf_matches_numpy():
    rng = np.random.default_rng(0)
    a, b = random_boxes(rng, 50), random_boxes(rng, 30)
    np.testing.assert_allclose(B.box_iou_tf(a, b).numpy(), B.box_iou_np(a, b), atol=1e-6)
    batch_a = np.stack([a, a[::-1]])
    batch_b = np.stack([b, b[::-1]])
    got = B.box_iou_tf(batch_a, batch_b).numpy()
    assert got.shape == (2, 50, 30)
    np.testing.assert_allclose(got[1], B.box_iou_np(a[::-1], b[::-1]), atol=1e-6)


def test_encode_apply_round_trip_and_tf():
    rng = np.random.default_rng(1)
    boxes, gt = random_boxes(rng, 40), random_boxes(rng, 40)
    deltas = B.encode_deltas_np(boxes, gt)
    np.testing.assert_allclose(B.apply_deltas_np(boxes, deltas), gt, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(B.encode_deltas_tf(boxes, gt).numpy(), deltas, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        B.apply_deltas_tf(boxes, deltas).numpy(), B.apply_deltas_np(boxes, deltas), atol=1e-3
    )
    # identical boxes encode to zero
    np.testing.assert_allclose(B.encode_deltas_np(boxes, boxes), 0.0, atol=1e-6)


def test_encode_known_value():
    d = B.encode_deltas_np([[0, 0, 10, 20]], [[5, 0, 25, 20]])
    np.testing.assert_allclose(d, [[1.0, 0.0, np.log(2.0), 0.0]], rtol=1e-6)


def test_clip_boxes_np_tf():
    rng = np.random.default_rng(2)
    boxes = random_boxes(rng, 30, lo=-50, hi=150)
    window = np.array([10, 20, 90, 80], np.float32)
    clipped = B.clip_boxes_np(boxes, window)
    assert (clipped[:, [0, 2]] >= 10).all() and (clipped[:, [0, 2]] <= 90).all()
    assert (clipped[:, [1, 3]] >= 20).all() and (clipped[:, [1, 3]] <= 80).all()
    np.testing.assert_allclose(B.clip_boxes_tf(boxes, window).numpy(), clipped)
    # per-image windows broadcast over [B, N, 4]
    batch = np.stack([boxes, boxes])
    windows = np.array([[[0, 0, 50, 50]], [[10, 20, 90, 80]]], np.float32)
    got = B.clip_boxes_tf(batch, windows).numpy()
    np.testing.assert_allclose(got[1], clipped)
    np.testing.assert_allclose(got[0], B.clip_boxes_np(boxes, [0, 0, 50, 50]))


def test_norm_denorm_round_trip():
    shape = (480, 640)
    px = np.array([[0, 0, 480, 640], [10, 20, 30, 50]], np.int32)
    n = B.norm_boxes(px, shape)
    np.testing.assert_allclose(n[0], [0, 0, 1, 1])
    np.testing.assert_array_equal(B.denorm_boxes(n, shape), px)
    np.testing.assert_allclose(B.norm_boxes_tf(px, shape).numpy(), n, rtol=1e-6)
    np.testing.assert_array_equal(B.denorm_boxes_tf(n, shape).numpy(), px)


@pytest.mark.parametrize(
    ("shape", "px"),
    [((1, 640), [[0, 0, 1, 640], [0, 20, 1, 50]]), ((480, 1), [[0, 0, 480, 1], [10, 0, 30, 1]])],
)
def test_norm_denorm_of_a_one_pixel_side(shape, px):
    """A 1 px side has no h - 1 to divide by; its one box, the whole side, is (0, 1) there too."""
    px = np.array(px, np.int32)
    n = B.norm_boxes(px, shape)
    np.testing.assert_allclose(n[0], [0, 0, 1, 1])
    np.testing.assert_array_equal(B.denorm_boxes(n, shape), px)
    np.testing.assert_allclose(B.norm_boxes_tf(px, shape).numpy(), n, rtol=1e-6)
    np.testing.assert_array_equal(B.denorm_boxes_tf(n, shape).numpy(), px)


def test_extract_bboxes():
    masks = np.zeros((20, 30, 3), bool)
    masks[2:5, 7:11, 0] = True
    masks[0, 29, 2] = True
    boxes = B.extract_bboxes(masks)
    assert boxes.dtype == np.int32
    np.testing.assert_array_equal(boxes, [[2, 7, 5, 11], [0, 0, 0, 0], [0, 29, 1, 30]])
    assert B.extract_bboxes(np.zeros((4, 4, 0), bool)).shape == (0, 4)
    with pytest.raises(ValueError, match="H, W, N"):
        B.extract_bboxes(np.zeros((4, 4), bool))


def test_extract_bboxes_random_against_loop():
    rng = np.random.default_rng(3)
    masks = rng.random((25, 35, 6)) > 0.97
    boxes = B.extract_bboxes(masks)
    for i in range(6):
        ys, xs = np.nonzero(masks[:, :, i])
        expected = [ys.min(), xs.min(), ys.max() + 1, xs.max() + 1] if len(ys) else [0] * 4
        np.testing.assert_array_equal(boxes[i], expected)


def test_extract_bboxes_matches_brute_force():
    rng = np.random.default_rng(0)
    masks = rng.random((20, 30, 6)) > 0.97
    masks[..., 2] = False
    boxes = B.extract_bboxes(masks)
    assert boxes.dtype == np.int32 and boxes.shape == (6, 4)
    for k in range(6):
        ys, xs = np.nonzero(masks[..., k])
        expected = (
            [0, 0, 0, 0] if ys.size == 0 else [ys.min(), xs.min(), ys.max() + 1, xs.max() + 1]
        )
        assert boxes[k].tolist() == expected
    assert B.extract_bboxes(np.zeros((4, 5, 0), bool)).shape == (0, 4)
