"""data.pipeline: load_image_gt (resize, augmentation contract, emptied instances, box-only,
MAX_GT_INSTANCES) and the tf.data batches (shapes, dtypes, padding, determinism)."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_mrcnn.config import Config
from fashion_mrcnn.data.pipeline import INPUT_NAMES, load_image_gt, make_dataset
from fashion_mrcnn.ops.boxes import extract_bboxes


class _Dataset:
    """In-memory Matterport-style dataset: scenes of (image, masks, class_ids[, box_only])."""

    def __init__(self, scenes, num_classes=4):
        self.scenes = scenes
        self.num_classes = num_classes
        self.image_ids = np.arange(len(scenes))
        self.image_info = [{"source": "toy"} for _ in scenes]
        self.source_class_ids = {"toy": [0, 1, 2]}  # class 3 is not active for this source

    def load_image(self, i):
        return self.scenes[i][0]

    def load_instances(self, i):
        s = self.scenes[i]
        box_only = s[3] if len(s) > 3 else np.zeros(len(s[2]), bool)
        return {"masks": s[1], "class_ids": s[2], "box_only": box_only, "attribute_ids": []}

    def image_reference(self, i):
        return f"toy {i}"


def _scene(h, w, boxes, class_ids, box_only=None, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    masks = np.zeros((h, w, len(boxes)), bool)
    for k, (y1, x1, y2, x2) in enumerate(boxes):
        masks[y1:y2, x1:x2, k] = True
    out = (image, masks, np.asarray(class_ids, np.int32))
    return out + (np.asarray(box_only, bool),) if box_only is not None else out


def _config(**kw):
    base = {
        "NUM_CLASSES": 4,
        "IMAGE_MIN_DIM": 128,
        "IMAGE_MAX_DIM": 128,
        "MAX_GT_INSTANCES": 5,
        "MINI_MASK_SHAPE": (28, 28),
        "IMAGES_PER_GPU": 2,
        "BACKBONE": "resnet50",
        "RPN_ANCHOR_SCALES": (8, 16, 32, 64, 128),
        "RPN_TRAIN_ANCHORS_PER_IMAGE": 64,
    }
    base.update(kw)
    return Config(**base)


def test_load_image_gt_resizes_boxes_and_meta():
    ds = _Dataset([_scene(64, 32, [(0, 0, 32, 16), (40, 10, 64, 30)], [1, 2])])
    image, meta, class_ids, boxes, masks, valid = load_image_gt(ds, _config(USE_MINI_MASK=False), 0)
    assert image.shape == (128, 128, 3) and image.dtype == np.uint8
    # scale 2 (64 -> 128 tall), width 32 -> 64 centred: x offset 32
    np.testing.assert_array_equal(boxes, [[0, 32, 64, 64], [80, 52, 128, 92]])
    np.testing.assert_array_equal(extract_bboxes(masks), boxes)
    np.testing.assert_array_equal(class_ids, [1, 2])
    np.testing.assert_array_equal(valid, [1, 1])
    assert meta.shape == (12 + 4,)
    np.testing.assert_array_equal(meta[1:4], [64, 32, 3])
    np.testing.assert_array_equal(meta[7:11], [0, 32, 128, 96])  # window
    np.testing.assert_array_equal(meta[12:], [1, 1, 1, 0])  # active classes of source "toy"


def test_mini_masks_and_box_only_flag():
    ds = _Dataset([_scene(128, 128, [(10, 10, 50, 90), (60, 60, 100, 70)], [1, 3], [False, True])])
    _, _, class_ids, boxes, masks, valid = load_image_gt(ds, _config(), 0)
    assert masks.shape == (28, 28, 2) and masks.all()  # rectangles fill their boxes
    np.testing.assert_array_equal(valid, [1.0, 0.0])
    np.testing.assert_array_equal(class_ids, [1, 3])


def test_augmentation_keep_and_emptied_instances():
    ds = _Dataset(
        [
            _scene(
                128,
                128,
                [(0, 0, 20, 20), (50, 50, 90, 90), (100, 0, 120, 5)],
                [1, 2, 3],
                [False, True, False],
            )
        ]
    )

    def drop_first(image, masks, rng):
        # contract: returns (image, masks, keep); also empties the last instance's mask
        masks = masks[:, :, 1:].copy()
        masks[:, :, -1] = False
        return image[:, ::-1], masks[:, ::-1], np.array([1, 2])

    _, _, class_ids, boxes, masks, valid = load_image_gt(
        ds, _config(), 0, augmentation=drop_first, rng=np.random.default_rng(0)
    )
    np.testing.assert_array_equal(class_ids, [2])  # 1 dropped by keep, 3 emptied
    np.testing.assert_array_equal(valid, [0.0])  # box-only flag followed keep
    np.testing.assert_array_equal(boxes, [[50, 38, 90, 78]])  # flipped horizontally


def test_max_gt_instances_subsample_and_zero_instances():
    boxes = [(i * 10, 0, i * 10 + 8, 8) for i in range(9)]
    ds = _Dataset([_scene(128, 128, boxes, [1] * 9), _scene(128, 128, [], [])])
    cfg = _config(MAX_GT_INSTANCES=4)
    _, _, class_ids, b, masks, valid = load_image_gt(ds, cfg, 0, rng=np.random.default_rng(1))
    assert len(class_ids) == 4 and masks.shape[-1] == 4 and len(valid) == 4
    assert np.all(np.diff(b[:, 0]) > 0)  # kept in original order
    image, _, class_ids, b, masks, valid = load_image_gt(ds, cfg, 1)
    assert class_ids.shape == (0,) and b.shape == (0, 4) and masks.shape == (28, 28, 0)


def test_bad_masks_name_the_image():
    image, masks, ids = _scene(64, 64, [(0, 0, 8, 8)], [1])
    ds = _Dataset([(image, masks[:32], ids)])
    with pytest.raises(ValueError, match="image 0"):
        load_image_gt(ds, _config(), 0)


def _batches(ds, cfg, seed, n=2, augmentation=None):
    it = iter(make_dataset(ds, cfg, shuffle=True, augmentation=augmentation, seed=seed))
    return [next(it)[0] for _ in range(n)]


def test_make_dataset_shapes_padding_and_determinism():
    scenes = [
        _scene(128, 96, [(5, 5, 60, 60), (70, 20, 120, 80)], [1, 2], seed=s) for s in range(3)
    ]
    scenes.append(_scene(128, 128, [], []))
    ds = _Dataset(scenes)
    cfg = _config()

    def jitter(image, masks, rng):
        shift = int(rng.integers(0, 8))
        return np.roll(image, shift, 1), np.roll(masks, shift, 1), np.arange(masks.shape[-1])

    a = _batches(ds, cfg, seed=3, augmentation=jitter)
    b = _batches(ds, cfg, seed=3, augmentation=jitter)
    c = _batches(ds, cfg, seed=4, augmentation=jitter)
    batch = a[0]
    assert set(batch) == set(INPUT_NAMES)
    assert tuple(batch["input_image"].shape) == (2, 128, 128, 3)
    assert batch["input_gt_masks"].dtype.name == "uint8"
    assert tuple(batch["input_gt_masks"].shape) == (2, 28, 28, 5)
    assert tuple(batch["input_gt_boxes"].shape) == (2, 5, 4)
    assert tuple(batch["input_rpn_bbox"].shape) == (2, 64, 4)
    ids = batch["input_gt_class_ids"].numpy()
    assert ids.shape == (2, 5) and (ids[:, 2:] == 0).all()  # padding
    boxes = batch["input_gt_boxes"].numpy()
    assert boxes.min() >= 0 and boxes.max() <= 1  # normalised
    for x, y in zip(a, b):
        for k in INPUT_NAMES:
            np.testing.assert_array_equal(x[k].numpy(), y[k].numpy())
    assert any(
        not np.array_equal(x["input_image"].numpy(), y["input_image"].numpy()) for x, y in zip(a, c)
    )
    # every image appears, the zero-instance one included (4 images in 2 batches)
    metas = np.concatenate([x["input_image_meta"].numpy()[:, 0] for x in a])
    assert sorted(metas.astype(int).tolist()) == [0, 1, 2, 3]
