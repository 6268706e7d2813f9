"""Instance-mask helpers: mini masks, pasting predicted masks back (binary or soft), mask
targets for ROIs.

Pixel boxes are ``[N, (y1, x1, y2, x2)]`` with y2/x2 exclusive; normalised boxes follow
``ops.boxes.norm_boxes``. Masks are stacked on the last axis, ``[H, W, N]``, like Matterport's.

Soft masks (``detect(..., soft_masks=True)``) keep the mask head's probabilities at the
original image size, quantised to uint8 levels: level ``q = floor(p * SOFT_MASK_LEVELS)``,
0 .. 200, so a level stands for ``p`` in ``[q / 200, (q + 1) / 200)``. uint8 rather than
float16: a quarter of float32's memory and cache size (float16 takes half), and exact at the
thresholds that matter: ``q >= 100`` holds exactly when ``p >= 0.5`` (float16 rounds 0.4999 up to
0.5), so :func:`threshold_soft_masks` at 0.5 gives the binary masks bit for bit; any threshold
that is a multiple of 0.005 (the search's grid) is met exactly, up to the float32 rounding of the
threshold itself, and others round up to the next multiple.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from fashion_mrcnn.ops.roi_align import crop_and_resize_np

#: Soft masks are uint8 levels ``floor(probability * SOFT_MASK_LEVELS)`` (module doc).
SOFT_MASK_LEVELS = 200


def _resize_float(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a float32 [h, w] array to [height, width]."""
    return cv2.resize(
        mask.astype(np.float32), (int(width), int(height)), interpolation=cv2.INTER_LINEAR
    )


def minimize_mask(bbox: np.ndarray, mask: np.ndarray, mini_shape: Sequence[int]) -> np.ndarray:
    """Crop each mask to its box and resize it to ``mini_shape`` (saves memory in training).

    bbox: int [N, 4] pixel boxes (from ``extract_bboxes``); mask: bool [H, W, N];
    mini_shape: (mh, mw). Returns bool [mh, mw, N]. A zero-area box raises ValueError.
    """
    mask = np.asarray(mask)
    n = mask.shape[-1]
    out = np.zeros(tuple(mini_shape[:2]) + (n,), dtype=bool)
    for i in range(n):
        y1, x1, y2, x2 = (int(v) for v in bbox[i][:4])
        if y2 <= y1 or x2 <= x1:
            raise ValueError(f"minimize_mask: instance {i} has an empty box {[y1, x1, y2, x2]}")
        crop = mask[y1:y2, x1:x2, i].astype(np.float32)
        out[:, :, i] = _resize_float(crop, mini_shape[0], mini_shape[1]) >= 0.5
    return out


def expand_mask(bbox: np.ndarray, mini_mask: np.ndarray, image_shape: Sequence[int]) -> np.ndarray:
    """Inverse of :func:`minimize_mask`: bool [mh, mw, N] -> bool [H, W, N] (H, W =
    image_shape[:2]), each mini mask resized into its box."""
    n = mini_mask.shape[-1]
    out = np.zeros(tuple(image_shape[:2]) + (n,), dtype=bool)
    for i in range(n):
        y1, x1, y2, x2 = (int(v) for v in bbox[i][:4])
        if y2 <= y1 or x2 <= x1:
            continue
        m = _resize_float(mini_mask[:, :, i], y2 - y1, x2 - x1) >= 0.5
        out[y1:y2, x1:x2, i] = m
    return out


def unmold_mask(
    mask: np.ndarray,
    bbox: Sequence[int],
    image_shape: Sequence[int],
    threshold: float = 0.5,
) -> np.ndarray:
    """Paste one predicted mask into a full-size image mask.

    mask: float [mh, mw] probabilities (the mask head's output for the detected class);
    bbox: (y1, x1, y2, x2) pixels, y2/x2 exclusive (may reach past the image: clipped);
    image_shape: (H, W[, C]). The mask is resized bilinearly to the box, thresholded at
    ``threshold`` and pasted. Returns bool [H, W].
    """
    return _paste_in_box(mask, bbox, image_shape, lambda p: p >= threshold, bool)


def unmold_soft_mask(mask: np.ndarray, bbox: Sequence[int], image_shape: Sequence[int]):
    """:func:`unmold_mask` before the threshold: the probabilities resized to the box, quantised
    (:func:`quantise_probabilities`) and pasted. Returns uint8 [H, W] soft-mask levels, 0 outside
    the box."""
    return _paste_in_box(mask, bbox, image_shape, quantise_probabilities, np.uint8)


def _paste_in_box(mask, bbox, image_shape, transform, dtype) -> np.ndarray:
    """``transform(box_probabilities(mask, bbox))`` pasted into zeros [H, W] of ``dtype``, the
    box rounded and clipped to the image (an empty box: all zeros)."""
    height, width = int(image_shape[0]), int(image_shape[1])
    out = np.zeros((height, width), dtype=dtype)
    y1, x1, y2, x2 = (int(round(float(v))) for v in bbox[:4])
    if y2 <= y1 or x2 <= x1:
        return out
    m = transform(box_probabilities(mask, (y1, x1, y2, x2)))
    cy1, cx1, cy2, cx2 = max(y1, 0), max(x1, 0), min(y2, height), min(x2, width)
    if cy2 <= cy1 or cx2 <= cx1:
        return out
    out[cy1:cy2, cx1:cx2] = m[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1]
    return out


def quantise_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Probabilities (float, any shape, in [0, 1]) -> uint8 soft-mask levels
    ``floor(p * SOFT_MASK_LEVELS)`` (module doc), same shape."""
    p = np.asarray(probabilities, dtype=np.float64)  # float32 * 200 is exact in float64
    return np.clip(np.floor(p * SOFT_MASK_LEVELS), 0, SOFT_MASK_LEVELS).astype(np.uint8)


def threshold_soft_masks(soft_masks: np.ndarray, threshold: float) -> np.ndarray:
    """Soft masks (uint8 levels, any shape, e.g. [H, W, N]) -> bool masks ``p >= threshold``.

    threshold: in (0, 1]; a threshold between two levels rounds up to the next one (module doc).
    ValueError outside (0, 1]: at 0, the pixels outside the box would be kept too.
    """
    if not 0.0 < float(threshold) <= 1.0:
        raise ValueError(f"a soft-mask threshold must be in (0, 1], got {threshold!r}")
    level = int(np.ceil(round(float(threshold) * SOFT_MASK_LEVELS, 6)))  # 0.3 * 200 = 60.0..01
    return np.asarray(soft_masks) >= level


def box_probabilities(mask: np.ndarray, bbox: Sequence[int]) -> np.ndarray:
    """The mask head's probabilities stretched over their box, before any threshold (what
    :func:`unmold_mask` thresholds and pastes; test-time augmentation averages these).

    mask: float [mh, mw]; bbox: (y1, x1, y2, x2) int pixels, y2/x2 exclusive, y2 > y1 and
    x2 > x1 (not clipped). Returns float32 [y2 - y1, x2 - x1], bilinear.
    """
    y1, x1, y2, x2 = (int(v) for v in bbox[:4])
    return _resize_float(np.asarray(mask, dtype=np.float32), y2 - y1, x2 - x1)


def _roi_boxes_in_mask_frame_np(rois, gt_boxes, use_mini_mask):
    """ROI boxes in the coordinate frame of the mask they crop (normalised)."""
    if not use_mini_mask:
        return rois
    gh = gt_boxes[:, 2] - gt_boxes[:, 0]
    gw = gt_boxes[:, 3] - gt_boxes[:, 1]
    y1 = (rois[:, 0] - gt_boxes[:, 0]) / gh
    x1 = (rois[:, 1] - gt_boxes[:, 1]) / gw
    y2 = (rois[:, 2] - gt_boxes[:, 0]) / gh
    x2 = (rois[:, 3] - gt_boxes[:, 1]) / gw
    return np.stack([y1, x1, y2, x2], axis=1)


def roi_mask_targets_np(
    gt_masks: np.ndarray,
    gt_boxes: np.ndarray,
    rois: np.ndarray,
    roi_gt_index: np.ndarray,
    mask_shape: Sequence[int],
    use_mini_mask: bool,
) -> np.ndarray:
    """Mask targets: each ROI's crop of its matched GT mask, resized to ``mask_shape`` and
    rounded to 0 / 1.

    gt_masks: float [mh, mw, G] (mini masks when ``use_mini_mask``, else full image masks);
    gt_boxes: float [G, 4] normalised GT boxes; rois: float [T, 4] normalised;
    roi_gt_index: int [T] matched GT per ROI. With mini masks, each ROI is first expressed in
    its GT box's frame. Returns float32 [T, MH, MW].
    """
    rois = np.asarray(rois, dtype=np.float32).reshape(-1, 4)
    roi_gt_index = np.asarray(roi_gt_index, dtype=np.int64)
    if len(rois) == 0:
        return np.zeros((0,) + tuple(mask_shape[:2]), dtype=np.float32)
    boxes = _roi_boxes_in_mask_frame_np(rois, np.asarray(gt_boxes)[roi_gt_index], use_mini_mask)
    images = np.transpose(np.asarray(gt_masks, dtype=np.float32), (2, 0, 1))[..., None]
    crops = crop_and_resize_np(images, boxes, mask_shape, box_indices=roi_gt_index)
    return np.round(crops[..., 0]).astype(np.float32)


def roi_mask_targets_tf(
    gt_masks, gt_boxes, rois, roi_gt_index, mask_shape, use_mini_mask, crop="crop_and_resize"
):
    """TensorFlow twin of :func:`roi_mask_targets_np` (same shapes; float32 [T, MH, MW]).

    ``crop``: ``"crop_and_resize"`` (``tf.image.crop_and_resize``) or ``"xla"`` (the same
    bilinear crop by gathers, which XLA compiles: ``ops.roi_align.crop_and_resize_xla``)."""
    import tensorflow as tf

    rois = tf.cast(rois, tf.float32)
    roi_gt_index = tf.cast(roi_gt_index, tf.int32)
    if use_mini_mask:
        g = tf.gather(tf.cast(gt_boxes, tf.float32), roi_gt_index)
        gh = g[:, 2] - g[:, 0]
        gw = g[:, 3] - g[:, 1]
        rois = tf.stack(
            [
                (rois[:, 0] - g[:, 0]) / gh,
                (rois[:, 1] - g[:, 1]) / gw,
                (rois[:, 2] - g[:, 0]) / gh,
                (rois[:, 3] - g[:, 1]) / gw,
            ],
            axis=1,
        )
    images = tf.expand_dims(tf.transpose(tf.cast(gt_masks, tf.float32), [2, 0, 1]), -1)
    size = [int(mask_shape[0]), int(mask_shape[1])]
    if crop == "xla":
        from fashion_mrcnn.ops.roi_align import crop_and_resize_xla

        crops = crop_and_resize_xla(images, rois, roi_gt_index, size)
    elif crop == "crop_and_resize":
        crops = tf.image.crop_and_resize(images, rois, roi_gt_index, size)
    else:
        raise ValueError(f"crop must be 'crop_and_resize' or 'xla', got {crop!r}")
    return tf.round(crops[..., 0])
