"""Overlap removal: a contested pixel goes to the highest-scoring mask (of its group)."""

from __future__ import annotations

import numpy as np

from fashion_mrcnn.inference.overlaps import remove_overlaps


def _masks(h, w, boxes):
    m = np.zeros((h, w, len(boxes)), dtype=bool)
    for k, (y1, x1, y2, x2) in enumerate(boxes):
        m[y1:y2, x1:x2, k] = True
    return m


def test_remove_overlaps_by_score_all_and_within_class():
    m = _masks(4, 4, [(0, 0, 4, 2), (0, 1, 4, 3), (0, 1, 4, 4)])
    scores = np.array([0.5, 0.9, 0.7])
    out = remove_overlaps(m, scores)
    assert out[:, 1, 1].all() and not out[:, 1, 0].any() and not out[:, 1, 2].any()
    assert out[:, 3, 2].all() and out[:, 2, 2].sum() == 0  # column 2 went to the 0.9 mask
    assert (out.sum(axis=2) <= 1).all()
    grouped = remove_overlaps(m, scores, np.array(["a", "b", "b"]))
    assert grouped[:, 1, 0].all()  # mask 0 alone in group "a": untouched
    assert not (grouped[:, :, 1] & grouped[:, :, 2]).any()
