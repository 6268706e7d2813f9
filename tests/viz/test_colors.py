"""viz.colors: class colours, mask blending, outlines."""

from __future__ import annotations

import numpy as np

from fashion_mrcnn.viz import colors as C


def test_colors():
    colors = C.random_colors(5)
    assert len(set(colors)) == 5 and all(0 <= c <= 1 for rgb in colors for c in rgb)
    assert C.random_colors(5, seed=3) == C.random_colors(5, seed=3)
    assert C.class_color(7) == C.class_color(7)
    assert len({C.class_color(k) for k in range(46)}) == 46


def test_apply_mask_and_outline():
    image = np.zeros((4, 4, 3), np.uint8)
    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:3] = True
    out = C.apply_mask(image, mask, (1.0, 0.0, 0.0), alpha=0.5)
    assert out[1, 1].tolist() == [128, 0, 0] and out[0, 0].tolist() == [0, 0, 0]
    assert image.sum() == 0  # input untouched
    big = np.zeros((7, 7), bool)
    big[1:6, 1:6] = True
    outline = C.mask_outline(big)
    assert outline.sum() == 16 and not outline[3, 3]
