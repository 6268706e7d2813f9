"""ops.transform: the molded <-> original image mapping, both directions."""

import numpy as np
import pytest

from fashion_mrcnn.data import cache
from fashion_mrcnn.ops import transform as T
from fashion_mrcnn.ops.boxes import denorm_boxes, extract_bboxes, norm_boxes
from fashion_mrcnn.ops.image import parse_image_meta


def test_restore_to_original_coordinates():
    """The cache's frame (square, long side 100) and back: restore_boxes / restore_masks."""
    rng = np.random.default_rng(1)
    h, w = 60, 150
    masks = np.zeros((h, w, 3), bool)
    masks[10:40, 20:90, 0] = True
    masks[0:60, 100:150, 1] = True
    masks[30:31, 5:6, 2] = True
    image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    _, small, window, scale = T.resize_image_and_masks(image, masks, min_dim=100, max_dim=100)
    assert window == (30, 0, 70, 100) and scale == pytest.approx(100 / 150)
    back = T.restore_masks(small, window, (h, w))
    assert back.shape == (h, w, 3)
    for k in (0, 1):  # big shapes come back within a pixel or two of their edges (IoU > 0.9)
        inter = (back[..., k] & masks[..., k]).sum()
        union = (back[..., k] | masks[..., k]).sum()
        assert inter / union > 0.9
    boxes = np.array([[40, 13, 57, 60], [30, 67, 70, 100]])  # cached-image boxes of masks 0, 1
    np.testing.assert_allclose(
        T.restore_boxes(boxes, window, scale, (h, w)),
        [[15, 19.5, 40.5, 90], [0, 100.5, 60, 150]],
    )
    many = np.zeros((100, 100, 150), bool)  # more channels than OpenCV resizes at once
    many[40:60, 10:20, :] = True
    outside = np.array([[20, -5, 80, 110], [25, 10, 35, 50]])  # reaching into the padding
    np.testing.assert_allclose(
        T.restore_boxes(outside, window, scale, (h, w)), [[0, 0, 60, 150], [0, 15, 7.5, 75]]
    )
    assert T.restore_masks(many, window, (h, w))[..., 149].sum() == (
        T.restore_masks(many[..., :1], window, (h, w))[..., 0].sum()
    )
    assert cache.resize_instances(image, masks, 100)[2:] == (window, scale)  # the cache's rule
    # the cache's documented names are these
    assert (cache.restore_boxes, cache.restore_masks) == (T.restore_boxes, T.restore_masks)


# ---------------------------------------------------------------------------- shared inputs
SQUARE = dict(min_dim=128, max_dim=192, min_scale=None, mode="square")
MEAN = np.array([123.7, 116.8, 103.9])


def _gradient(h, w):
    """A deterministic uint8 [h, w, 3] image."""
    y, x = np.mgrid[:h, :w]
    return np.stack([(y * 7 + x * 3) % 256, (x * 5) % 256, (y * 11) % 256], -1).astype(np.uint8)


def _with_box(h, w):
    """A black uint8 [h, w, 3] image with one white box; returns (image, box px)."""
    box = (round(0.2 * h), round(0.3 * w), round(0.7 * h), round(0.9 * w))
    image = np.zeros((h, w, 3), np.uint8)
    image[box[0] : box[2], box[1] : box[3]] = 255
    return image, np.array([box])


# ---------------------------------------------------------------------------- round trips
ROUND_TRIPS = [
    ("square", SQUARE, (97, 131)),  # enlarged, padded left / right
    ("square", SQUARE, (300, 200)),  # shrunk to the long side
    ("square", SQUARE, (40, 400)),  # an odd aspect ratio (shrunk to 19 x 192)
    ("square", SQUARE, (192, 192)),  # already at size: scale 1, no padding
    ("square", SQUARE, (192, 100)),  # already at its long side: scale 1, padded
    ("square-min-scale", dict(SQUARE, min_dim=64, max_dim=256, min_scale=1.5), (97, 131)),
    ("pad64", dict(SQUARE, mode="pad64", max_dim=None), (97, 131)),  # enlarged, padded to 64s
    ("pad64", dict(SQUARE, mode="pad64", max_dim=None), (300, 200)),  # scale 1, padded
    ("pad64", dict(SQUARE, mode="pad64", max_dim=None), (128, 128)),  # already at size
    ("none", dict(SQUARE, mode="none"), (128, 192)),
]


@pytest.mark.parametrize(
    "resize, shape",
    [(r, s) for _, r, s in ROUND_TRIPS],
    ids=[f"{n}-{s}" for n, _, s in ROUND_TRIPS],
)
def test_mold_then_unmold_gives_the_original_box_back(resize, shape):
    image, box = _with_box(*shape)
    molded, window, scale, _, _ = T.mold(image, mean_pixel=MEAN, **resize)
    # the box maps to where the white pixels of the molded image are (within a pixel)
    white = (molded + MEAN > 127).all(axis=2)[..., None]
    found = extract_bboxes(white)
    mapped = T.boxes_to_molded(box, image.shape, molded.shape, window)
    assert np.abs(denorm_boxes(mapped, molded.shape) - found).max() <= 1
    # a detection of that box comes back as the box, its full mask as the box's pixels
    detections = np.concatenate([mapped, [[1, 0.9]]], axis=1).astype(np.float32)
    mask = np.ones((1, 28, 28, 2), np.float32)
    boxes, class_ids, scores, masks = T.unmold_detections(
        detections, mask, image.shape, molded.shape, window, 0.5, 0.5
    )
    assert np.abs(boxes - box).max() <= 1
    assert class_ids.tolist() == [1] and scores.tolist() == [pytest.approx(0.9)]
    np.testing.assert_array_equal(masks[..., 0], image[..., 0] > 0)
    # the box found in the molded image comes back within a pixel of the original (less for an
    # enlarged image, one molded pixel of a shrunk one)
    back = T.unmold_boxes(norm_boxes(found, molded.shape), image.shape, molded.shape, window)
    assert np.abs(back - box).max() <= max(1, np.ceil(1 / scale))


@pytest.mark.parametrize("shape", [(97, 131), (300, 200), (40, 400)])
def test_the_whole_image_unmolds_to_the_whole_image(shape):
    image = _gradient(*shape)
    _, metas, windows = T.mold_inputs([image], mean_pixel=MEAN, num_classes=3, **SQUARE)
    whole = np.array([[0, 0, shape[0], shape[1]]])
    mapped = T.boxes_to_molded(whole, image.shape, (192, 192), windows[0])
    np.testing.assert_allclose(mapped, norm_boxes(windows[:1], (192, 192)), atol=1e-6)
    back = T.unmold_boxes(mapped, image.shape, (192, 192), windows[0])
    np.testing.assert_array_equal(back, whole)
    # the meta row holds the same original shape and window (detect reads them from it)
    meta = parse_image_meta(metas)
    np.testing.assert_array_equal(meta["original_image_shape"][0], image.shape)
    np.testing.assert_array_equal(meta["window"][0], windows[0])


@pytest.mark.parametrize("shape", [(3, 600), (600, 3)])
def test_a_side_resized_to_one_pixel_unmolds_to_the_whole_side(shape):
    """An extreme aspect ratio squeezes one side into a 1 px window: its normalised extent is 0,
    and a detection on it (the graph clips boxes to the window) spans that whole side."""
    image = _gradient(*shape)
    _, _, windows = T.mold_inputs([image], mean_pixel=MEAN, num_classes=3, **SQUARE)
    window = windows[0]
    assert min(window[2] - window[0], window[3] - window[1]) == 1
    whole = np.array([[0, 0, shape[0], shape[1]]])
    mapped = T.boxes_to_molded(whole, image.shape, (192, 192), window)
    np.testing.assert_array_equal(T.unmold_boxes(mapped, image.shape, (192, 192), window), whole)
    long_axis = int(np.argmax(shape))
    quarter = mapped.copy()  # the first quarter of the long side: that side still scales
    quarter[0, 2 + long_axis] = 0.75 * mapped[0, long_axis] + 0.25 * mapped[0, 2 + long_axis]
    expected = whole.copy()
    expected[0, 2 + long_axis] = round(0.25 * (shape[long_axis] - 1) + 1)  # 150.75 -> 151
    back = T.unmold_boxes(quarter, image.shape, (192, 192), window)
    np.testing.assert_array_equal(back, expected)
    detections = np.concatenate([mapped, [[1, 0.9]]], axis=1).astype(np.float32)
    mask = np.ones((1, 28, 28, 2), np.float32)
    boxes, class_ids, _, masks = T.unmold_detections(
        detections, mask, image.shape, (192, 192), window, 0.5, 0.5
    )
    np.testing.assert_array_equal(boxes, whole)
    assert class_ids.tolist() == [1] and masks.shape == (*shape, 1) and masks.all()


@pytest.mark.parametrize("shape", [(1, 600), (600, 1), (1, 40)])
def test_a_one_pixel_original_side_maps_onto_the_whole_window(shape):
    """An original side of 1 px has no (h - 1) to normalise by: the whole image still maps onto
    the molded window (1 px for 1 x 600, 5 px for 1 x 40), and a box on its long side back."""
    image = _gradient(*shape)
    _, _, windows = T.mold_inputs([image], mean_pixel=MEAN, num_classes=3, **SQUARE)
    window = windows[0]
    whole = np.array([[0, 0, *shape]])
    mapped = T.boxes_to_molded(whole, image.shape, (192, 192), window)
    np.testing.assert_array_equal(denorm_boxes(mapped, (192, 192)), [window])
    np.testing.assert_array_equal(T.unmold_boxes(mapped, image.shape, (192, 192), window), whole)
    long_axis = int(np.argmax(shape))
    half = whole.copy()  # the first half of the long side
    half[0, 2 + long_axis] = shape[long_axis] // 2
    mapped = T.boxes_to_molded(half, image.shape, (192, 192), window)
    np.testing.assert_array_equal(T.unmold_boxes(mapped, image.shape, (192, 192), window), half)


def test_resized_masks_unmold_back_onto_their_instances():
    """resize_image_and_masks (training, cache) and restore_masks agree with the image."""
    image, box = _with_box(97, 131)
    masks = (image[..., :1] > 0).copy()
    resized, small, window, scale = T.resize_image_and_masks(image, masks, **SQUARE)
    white = (resized > 127).all(axis=2)[..., None]  # nearest vs bilinear: edges within a pixel
    assert np.abs(extract_bboxes(small) - extract_bboxes(white)).max() <= 1
    restored = T.restore_masks(small, window, image.shape)
    assert restored.shape == masks.shape and np.abs(extract_bboxes(restored) - box).max() <= 1
    np.testing.assert_allclose(
        T.restore_boxes(extract_bboxes(small), window, scale, image.shape), box, atol=1
    )


# ---------------------------------------------------------------------------- the old call sites
# Numbers computed at d3bd617 by the code this module replaced: MaskRCNN.mold_inputs /
# unmold_detections, the app engine's inline box mapping, data.pipeline.load_image_gt's resize
# and data.cache.geometry.resize_instances.


def test_mold_inputs_gives_what_maskrcnn_mold_inputs_gave():
    images = [_gradient(97, 131), _gradient(300, 200)]
    molded, metas, windows = T.mold_inputs(images, mean_pixel=MEAN, num_classes=3, **SQUARE)
    assert molded.shape == (2, 192, 192, 3) and molded.dtype == np.float32
    assert windows.tolist() == [[32, 9, 160, 182], [0, 32, 192, 160]]
    np.testing.assert_allclose(
        metas,
        [
            [0, 97, 131, 3, 192, 192, 3, 32, 9, 160, 182, 1.3195875883102417, 0, 0, 0],
            [0, 300, 200, 3, 192, 192, 3, 0, 32, 192, 160, 0.6399999856948853, 0, 0, 0],
        ],
        rtol=0,
        atol=0,
    )
    np.testing.assert_allclose(
        molded.astype(np.float64).sum(axis=(1, 2, 3)), [-4546989.643051147, -3388297.6455078125]
    )
    np.testing.assert_allclose(molded[0, 100, 100], [-69.7, -28.8, -50.9], atol=1e-4)
    np.testing.assert_allclose(molded[1, 0, 0], -MEAN, atol=1e-4)  # padding: zero minus mean
    with pytest.raises(ValueError, match=r"detect expects RGB images \[H, W, 3\]"):
        T.mold_inputs([images[0][..., 0]], mean_pixel=MEAN, num_classes=3, **SQUARE)
    with pytest.raises(ValueError, match="molded images differ in shape"):
        T.mold_inputs(images, mean_pixel=MEAN, num_classes=3, **dict(SQUARE, mode="pad64"))


#: [D, (y1, x1, y2, x2, class_id, score)] normalised on the 192 x 192 molding of a 97 x 131 image
DETECTIONS = np.array(
    [
        [0.30, 0.25, 0.60, 0.70, 1, 0.95],
        [0.40, 0.40, 0.50, 0.50, 2, 0.50],  # a low score
        [0.10, 0.00, 0.45, 0.30, 2, 0.80],  # reaches into the padding
        [0, 0, 0, 0, 0, 0],  # a padding row
    ],
    np.float32,
)


def _mrcnn_mask():
    mask = np.zeros((4, 28, 28, 3), np.float32)
    mask[:, 4:24, 6:20, :] = 0.9
    mask[:, :, :, 2] *= 0.5  # class 2: 0.45
    return mask


@pytest.mark.parametrize(
    "min_confidence, mask_threshold, boxes, class_ids, scores, areas, mask_boxes",
    [
        (
            0.7,  # Config's DETECTION_MIN_CONFIDENCE / MASK_THRESHOLD
            0.5,
            [[19, 29, 63, 95], [-10, -7, 42, 38]],
            [1, 2],
            [0.95, 0.8],
            [1052, 0],
            [[25, 43, 57, 76], [0, 0, 0, 0]],
        ),
        (
            0.3,
            0.4,
            [[19, 29, 63, 95], [34, 51, 49, 66], [-10, -7, 42, 38]],
            [1, 2, 2],
            [0.95, 0.5, 0.8],
            [1054, 88, 748],
            [[25, 43, 57, 76], [36, 54, 47, 62], [0, 3, 34, 25]],
        ),
    ],
)
def test_unmold_detections_gives_what_maskrcnn_unmold_detections_gave(
    min_confidence, mask_threshold, boxes, class_ids, scores, areas, mask_boxes
):
    out = T.unmold_detections(
        DETECTIONS, _mrcnn_mask(), (97, 131, 3), (192, 192, 3), (32, 9, 160, 182),
        min_confidence, mask_threshold,
    )  # fmt: skip
    rois, ids, got_scores, masks = out
    assert rois.dtype == np.int32 and ids.dtype == np.int32 and got_scores.dtype == np.float32
    assert rois.tolist() == boxes and ids.tolist() == class_ids
    np.testing.assert_allclose(got_scores, scores, rtol=1e-6)
    assert masks.shape == (97, 131, len(boxes)) and masks.dtype == bool
    assert masks.sum(axis=(0, 1)).tolist() == areas
    assert extract_bboxes(masks).tolist() == mask_boxes


def test_unmold_detections_keeps_scores_and_mask_values_at_the_threshold_drops_empty_boxes():
    detections = np.array(
        [
            [0.30, 0.25, 0.60, 0.70, 1, 0.5],  # a score at min_confidence: kept
            [0.50, 0.50, 0.45, 0.60, 1, 0.9],  # inverted: no height once unmolded, dropped
            [0.50, 0.50, 0.50, 0.50, 2, 0.9],  # a point: one pixel once unmolded, kept
            [0.30, 0.25, 0.60, 0.70, 1, 0.4999],  # just below min_confidence
            [0.30, 0.25, 0.60, 0.70, 0, 0.9],  # background: dropped whatever its score
        ],
        np.float32,
    )
    mask = np.full((5, 28, 28, 3), 0.6, np.float32)  # at mask_threshold: inside the mask
    rois, ids, scores, masks = T.unmold_detections(
        detections, mask, (97, 131, 3), (192, 192, 3), (32, 9, 160, 182), 0.5, 0.6
    )
    assert rois.tolist() == [[19, 29, 63, 95], [48, 65, 49, 66]] and ids.tolist() == [1, 2]
    np.testing.assert_allclose(scores, [0.5, 0.9], rtol=1e-6)
    assert masks.shape == (97, 131, 2) and masks.sum(axis=(0, 1)).tolist() == [44 * 66, 1]


def test_boxes_to_molded_gives_what_the_app_engine_computed():
    boxes = np.array([[10, 20, 60, 100], [0, 0, 97, 131]])
    mapped = T.boxes_to_molded(boxes, (97, 131, 3), (192, 192, 3), (32, 9, 160, 182))
    assert mapped.dtype == np.float32
    np.testing.assert_allclose(
        mapped,
        [
            [0.23680192232131958, 0.18566252291202545, 0.5761889219284058, 0.7329037189483643],
            [0.16753926873207092, 0.04712041839957237, 0.8324607610702515, 0.9476439952850342],
        ],
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "resize, seed, shape, window, scale, boxes, areas, pixel_sum",
    [
        (SQUARE, None, (192, 192, 3), (57, 0, 134, 192), 1.28,
         [[70, 26, 109, 116], [122, 180, 134, 192]], [3510, 144], 5452813),
        (dict(SQUARE, mode="pad64", max_dim=None), None, (128, 320, 3), (0, 0, 128, 320),
         2.1333333333333333, [[22, 43, 86, 192], [107, 299, 128, 320]], [9536, 441], 15113460),
        (dict(SQUARE, mode="crop", min_dim=64, max_dim=None), 3, (64, 64, 3), (0, 0, 64, 64),
         1.0666666666666667, [[11, 0, 43, 18], [0, 0, 0, 0]], [576, 0], 1521313),
        (dict(SQUARE, mode="none"), None, (60, 150, 3), (0, 0, 60, 150), 1.0,
         [[10, 20, 40, 90], [50, 140, 60, 150]], [2100, 100], 3324440),
        (dict(SQUARE, min_dim=32, max_dim=64, min_scale=2.0), None, (64, 64, 3), (19, 0, 45, 64),
         0.4266666666666667, [[24, 9, 37, 39], [41, 60, 45, 64]], [390, 16], 614797),
        (dict(SQUARE, min_dim=100, max_dim=100), None, (100, 100, 3), (30, 0, 70, 100),
         0.6666666666666666, [[37, 14, 57, 60], [64, 94, 70, 100]], None, None),  # the cache's
    ],
    ids=["square", "pad64", "crop", "none", "min-scale", "cache"],
)  # fmt: skip
def test_resize_image_and_masks_gives_what_the_pipeline_and_the_cache_gave(
    resize, seed, shape, window, scale, boxes, areas, pixel_sum
):
    masks = np.zeros((60, 150, 2), bool)
    masks[10:40, 20:90, 0] = True
    masks[50:60, 140:150, 1] = True
    rng = np.random.default_rng(seed) if seed is not None else None
    image, small, got_window, got_scale = T.resize_image_and_masks(
        _gradient(60, 150), masks, rng=rng, **resize
    )
    assert image.shape == shape and image.dtype == np.uint8 and small.dtype == bool
    assert got_window == window and all(type(v) is int for v in got_window)
    assert type(got_scale) is float and got_scale == pytest.approx(scale, rel=1e-12)
    assert extract_bboxes(small).tolist() == boxes
    if areas is not None:
        assert small.sum(axis=(0, 1)).tolist() == areas
        assert int(image.astype(np.int64).sum()) == pixel_sum
