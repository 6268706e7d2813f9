"""Test-time augmentation and ensembles (``inference.tta``): the merge rule on hand-made passes,
a single pass and a doubled model merging to exactly ``detect``'s output, the mirror pass mapped
back (TTA on an image equals TTA on its mirror image, mirrored), and scale passes sharing the
model's weights. Soft masks (``detect(..., soft_masks=True)``): thresholded at the mask
threshold they are ``detect``'s binary masks, for the model and for the merged passes."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.inference.tta import AugmentedModel, PassDetections, merge_passes, scaled_dims
from fashion_mrcnn.ops.masks import threshold_soft_masks


def _pass(boxes, class_ids, scores, masks=None):
    boxes = np.array(boxes, np.int32).reshape(-1, 4)
    if masks is None:
        masks = np.ones((len(boxes), 4, 4), np.float32)
    return PassDetections(
        boxes, np.array(class_ids, np.int32), np.array(scores, np.float32), np.asarray(masks)
    )


def test_agreeing_passes_vote_boxes_and_average_scores():
    a = _pass([[10, 10, 30, 30]], [1], [0.9])
    b = _pass([[12, 10, 32, 30]], [1], [0.6])
    r = merge_passes([a, b], (64, 64), 0.1, 0.5, 100)
    assert r["class_ids"].tolist() == [1]
    assert r["scores"][0] == pytest.approx(0.75)  # (0.9 + 0.6) / 2
    # score-weighted box: y1 = (0.9 * 10 + 0.6 * 12) / 1.5 = 10.8 -> 11
    assert r["rois"][0].tolist() == [11, 10, 31, 30]
    assert r["masks"].shape == (64, 64, 1)
    assert r["masks"][10:32, 10:30, 0].all() and r["masks"].sum() == 22 * 20


def test_attribute_probabilities_are_the_group_members_mean():
    a = _pass([[10, 10, 30, 30], [40, 40, 60, 60]], [1, 2], [0.9, 0.8])
    a.attributes = np.array([[0.2, 1.0], [0.5, 0.5]], np.float32)
    b = _pass([[11, 10, 30, 30]], [1], [0.7])
    b.attributes = np.array([[0.6, 0.0]], np.float32)
    r = merge_passes([a, b], (64, 64), 0.0, 0.5, 100)
    assert r["class_ids"].tolist() == [1, 2]
    np.testing.assert_allclose(r["attribute_probs"], [[0.4, 0.5], [0.5, 0.5]])
    assert "attribute_probs" not in merge_passes(
        [_pass(*([[1, 1, 9, 9]], [1], [0.9]))], (9, 9), 0, 0.5, 9
    )


def test_one_pass_of_two_is_discounted_and_classes_do_not_merge():
    a = _pass([[10, 10, 30, 30], [40, 40, 60, 60]], [1, 2], [0.9, 0.8])
    b = _pass([[10, 10, 30, 30]], [2], [0.7])  # same box, other class
    r = merge_passes([a, b], (64, 64), 0.3, 0.5, 100)
    assert r["class_ids"].tolist() == [1, 2, 2]
    assert r["scores"].tolist() == pytest.approx([0.45, 0.4, 0.35])
    # the threshold applies to the merged score: 0.45 survives 0.42, 0.4 and 0.35 do not
    r = merge_passes([a, b], (64, 64), 0.42, 0.5, 100)
    assert r["class_ids"].tolist() == [1]


def test_a_pass_votes_once_per_instance():
    a = _pass([[0, 0, 20, 20]], [1], [0.9])
    b = _pass([[0, 0, 20, 21], [0, 0, 20, 19]], [1, 1], [0.3, 0.8])  # two close boxes
    r = merge_passes([a, b], (40, 40), 0.0, 0.5, 100)
    # b's closest box (IoU 0.95 against 0.95 - 1/420) joins a's; its other box stays apart
    assert r["scores"].tolist() == pytest.approx([0.6, 0.4])
    assert r["rois"][0].tolist() == [0, 0, 20, 20]  # (0.9 * 20 + 0.3 * 21) / 1.2 = 20.25


def test_low_overlap_stays_apart_and_max_instances_keeps_the_best():
    a = _pass([[0, 0, 20, 20]], [1], [0.9])
    b = _pass([[0, 12, 20, 32]], [1], [0.8])  # IoU 8/32 = 0.25 < 0.55
    r = merge_passes([a, b], (40, 40), 0.0, 0.5, 100)
    assert len(r["scores"]) == 2
    r = merge_passes([a, b], (40, 40), 0.0, 0.5, 1)
    assert r["scores"].tolist() == pytest.approx([0.45])


def test_masks_are_averaged_before_the_threshold():
    left = np.zeros((8, 8), np.float32)  # the box's own size: no interpolation
    left[:, :4] = 1.0
    right = np.zeros((8, 8), np.float32)
    right[:, 4:] = 0.8
    a = _pass([[0, 0, 8, 8]], [1], [0.9], [left])
    b = _pass([[0, 0, 8, 8]], [1], [0.9], [right])
    # mean is 0.5 on the left half, 0.4 on the right: at 0.5 only the left half is kept
    r = merge_passes([a, b], (8, 8), 0.1, 0.5, 100)
    assert r["masks"][:, :, 0].sum() == 32 and r["masks"][:, :4, 0].all()
    r = merge_passes([a, b], (8, 8), 0.1, 0.3, 100)
    assert r["masks"][:, :, 0].all()
    assert "soft_masks" not in r
    r = merge_passes([a, b], (8, 8), 0.1, 0.5, 100, soft_masks=True)
    soft = r["soft_masks"][:, :, 0]  # the mean before the threshold, in levels of 1/200
    assert soft.dtype == np.uint8 and (soft[:, :4] == 100).all() and (soft[:, 4:] == 80).all()
    np.testing.assert_array_equal(threshold_soft_masks(r["soft_masks"], 0.5), r["masks"])


def test_a_mirrored_pass_is_mapped_back():
    mask = np.zeros((2, 4), np.float32)
    mask[:, 0] = 1.0
    p = _pass([[5, 2, 9, 10]], [3], [0.5], [mask]).flipped(20)
    assert p.boxes.tolist() == [[5, 10, 9, 18]]
    assert p.masks[0][:, 3].tolist() == [1.0, 1.0] and p.masks[0][:, :3].sum() == 0


def test_scaled_input_sizes_round_to_64():
    class Cfg:
        IMAGE_MIN_DIM, IMAGE_MAX_DIM = 512, 512

    assert scaled_dims(Cfg, 1.25) == (640, 640)
    assert scaled_dims(Cfg, 0.8) == (384, 384)  # 409.6 -> 384
    assert scaled_dims(Cfg, 0.1) == (64, 64)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import keras

    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    from tests.model.engine_helpers import smoke_config

    keras.utils.set_random_seed(3)
    cfg = smoke_config(IMAGES_PER_GPU=1, DETECTION_MIN_CONFIDENCE=0.0)
    return MaskRCNN("inference", cfg, tmp_path_factory.mktemp("tta"))


@pytest.fixture(scope="module")
def scene():
    from tests.model.engine_helpers import synthetic_scenes

    image = synthetic_scenes(1, size=128, seed=4)[0][0]
    return np.ascontiguousarray(image[:, :100])  # not square: the mirror moves the padding


def _same(a, b, mask_tolerance=0):
    assert a["class_ids"].tolist() == b["class_ids"].tolist()
    np.testing.assert_allclose(a["scores"], b["scores"], rtol=1e-6)
    np.testing.assert_array_equal(a["rois"], b["rois"])
    assert a["masks"].shape == b["masks"].shape
    assert (a["masks"] != b["masks"]).sum() <= mask_tolerance * a["masks"][..., 0].size


def test_one_pass_and_a_doubled_model_give_detect_exactly(tiny_model, scene):
    plain = tiny_model.detect([scene])[0]
    assert len(plain["scores"]) > 0  # random weights still detect at threshold 0
    _same(AugmentedModel([tiny_model]).detect([scene])[0], plain)
    doubled = AugmentedModel([tiny_model, tiny_model])
    assert doubled.pass_count == 2
    _same(doubled.detect([scene])[0], plain)


def test_soft_masks_at_the_threshold_are_the_binary_masks(tiny_model, scene):
    plain = tiny_model.detect([scene])[0]
    assert sorted(plain) == ["class_ids", "masks", "rois", "scores"]  # the default is unchanged
    soft = tiny_model.detect([scene], soft_masks=True)[0]
    for key in plain:
        np.testing.assert_array_equal(soft[key], plain[key])
    levels = soft["soft_masks"]
    assert levels.dtype == np.uint8 and levels.shape == plain["masks"].shape
    # random weights: probabilities near 0.5, where a rounding slip would show
    assert ((levels > 90) & (levels < 110)).sum() > 100
    np.testing.assert_array_equal(threshold_soft_masks(levels, 0.5), plain["masks"])
    at_03 = tiny_model.detect([scene], mask_threshold=0.3)[0]["masks"]
    np.testing.assert_array_equal(threshold_soft_masks(levels, 0.3), at_03)
    # the merged passes: one pass gives the model's soft masks; the flip's mean thresholds to
    # its binary masks
    one = AugmentedModel([tiny_model]).detect([scene], soft_masks=True)[0]
    np.testing.assert_array_equal(one["soft_masks"], levels)
    flip = AugmentedModel([tiny_model], flip=True).detect([scene], soft_masks=True)[0]
    assert flip["soft_masks"].shape == flip["masks"].shape
    np.testing.assert_array_equal(threshold_soft_masks(flip["soft_masks"], 0.5), flip["masks"])


def test_flip_tta_commutes_with_mirroring_the_image(tiny_model, scene):
    tta = AugmentedModel([tiny_model], flip=True)
    assert tta.pass_count == 2 and tta.describe() == "1 checkpoint x (flip): 2 passes"
    on_image = tta.detect([scene])[0]
    on_mirror = tta.detect([np.ascontiguousarray(scene[:, ::-1])])[0]
    width = scene.shape[1]
    mirrored_back = {
        "class_ids": on_mirror["class_ids"],
        "scores": on_mirror["scores"],
        "rois": np.stack(
            [
                on_mirror["rois"][:, 0],
                width - on_mirror["rois"][:, 3],
                on_mirror["rois"][:, 2],
                width - on_mirror["rois"][:, 1],
            ],
            axis=1,
        ),  # fmt: skip
        "masks": on_mirror["masks"][:, ::-1],
    }
    order_a = np.lexsort((on_image["rois"][:, 1], -on_image["scores"]))
    order_b = np.lexsort((mirrored_back["rois"][:, 1], -mirrored_back["scores"]))
    pick = lambda r, o: {k: (v[..., o] if k == "masks" else v[o]) for k, v in r.items()}  # noqa: E731
    _same(pick(on_image, order_a), pick(mirrored_back, order_b), mask_tolerance=0.002)


def test_scale_passes_share_the_weights(tiny_model, scene):
    tta = AugmentedModel([tiny_model], scales=(1.5,))
    bigger = tta._views[1]
    assert bigger.config.IMAGE_MAX_DIM == 192
    for a, b in zip(tiny_model.keras_model.get_weights(), bigger.keras_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    r = tta.detect([scene])[0]
    assert r["masks"].shape[:2] == scene.shape[:2]
    with pytest.raises(ConfigError, match="TTA scales"):
        AugmentedModel([tiny_model], scales=(1.0,))
    # at 128 px, 1.25 rounds to 128 px (a repeat of the plain view); 1.4 and 1.6 both to 192
    with pytest.raises(ConfigError, match="TTA scale 1.25 gives 128 px .* the model's own size"):
        AugmentedModel([tiny_model], scales=(1.25,))
    with pytest.raises(ConfigError, match="TTA scale 1.6 gives 192 px .* scale 1.4"):
        AugmentedModel([tiny_model], scales=(1.4, 1.6))
    with pytest.raises(ConfigError, match="at least one model"):
        AugmentedModel([])
