"""ops.masks: mini masks round trip, unmold_mask pasting (binary and soft), the soft-mask
levels' thresholds, ROI mask targets numpy vs TF."""

import numpy as np
import pytest

from fashion_mrcnn.ops import masks as M
from fashion_mrcnn.ops.boxes import extract_bboxes, norm_boxes


def test_minimize_expand_round_trip():
    masks = np.zeros((64, 80, 2), bool)
    masks[10:40, 20:60, 0] = True
    masks[5:9, 70:78, 1] = True
    boxes = extract_bboxes(masks)
    mini = M.minimize_mask(boxes, masks, (28, 28))
    assert mini.shape == (28, 28, 2) and mini.dtype == bool and mini.all()
    np.testing.assert_array_equal(M.expand_mask(boxes, mini, masks.shape), masks)
    with pytest.raises(ValueError, match="instance 0"):
        M.minimize_mask(np.zeros((1, 4), int), masks[:, :, :1], (28, 28))


def test_unmold_mask_pastes_and_thresholds():
    m = np.zeros((28, 28), np.float32)
    m[:, :14] = 0.9
    out = M.unmold_mask(m, (10, 20, 30, 60), (50, 70, 3))
    assert out.shape == (50, 70) and out.dtype == bool
    assert out[10:30, 20:40].all() and not out[10:30, 41:60].any()
    assert out.sum() == 20 * 20
    assert not M.unmold_mask(m, (10, 20, 30, 60), (50, 70), threshold=0.95).any()
    # a box reaching past the image is clipped, not an error
    edge = M.unmold_mask(np.ones((28, 28)), (-5, 60, 10, 80), (50, 70))
    assert edge.sum() == 10 * 10
    assert not M.unmold_mask(m, (5, 5, 5, 9), (20, 20)).any()


def test_soft_mask_levels_threshold_as_the_probabilities_do_on_the_grid():
    rng = np.random.default_rng(0)
    grid = np.round(np.arange(0.005, 1.0001, 0.005), 3)
    # random probabilities plus the float32 neighbours of every grid threshold
    near = np.concatenate([np.float32(grid), np.nextafter(np.float32(grid), np.float32(0))])
    p = np.concatenate([rng.random(5000, dtype=np.float32), near, np.float32([0.0, 1.0])])
    levels = M.quantise_probabilities(p)
    assert levels.dtype == np.uint8 and levels.min() == 0 and levels.max() == M.SOFT_MASK_LEVELS
    for t in grid:
        np.testing.assert_array_equal(M.threshold_soft_masks(levels, t), p >= t, err_msg=str(t))
    # between two levels: rounded up to the next one
    np.testing.assert_array_equal(M.threshold_soft_masks(levels, 0.4990), p >= 0.5)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        M.threshold_soft_masks(levels, 0.0)


def test_unmold_soft_mask_is_unmold_mask_before_the_threshold():
    rng = np.random.default_rng(1)
    m = rng.random((28, 28), dtype=np.float32)
    box, shape = (-3, 20, 30, 75), (50, 70)  # past the image's top and right: clipped
    soft = M.unmold_soft_mask(m, box, shape)
    assert soft.dtype == np.uint8 and soft.shape == shape
    assert 0 < soft.max() and not soft[30:].any()  # 0 outside the box
    for t in (0.25, 0.5, 0.75):
        np.testing.assert_array_equal(
            M.threshold_soft_masks(soft, t), M.unmold_mask(m, box, shape, threshold=t)
        )


@pytest.mark.parametrize("use_mini", [True, False])
def test_roi_mask_targets_np_vs_tf(use_mini):
    rng = np.random.default_rng(4)
    h, w = 64, 96
    full = np.zeros((h, w, 3), bool)
    full[5:40, 10:50, 0] = True
    full[30:60, 40:90, 1] = rng.random((30, 50)) > 0.3
    full[0:20, 60:96, 2] = True
    gt_px = extract_bboxes(full)
    gt_norm = norm_boxes(gt_px, (h, w))
    idx = rng.integers(0, 3, 12)
    jitter = rng.uniform(-0.05, 0.05, (12, 4)).astype(np.float32)
    rois = gt_norm[idx] + jitter
    masks = M.minimize_mask(gt_px, full, (56, 56)) if use_mini else full
    np_t = M.roi_mask_targets_np(masks.astype(np.float32), gt_norm, rois, idx, (28, 28), use_mini)
    tf_t = M.roi_mask_targets_tf(masks.astype(np.float32), gt_norm, rois, idx, (28, 28), use_mini)
    assert np_t.shape == (12, 28, 28)
    assert set(np.unique(np_t)) <= {0.0, 1.0}
    # rounding of values within float error of 0.5 may differ; allow a handful of pixels
    assert np.mean(np.abs(tf_t.numpy() - np_t)) < 1e-3
    # an ROI just inside a full-rectangle GT box gives an all-ones target, one beside it zeros
    inside = gt_norm[:1] + np.float32([1e-3, 1e-3, -1e-3, -1e-3])
    exact = M.roi_mask_targets_np(
        masks.astype(np.float32), gt_norm, inside, [0], (28, 28), use_mini
    )
    assert exact.min() == 1.0
    beside = gt_norm[:1] + np.float32([0, 0.5, 0, 0.5])
    away = M.roi_mask_targets_np(masks.astype(np.float32), gt_norm, beside, [0], (28, 28), use_mini)
    assert away[:, :, 20:].max() == 0.0
