"""Which garment the page means (``app/selection.py``): duplicate guesses of one region are
merged under the best one, and the main garment is the best of score x sqrt(area)."""

from __future__ import annotations

import numpy as np

from fashion_mrcnn.app import selection


def _masks(shape, boxes):
    masks = np.zeros((*shape, len(boxes)), bool)
    for k, (y1, x1, y2, x2) in enumerate(boxes):
        masks[y1:y2, x1:x2, k] = True
    return masks


def test_mask_iou_on_the_grid_matches_the_full_resolution_iou():
    masks = _masks((640, 480), [(0, 0, 320, 480), (160, 0, 480, 480), (600, 400, 640, 480)])
    iou = selection.mask_iou(masks)
    flat = masks.reshape(-1, 3).astype(float)
    inter = flat.T @ flat
    exact = inter / (np.diag(inter)[:, None] + np.diag(inter)[None] - inter)
    np.testing.assert_allclose(iou, exact, atol=0.02)
    assert iou.shape == (3, 3) and abs(iou[0, 1] - 1 / 3) < 0.02


def test_another_guess_for_the_same_region_points_to_the_best_guess():
    # a dress (0.8), a top on nearly its pixels (0.55), a skirt inside it (0.6, IoU 0.45),
    # a second top over the top (0.5: a chain, resolved to the dress), a shoe apart (0.95)
    boxes = [
        (20, 30, 90, 70),
        (55, 32, 90, 68),
        (20, 30, 80, 70),
        (20, 30, 78, 70),
        (92, 35, 99, 45),
    ]
    masks = _masks((100, 100), boxes)
    scores = [0.8, 0.6, 0.55, 0.5, 0.95]
    assert selection.duplicates(masks, scores) == [-1, -1, 0, 0, -1]
    # the rule is about regions, not classes or order: the best guess may come later
    assert selection.duplicates(masks, [0.5, 0.6, 0.9, 0.4, 0.95]) == [2, -1, -1, 2, -1]


def test_the_main_garment_is_the_best_of_score_times_sqrt_area():
    masks = _masks((100, 100), [(20, 30, 90, 70), (92, 35, 99, 45), (20, 30, 80, 70)])
    scores = np.array([0.8, 0.95, 0.9])
    dup = [-1, -1, 0]  # the 0.9 guess is a duplicate of the dress: never the main garment
    assert selection.main_garment(masks, scores, dup, min_score=0.5) == 0
    # below the minimum score it is not shown, so not selected
    assert selection.main_garment(masks, scores, dup, min_score=0.85) == 1
    assert selection.main_garment(masks, scores, dup, min_score=0.99) == -1
    assert selection.overlap_groups(np.zeros((4, 4, 0), bool), np.zeros(0), 0.5) == {
        "duplicate_of": [],
        "main": -1,
    }
