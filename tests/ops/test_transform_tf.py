"""ops.transform_tf: each TensorFlow twin against its numpy reference in ops.transform / ops.image.

Tolerances: the window, the scale, the image meta, the unmolded boxes and the pasted masks are
equal (masks: no differing pixel on these random inputs); the molded pixels differ by at most
one grey level (tf.image.resize vs cv2's fixed-point bilinear; measured: up to 11 % of the
pixels of a 2x enlargement, under 1 % when shrinking, none without a resize).
"""

import numpy as np
import pytest
import tensorflow as tf

from fashion_mrcnn.ops import resize_tf as RT
from fashion_mrcnn.ops import transform as T
from fashion_mrcnn.ops import transform_tf as TT
from fashion_mrcnn.ops.image import compose_image_meta, scaled_size

MEAN = [123.7, 116.8, 103.9]

# (original h, w), (min_dim, max_dim, min_scale): enlarge 2x, shrink, no resize, a 1 px side,
# an extreme aspect ratio, min_scale winning, a long side capped at a larger max_dim
MOLD_CASES = [
    ((64, 48), (128, 128, 0)),
    ((200, 150), (128, 128, 0)),
    ((60, 150), (128, 128, 0)),
    ((128, 96), (128, 128, 0)),
    ((1, 50), (128, 128, 0)),
    ((500, 3), (128, 128, 0)),
    ((37, 91), (64, 128, 1.5)),
    ((300, 41), (128, 256, 0)),
]


@pytest.mark.parametrize("integer_sizes", [False, True])
@pytest.mark.parametrize(("shape", "dims"), MOLD_CASES)
def test_mold_square_tf_matches_numpy_within_one_grey_level(shape, dims, integer_sizes):
    """Both size rules (float64, as numpy; int32 ratios, for TFLite) give numpy's sizes here."""
    if integer_sizes and dims[2]:
        pytest.skip("the integer sizes take min_scale 0 only")
    rng = np.random.default_rng(sum(shape))
    image = rng.integers(0, 256, shape + (3,), dtype=np.uint8)
    min_dim, max_dim, min_scale = dims
    want, window, scale, _, _ = T.mold(
        image, min_dim=min_dim, max_dim=max_dim, min_scale=min_scale, mode="square", mean_pixel=MEAN
    )
    got, got_window, got_scale = TT.mold_square_tf(
        tf.constant(image), min_dim=min_dim, max_dim=max_dim, min_scale=min_scale, mean_pixel=MEAN,
        integer_sizes=integer_sizes,
    )  # fmt: skip
    assert tuple(got_window.numpy()) == tuple(window)
    assert float(got_scale) == (np.float32(scale) if integer_sizes else scale)
    assert got.shape == want.shape == (max_dim, max_dim, 3)
    diff = np.abs(got.numpy() - want)
    assert diff.max() <= 1.0 + 1e-4
    assert (diff > 0.5).mean() <= 0.15
    y1, x1, y2, x2 = window  # the padding is exactly the mean-subtracted zero
    outside = np.ones((max_dim, max_dim), bool)
    outside[y1:y2, x1:x2] = False
    assert np.array_equal(got.numpy()[outside], want[outside])


def area_taps_reference(n_in: int, n_out: int) -> np.ndarray:
    """Numpy twin of ``area_taps_tf`` as a dense matrix [n_out, n_in] (float64): entry (o, i)
    is the overlap of input pixel ``[i, i + 1)`` with the span ``[o s, (o + 1) s)``, over s."""
    s = n_in / n_out
    low = np.arange(n_out)[:, None] * s
    i = np.arange(n_in)[None, :]
    return np.clip(np.minimum(i + 1, low + s) - np.maximum(i, low), 0, None) / s


# (h, w) -> (out h, out w): integer and fractional factors, no change, a side to 1 px, enlarging
AREA_CASES = [
    ((40, 60), (10, 20)),
    ((97, 53), (31, 40)),
    ((20, 20), (20, 20)),
    ((500, 3), (128, 1)),
    ((7, 9), (16, 11)),
]


@pytest.mark.parametrize(("shape", "size"), AREA_CASES)
def test_resize_area_tf_is_the_area_rule_and_tensorflows_resize_area(shape, size):
    """Against the dense numpy matrices (float64) and ``tf.image.resize(method="area")``, which
    it stands in for: within 2e-3 grey levels of either (float32 span ends and sums of 0..255
    values; measured 7e-4 from the float64 matrices, as ResizeArea's own, and 1e-3 between the
    two, on the 97 -> 31 rows)."""
    rng = np.random.default_rng(shape[0])
    pixels = rng.uniform(0, 255, shape + (3,)).astype(np.float32)
    got = RT.resize_area_tf(tf.constant(pixels), tf.constant(size)).numpy()
    rows, cols = area_taps_reference(shape[0], size[0]), area_taps_reference(shape[1], size[1])
    want = np.einsum("oh,hwc,pw->opc", rows, pixels.astype(np.float64), cols)
    assert got.shape == size + (3,)
    np.testing.assert_allclose(got, want, atol=2e-3, rtol=0)
    tensorflow = tf.image.resize(pixels, size, method="area").numpy()
    np.testing.assert_allclose(got, tensorflow, atol=2e-3, rtol=0)


@pytest.mark.parametrize("dims", [(128, 128), (800, 1024)])
def test_square_size_integer_tf_gives_the_float64_sizes(dims):
    """The int32-ratio sizes equal ``ops.image.scaled_size`` of the float64 scale over a grid of
    sizes with every kind of ratio (both sides up, capped, unchanged, 1 px strips) and exact
    halves (5 x 256 at 128 px: 2.5 rounds to 2)."""
    min_dim, max_dim = dims
    sides = np.array([1, 2, 3, 5, 7, 64, 99, 127, 128, 129, 255, 256, 333, 640, 799, 800, 1023, 1024,
                      1025, 1537, 2999, 4000])  # fmt: skip
    hs, ws = (a.ravel() for a in np.meshgrid(sides, sides, indexing="ij"))
    for h, w in zip(hs.tolist(), ws.tolist(), strict=True):
        scale = float(RT.scale_for_square_tf(h, w, min_dim=min_dim, max_dim=max_dim, min_scale=0))
        size, got_scale, enlarge = RT.square_size_integer_tf(h, w, min_dim=min_dim, max_dim=max_dim)
        assert tuple(size.numpy()) == scaled_size(h, w, scale), (h, w)
        assert bool(enlarge) == (scale > 1) and float(got_scale) == np.float32(scale), (h, w)


def test_compose_image_meta_tf_matches_numpy():
    got = TT.compose_image_meta_tf(
        tf.constant([60, 150, 3]),
        tf.constant([128, 128, 3]),
        tf.constant([38, 0, 89, 128]),
        tf.constant(128 / 150, tf.float64),
        8,
    )
    want = compose_image_meta(
        0, (60, 150, 3), (128, 128, 3), (38, 0, 89, 128), 128 / 150, np.zeros(8)
    )
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize(
    ("original", "window"),
    [((60, 150), (38, 0, 89, 128)), ((64, 48), (0, 16, 128, 112)), ((500, 3), (0, 63, 128, 64))],
)
def test_unmold_boxes_tf_matches_numpy(original, window):
    rng = np.random.default_rng(5)
    boxes = np.sort(rng.uniform(-0.1, 1.1, (200, 2, 2)), axis=1).reshape(200, 4)
    boxes = boxes[:, [0, 2, 1, 3]].astype(np.float32)  # y1 x1 y2 x2, y1 <= y2, x1 <= x2
    want = T.unmold_boxes(boxes, original, (128, 128), window)
    got = TT.unmold_boxes_tf(
        tf.constant(boxes), tf.constant(original), tf.constant([128, 128]), tf.constant(window)
    )
    np.testing.assert_array_equal(got.numpy(), want)


def _random_masks_and_boxes(rng, n, h, w):
    masks = rng.uniform(0, 1, (n, 28, 28)).astype(np.float32)
    y1 = rng.integers(-20, h, n)
    x1 = rng.integers(-20, w, n)
    boxes = np.stack(
        [y1, x1, y1 + rng.integers(1, 90, n), x1 + rng.integers(1, 90, n)], axis=1
    ).astype(np.int32)
    boxes[0] = (10, 10, 10, 30)  # empty box: nothing pasted
    boxes[1] = (h + 5, 3, h + 40, 20)  # wholly below the image
    boxes[2] = (-10, -10, h + 10, w + 10)  # past every edge
    return masks, boxes


PASTES = {"map": TT.paste_masks_tf, "gather": TT.paste_masks_gather_tf}


@pytest.mark.parametrize("paste", sorted(PASTES))
@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_paste_masks_tf_matches_numpy(threshold, paste):
    """Both pastes (per instance by ``tf.map_fn``; all at once by gathers, for TFLite) equal the
    numpy paste pixel for pixel on these random masks and boxes."""
    rng = np.random.default_rng(7)
    h, w = 70, 95
    masks, boxes = _random_masks_and_boxes(rng, 12, h, w)
    want = T.paste_masks(masks, boxes, (h, w), threshold)  # [H, W, N]
    got = PASTES[paste](tf.constant(masks), tf.constant(boxes), tf.constant([h, w]), threshold)
    assert got.dtype == tf.bool and got.shape == (12, h, w)
    np.testing.assert_array_equal(got.numpy(), np.transpose(want, (2, 0, 1)))
    assert want[..., 2].any() and not want[..., 0].any() and not want[..., 1].any()


@pytest.mark.parametrize("paste", sorted(PASTES))
def test_paste_masks_tf_with_no_instance(paste):
    got = PASTES[paste](
        tf.zeros([0, 28, 28]), tf.zeros([0, 4], tf.int32), tf.constant([40, 30]), 0.5
    )
    assert got.shape == (0, 40, 30)


def _random_detections(rng, d, k):
    """detections float32 [d, 6] of random boxes, classes and scores (the last 5 rows padding),
    mrcnn_mask float32 [d, 28, 28, k]."""
    corners = np.sort(rng.uniform(0.2, 0.8, (d, 2, 2)), axis=1).reshape(d, 4)[:, [0, 2, 1, 3]]
    class_ids = rng.integers(0, k, d)
    class_ids[-5:] = 0  # zero padding rows
    scores = rng.uniform(0, 1, d)
    scores[3], class_ids[3] = 0.4, 1  # exactly at min_confidence: kept
    corners[4] = (0.5, 0.5, 0.5, 0.5)  # no extent: dropped
    detections = np.concatenate([corners, class_ids[:, None], scores[:, None]], 1).astype(
        np.float32
    )
    mrcnn_mask = rng.uniform(0, 1, (d, 28, 28, k)).astype(np.float32)
    return detections, mrcnn_mask


def test_unmold_detections_tf_matches_numpy():
    d, k = 30, 5
    detections, mrcnn_mask = _random_detections(np.random.default_rng(11), d, k)
    original, molded, window = (60, 150, 3), (128, 128, 3), (38, 0, 89, 128)
    want = T.unmold_detections(detections, mrcnn_mask, original, molded, window, 0.4, 0.5)
    got = TT.unmold_detections_tf(
        tf.constant(detections),
        tf.constant(mrcnn_mask),
        tf.constant(original),
        tf.constant(molded),
        tf.constant(window),
        0.4,
        0.5,
        with_rows=True,
    )
    assert 0 < len(want[0]) < d - 5
    for g, w in zip(got[:3], want[:3], strict=True):
        np.testing.assert_array_equal(g.numpy(), w)
    np.testing.assert_array_equal(got[3].numpy(), np.transpose(want[3], (2, 0, 1)))
    rows = T.kept_detection_rows(detections, original, molded, window, 0.4)
    assert got[4].dtype == tf.int32
    np.testing.assert_array_equal(got[4].numpy(), rows)
    assert not np.array_equal(rows, np.arange(len(rows)))  # not just the first rows


def test_unmold_batch_tf_matches_numpy_per_image_and_pads():
    rng = np.random.default_rng(13)
    d, k = 30, 5
    images = [_random_detections(rng, d, k) for _ in range(2)]
    images[1][0][:12, 4] = 0  # fewer instances in the second image
    shapes, windows = [(60, 150, 3), (100, 75, 3)], [(38, 0, 89, 128), (0, 16, 128, 112)]
    attrs = rng.uniform(0, 1, (2, d, 3)).astype(np.float32)
    got = TT.unmold_batch_tf(
        tf.constant(np.stack([i[0] for i in images])),
        tf.constant(np.stack([i[1] for i in images])),
        tf.constant(shapes),
        tf.constant([128, 128, 3]),
        tf.constant(windows),
        0.4,
        0.5,
        per_detection={"attr": tf.constant(attrs)},
    )
    got = {key: v.numpy() for key, v in got.items()}
    want = [
        T.unmold_detections(det, masks, shape, (128, 128, 3), window, 0.4, 0.5)
        for (det, masks), shape, window in zip(images, shapes, windows, strict=True)
    ]
    counts = [len(w[0]) for w in want]
    assert counts[0] > counts[1] > 0
    assert list(got["num_detections"]) == counts
    assert got["masks"].dtype == np.uint8 and got["masks"].shape == (2, counts[0], 100, 150)
    for b, w in enumerate(want):
        n, (h, wd) = counts[b], shapes[b][:2]
        np.testing.assert_array_equal(got["boxes"][b, :n], w[0])
        np.testing.assert_array_equal(got["class_ids"][b, :n], w[1])
        np.testing.assert_array_equal(got["scores"][b, :n], w[2])
        np.testing.assert_array_equal(got["masks"][b, :n, :h, :wd], np.transpose(w[3], (2, 0, 1)))
        rows = T.kept_detection_rows(images[b][0], shapes[b], (128, 128, 3), windows[b], 0.4)
        np.testing.assert_array_equal(got["attr"][b, :n], attrs[b, rows])
        # the padding: zero rows after the image's instances, zero mask pixels past its size
        for key in ("boxes", "class_ids", "scores", "masks", "attr"):
            assert not got[key][b, n:].any(), (b, key)
        assert not got["masks"][b, :, h:].any() and not got["masks"][b, :, :, wd:].any()
