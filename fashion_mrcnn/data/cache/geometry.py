"""Cache geometry: resize an image and its masks the way the cache stores them, and map results
on a cached image back to the original image."""

from __future__ import annotations

import numpy as np

from fashion_mrcnn.ops.image import resize_image, resize_mask, resize_masks_nearest


def resize_instances(image: np.ndarray, masks: np.ndarray, image_size: int):
    """Resize an image and its masks the way the cache stores them.

    Args:
        image: uint8 [H, W, 3]. masks: bool [H, W, N]. image_size: side S of the result.

    Returns:
        ``(image uint8 [S, S, 3], masks bool [S, S, N], window (y1, x1, y2, x2), scale)``.
    """
    resized, window, scale, padding, _ = resize_image(
        image, min_dim=image_size, max_dim=image_size, mode="square"
    )
    return resized, resize_mask(masks, scale, padding), tuple(int(v) for v in window), float(scale)


def restore_boxes(boxes: np.ndarray, window, scale: float, original_shape) -> np.ndarray:
    """Map boxes from the cached image back to the original image.

    Args:
        boxes: [N, (y1, x1, y2, x2)] pixels of the cached image (y2 / x2 exclusive).
        window: ``(y1, x1, y2, x2)`` of the image inside the cached one. scale: resize scale.
        original_shape: ``(H, W)`` of the original image.

    Returns:
        float64 [N, (y1, x1, y2, x2)] original-image pixels, clipped to the image.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    shift = np.array([window[0], window[1], window[0], window[1]], dtype=np.float64)
    out = (boxes - shift) / float(scale)
    h, w = original_shape[:2]
    return np.clip(out, 0, [h, w, h, w])


def restore_masks(masks: np.ndarray, window, original_shape) -> np.ndarray:
    """Map masks from the cached image back to the original size.

    Args:
        masks: bool [S, S, N] on the cached image. window: ``(y1, x1, y2, x2)`` of the image
            inside it. original_shape: ``(H, W)``.

    Returns:
        bool [H, W, N]: the window cropped out and resized (nearest neighbour) to ``(H, W)``.
    """
    y1, x1, y2, x2 = (int(v) for v in window)
    crop = np.asarray(masks)[y1:y2, x1:x2]
    return resize_masks_nearest(crop, (int(original_shape[0]), int(original_shape[1])))
