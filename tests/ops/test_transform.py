"""ops.transform: the molded <-> original image mapping, both directions."""

import numpy as np
import pytest

from fashion_mrcnn.data import cache
from fashion_mrcnn.ops import transform as T


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
    assert T.restore_masks(many, window, (h, w))[..., 149].sum() == (
        T.restore_masks(many[..., :1], window, (h, w))[..., 0].sum()
    )
    # the cache's documented names are these
    assert (cache.restore_boxes, cache.restore_masks) == (T.restore_boxes, T.restore_masks)
