"""Box arithmetic: IoU, delta encoding / decoding, clipping, normalisation, boxes from masks.

Boxes are ``[..., (y1, x1, y2, x2)]``. In pixels y2/x2 are exclusive (a box ``(0, 0, 2, 3)``
covers 2 x 3 pixels); normalised boxes use Matterport's shift convention (see ``norm_boxes``).
Heights and widths are ``y2 - y1`` and ``x2 - x1`` in either system.

Every TensorFlow function (``*_tf``) has a numpy twin (``*_np``) with the same maths; TensorFlow
is imported lazily so the numpy half of this module stays cheap to import.
"""

from __future__ import annotations

import numpy as np


def box_iou_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between two sets of boxes.

    a: [..., N, 4], b: [..., M, 4] (same coordinate system, leading dims broadcast).
    Returns float32 [..., N, M]; 0 where the union is empty.
    """
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    ay1, ax1, ay2, ax2 = (a[..., :, None, i] for i in range(4))
    by1, bx1, by2, bx2 = (b[..., None, :, i] for i in range(4))
    ih = np.maximum(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0)
    iw = np.maximum(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0)
    inter = ih * iw
    union = (ay2 - ay1) * (ax2 - ax1) + (by2 - by1) * (bx2 - bx1) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0)
    return iou.astype(np.float32)


def box_iou_tf(a, b):
    """TensorFlow twin of :func:`box_iou_np`: a [..., N, 4], b [..., M, 4] -> float32 [..., N, M]."""
    import tensorflow as tf

    a = tf.cast(a, tf.float32)
    b = tf.cast(b, tf.float32)
    ay1, ax1, ay2, ax2 = (a[..., :, None, i] for i in range(4))
    by1, bx1, by2, bx2 = (b[..., None, :, i] for i in range(4))
    ih = tf.maximum(tf.minimum(ay2, by2) - tf.maximum(ay1, by1), 0.0)
    iw = tf.maximum(tf.minimum(ax2, bx2) - tf.maximum(ax1, bx1), 0.0)
    inter = ih * iw
    union = (ay2 - ay1) * (ax2 - ax1) + (by2 - by1) * (bx2 - bx1) - inter
    return tf.math.divide_no_nan(inter, tf.maximum(union, 0.0))


def encode_deltas_np(boxes: np.ndarray, gt_boxes: np.ndarray) -> np.ndarray:
    """Deltas that turn ``boxes`` into ``gt_boxes``: [..., (dy, dx, log(dh), log(dw))].

    boxes, gt_boxes: [..., 4] of positive height and width. dy, dx are the centre shifts in units
    of the box height / width. Returns float32 [..., 4] (not divided by any std dev).
    """
    boxes = np.asarray(boxes, dtype=np.float32)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float32)
    h = boxes[..., 2] - boxes[..., 0]
    w = boxes[..., 3] - boxes[..., 1]
    cy = boxes[..., 0] + 0.5 * h
    cx = boxes[..., 1] + 0.5 * w
    gh = gt_boxes[..., 2] - gt_boxes[..., 0]
    gw = gt_boxes[..., 3] - gt_boxes[..., 1]
    gcy = gt_boxes[..., 0] + 0.5 * gh
    gcx = gt_boxes[..., 1] + 0.5 * gw
    out = np.stack([(gcy - cy) / h, (gcx - cx) / w, np.log(gh / h), np.log(gw / w)], axis=-1)
    return out.astype(np.float32)


def encode_deltas_tf(boxes, gt_boxes):
    """TensorFlow twin of :func:`encode_deltas_np`: [..., 4], [..., 4] -> float32 [..., 4]."""
    import tensorflow as tf

    boxes = tf.cast(boxes, tf.float32)
    gt_boxes = tf.cast(gt_boxes, tf.float32)
    h = boxes[..., 2] - boxes[..., 0]
    w = boxes[..., 3] - boxes[..., 1]
    cy = boxes[..., 0] + 0.5 * h
    cx = boxes[..., 1] + 0.5 * w
    gh = gt_boxes[..., 2] - gt_boxes[..., 0]
    gw = gt_boxes[..., 3] - gt_boxes[..., 1]
    gcy = gt_boxes[..., 0] + 0.5 * gh
    gcx = gt_boxes[..., 1] + 0.5 * gw
    return tf.stack(
        [(gcy - cy) / h, (gcx - cx) / w, tf.math.log(gh / h), tf.math.log(gw / w)], axis=-1
    )


def apply_deltas_np(boxes: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_deltas_np`: boxes [..., 4], deltas [..., 4] -> float32 [..., 4]."""
    boxes = np.asarray(boxes, dtype=np.float32)
    deltas = np.asarray(deltas, dtype=np.float32)
    h = boxes[..., 2] - boxes[..., 0]
    w = boxes[..., 3] - boxes[..., 1]
    cy = boxes[..., 0] + 0.5 * h + deltas[..., 0] * h
    cx = boxes[..., 1] + 0.5 * w + deltas[..., 1] * w
    h = h * np.exp(deltas[..., 2])
    w = w * np.exp(deltas[..., 3])
    y1 = cy - 0.5 * h
    x1 = cx - 0.5 * w
    return np.stack([y1, x1, y1 + h, x1 + w], axis=-1).astype(np.float32)


def apply_deltas_tf(boxes, deltas):
    """TensorFlow twin of :func:`apply_deltas_np`: [..., 4], [..., 4] -> float32 [..., 4]."""
    import tensorflow as tf

    boxes = tf.cast(boxes, tf.float32)
    deltas = tf.cast(deltas, tf.float32)
    h = boxes[..., 2] - boxes[..., 0]
    w = boxes[..., 3] - boxes[..., 1]
    cy = boxes[..., 0] + 0.5 * h + deltas[..., 0] * h
    cx = boxes[..., 1] + 0.5 * w + deltas[..., 1] * w
    h = h * tf.exp(deltas[..., 2])
    w = w * tf.exp(deltas[..., 3])
    y1 = cy - 0.5 * h
    x1 = cx - 0.5 * w
    return tf.stack([y1, x1, y1 + h, x1 + w], axis=-1)


def clip_boxes_np(boxes: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Clip boxes [..., 4] into window [..., (wy1, wx1, wy2, wx2)] (broadcast to boxes[..., :1]
    per coordinate, e.g. [4] for all boxes or [B, 1, 4] per image). Returns float32 [..., 4]."""
    boxes = np.asarray(boxes, dtype=np.float32)
    window = np.asarray(window, dtype=np.float32)
    lo = np.concatenate([window[..., 0:2], window[..., 0:2]], axis=-1)
    hi = np.concatenate([window[..., 2:4], window[..., 2:4]], axis=-1)
    return np.maximum(np.minimum(boxes, hi), lo).astype(np.float32)


def clip_boxes_tf(boxes, window):
    """TensorFlow twin of :func:`clip_boxes_np`."""
    import tensorflow as tf

    boxes = tf.cast(boxes, tf.float32)
    window = tf.cast(window, tf.float32)
    lo = tf.concat([window[..., 0:2], window[..., 0:2]], axis=-1)
    hi = tf.concat([window[..., 2:4], window[..., 2:4]], axis=-1)
    return tf.maximum(tf.minimum(boxes, hi), lo)


def norm_boxes(boxes: np.ndarray, shape) -> np.ndarray:
    """Pixel boxes [..., 4] (y2/x2 exclusive) -> normalised float32 [..., 4].

    Matterport's convention: ``(y1, x1, y2 - 1, x2 - 1) / (h - 1, w - 1)`` with (h, w) =
    shape[:2], so a box covering the whole image becomes (0, 0, 1, 1). A 1 px side has no
    ``h - 1`` to divide by: there the pixel coordinates are kept (scale 1, no shift), so the one
    box it holds, the whole side (0, 1), is (0, 1) as on any side, and :func:`denorm_boxes`
    (whose scale there is 0) maps every value back to that whole side.
    """
    h, w = float(shape[0]), float(shape[1])
    side = np.array([h, w, h, w], dtype=np.float32)
    one_px = side == 1
    scale = np.where(one_px, 1, side - 1).astype(np.float32)
    shift = np.where(one_px, 0, [0, 0, 1, 1]).astype(np.float32)
    return ((np.asarray(boxes, dtype=np.float32) - shift) / scale).astype(np.float32)


def denorm_boxes(boxes: np.ndarray, shape) -> np.ndarray:
    """Normalised boxes [..., 4] -> int32 pixel boxes (y2/x2 exclusive), rounded; inverse of
    :func:`norm_boxes`."""
    h, w = float(shape[0]), float(shape[1])
    scale = np.array([h - 1, w - 1, h - 1, w - 1], dtype=np.float32)
    shift = np.array([0, 0, 1, 1], dtype=np.float32)
    return np.around(np.asarray(boxes, dtype=np.float32) * scale + shift).astype(np.int32)


def norm_boxes_tf(boxes, shape):
    """TensorFlow twin of :func:`norm_boxes` (a 1 px side included); shape is a [2+] tensor or
    sequence (h, w, ...)."""
    import tensorflow as tf

    shape = tf.cast(shape, tf.float32)
    side = tf.stack([shape[0], shape[1], shape[0], shape[1]])
    one_px = tf.equal(side, 1.0)
    scale = tf.where(one_px, 1.0, side - 1)
    shift = tf.where(one_px, 0.0, tf.constant([0.0, 0.0, 1.0, 1.0]))
    return (tf.cast(boxes, tf.float32) - shift) / scale


def denorm_boxes_tf(boxes, shape):
    """TensorFlow twin of :func:`denorm_boxes` (rounded, int32)."""
    import tensorflow as tf

    shape = tf.cast(shape, tf.float32)
    h, w = shape[0], shape[1]
    scale = tf.stack([h - 1, w - 1, h - 1, w - 1])
    shift = tf.constant([0.0, 0.0, 1.0, 1.0])
    return tf.cast(tf.round(tf.cast(boxes, tf.float32) * scale + shift), tf.int32)


def extract_bboxes(masks: np.ndarray) -> np.ndarray:
    """Tight boxes around instance masks.

    masks: bool (or 0/1) [H, W, N]. Returns int32 [N, (y1, x1, y2, x2)] in pixels, y2/x2
    exclusive; all zeros for an empty mask.
    """
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(f"extract_bboxes expects masks [H, W, N], got shape {masks.shape}")
    n = masks.shape[2]
    boxes = np.zeros((n, 4), dtype=np.int32)
    if n == 0:
        return boxes
    rows = masks.any(axis=1)  # [H, N]
    cols = masks.any(axis=0)  # [W, N]
    nonempty = rows.any(axis=0)
    h, w = masks.shape[:2]
    boxes[:, 0] = np.argmax(rows, axis=0)
    boxes[:, 2] = h - np.argmax(rows[::-1], axis=0)
    boxes[:, 1] = np.argmax(cols, axis=0)
    boxes[:, 3] = w - np.argmax(cols[::-1], axis=0)
    boxes[~nonempty] = 0
    return boxes
