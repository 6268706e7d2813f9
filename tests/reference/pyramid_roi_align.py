"""Numpy reference of ``fashion_mrcnn.layers.PyramidROIAlign``."""

import numpy as np

from fashion_mrcnn.ops.roi_align import crop_and_resize_np, roi_levels_np


def pyramid_roi_align_np(
    boxes, feature_maps, pool_shape, image_shape, canonical_size: float = 224.0
) -> np.ndarray:
    """Numpy reference of :class:`PyramidROIAlign`.

    boxes: float [B, N, 4] normalised; feature_maps: [P2, P3, P4, P5], each [B, h, w, C];
    pool_shape: (ph, pw); image_shape: (H, W, ...) of the molded image.
    Returns float32 [B, N, ph, pw, C].
    """
    boxes = np.asarray(boxes, dtype=np.float32)
    batch, n = boxes.shape[:2]
    c = feature_maps[0].shape[-1]
    out = np.zeros((batch, n, int(pool_shape[0]), int(pool_shape[1]), c), dtype=np.float32)
    levels = roi_levels_np(boxes, image_shape, canonical_size)
    for b in range(batch):
        for i in range(n):
            fm = np.asarray(feature_maps[levels[b, i] - 2][b])
            out[b, i] = crop_and_resize_np(fm, boxes[b, i : i + 1], pool_shape)[0]
    return out
