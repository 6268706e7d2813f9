"""ops.anchors: counts, order (y, x, ratio), centres, areas, caching."""

import numpy as np

from fashion_mrcnn.config import Config
from fashion_mrcnn.ops import anchors as A


def test_generate_anchors_order_and_geometry():
    a = A.generate_anchors(32, [0.5, 1, 2], (2, 3), 16, 1)
    assert a.shape == (2 * 3 * 3, 4) and a.dtype == np.float32
    centres = np.stack([(a[:, 0] + a[:, 2]) / 2, (a[:, 1] + a[:, 3]) / 2], axis=1)
    # ratios fastest, then x, then y
    np.testing.assert_allclose(centres[:3], [[0, 0]] * 3)
    np.testing.assert_allclose(centres[3], [0, 16])
    np.testing.assert_allclose(centres[9], [16, 0])
    h = a[:, 2] - a[:, 0]
    w = a[:, 3] - a[:, 1]
    np.testing.assert_allclose(h * w, 32 * 32, rtol=1e-5)
    np.testing.assert_allclose((w / h)[:3], [0.5, 1, 2], rtol=1e-5)


def test_anchor_stride():
    a = A.generate_anchors(32, [1], (4, 4), 8, 2)
    assert a.shape == (4, 4)
    centres = (a[:, :2] + a[:, 2:]) / 2
    np.testing.assert_allclose(centres, [[0, 0], [0, 16], [16, 0], [16, 16]])


def test_backbone_shapes_and_pyramid_count():
    shapes = A.compute_backbone_shapes((1024, 1024, 3), [4, 8, 16, 32, 64])
    np.testing.assert_array_equal(shapes[:, 0], [256, 128, 64, 32, 16])
    np.testing.assert_array_equal(A.compute_backbone_shapes((100, 130), [64]), [[2, 3]])
    anchors = A.get_anchors(
        (1024, 1024, 3), (32, 64, 128, 256, 512), [0.5, 1, 2], [4, 8, 16, 32, 64]
    )
    assert anchors.shape == (261888, 4)  # Matterport's count for 1024^2


def test_get_anchors_normalised_cached_copy():
    c = Config.preset("cpu-smoke")
    a = A.get_anchors_for_config(c)
    px = A.get_anchors_for_config(c, normalized=False)
    h, w = c.IMAGE_SHAPE[:2]
    np.testing.assert_allclose(
        a * [h - 1, w - 1, h - 1, w - 1] + [0, 0, 1, 1], px, rtol=1e-5, atol=1e-3
    )
    a[0] = 99  # callers get a copy: the cache is not corrupted
    assert not np.allclose(A.get_anchors_for_config(c)[0], 99)
    levels = A.generate_pyramid_anchors(
        c.RPN_ANCHOR_SCALES,
        c.RPN_ANCHOR_RATIOS,
        A.compute_backbone_shapes(c.IMAGE_SHAPE, c.BACKBONE_STRIDES),
        c.BACKBONE_STRIDES,
        1,
    )
    np.testing.assert_allclose(px, levels)
