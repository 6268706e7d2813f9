"""Non-maximum suppression: a numpy reference, fixed-size TensorFlow wrappers, per-class NMS.

Semantics follow ``tf.image.non_max_suppression``: boxes are visited by decreasing score (ties:
lower index first); a box is dropped when its IoU with an already kept box is strictly greater
than ``iou_threshold``. IoU uses the boxes' min / max corners, and a box of zero area overlaps
nothing.
"""

from __future__ import annotations

import numpy as np

from fashion_mrcnn.ops.shapes import with_static_shape


def _iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box [4] with boxes [K, 4], corners taken as min / max (like TF's kernel)."""
    y1 = np.minimum(box[0], box[2])
    y2 = np.maximum(box[0], box[2])
    x1 = np.minimum(box[1], box[3])
    x2 = np.maximum(box[1], box[3])
    by1 = np.minimum(boxes[:, 0], boxes[:, 2])
    by2 = np.maximum(boxes[:, 0], boxes[:, 2])
    bx1 = np.minimum(boxes[:, 1], boxes[:, 3])
    bx2 = np.maximum(boxes[:, 1], boxes[:, 3])
    area = (y2 - y1) * (x2 - x1)
    areas = (by2 - by1) * (bx2 - bx1)
    ih = np.maximum(np.minimum(y2, by2) - np.maximum(y1, by1), 0)
    iw = np.maximum(np.minimum(x2, bx2) - np.maximum(x1, bx1), 0)
    inter = ih * iw
    union = area + areas - inter
    ok = (area > 0) & (areas > 0)
    return np.where(ok, inter / np.where(ok, union, 1), 0.0)


def nms_np(
    boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_out: int | None = None
) -> np.ndarray:
    """Greedy NMS (numpy reference).

    boxes: float [N, (y1, x1, y2, x2)] (any units); scores: float [N]. Returns int32 [K]
    indices of the kept boxes by decreasing score, K <= max_out (all when None).
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    limit = len(order) if max_out is None else int(max_out)
    keep: list[int] = []
    suppressed = np.zeros(len(boxes), dtype=bool)
    for i in order:
        if len(keep) >= limit:
            break
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= _iou_one_to_many(boxes[i], boxes) > iou_threshold
    return np.asarray(keep, dtype=np.int32)


def per_class_nms_np(
    boxes: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray,
    iou_threshold: float,
    max_out: int,
) -> np.ndarray:
    """NMS inside each class separately, then the ``max_out`` best of the union by score.

    boxes [N, 4], scores [N], class_ids int [N]. Returns int32 [K] indices by decreasing score.
    """
    class_ids = np.asarray(class_ids).reshape(-1)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    kept = []
    for c in np.unique(class_ids):
        ix = np.nonzero(class_ids == c)[0]
        kept.append(ix[nms_np(np.asarray(boxes)[ix], scores[ix], iou_threshold)])
    if not kept:
        return np.zeros(0, dtype=np.int32)
    kept = np.concatenate(kept)
    order = np.argsort(-scores[kept], kind="stable")
    return kept[order][:max_out].astype(np.int32)


def nms_padded_tf(boxes, scores, max_out: int, iou_threshold: float, score_threshold=None):
    """``tf.image.non_max_suppression`` with a fixed-size result.

    boxes: float [N, 4]; scores: float [N]; ``score_threshold``: only boxes scoring strictly
    above it are candidates (None: all). Returns (indices int32 [max_out] padded with -1,
    count int32 scalar).
    """
    import tensorflow as tf

    floor = float("-inf") if score_threshold is None else float(score_threshold)
    # the padded op with its own count: TFLite lowers NonMaxSuppressionV3 to this same op, and
    # a count taken from V3's shape there is max_out, every slot past the kept ones index 0
    selected, count = tf.raw_ops.NonMaxSuppressionV4(
        boxes=tf.cast(boxes, tf.float32),
        scores=tf.cast(scores, tf.float32),
        max_output_size=max_out,
        iou_threshold=iou_threshold,
        score_threshold=floor,
        pad_to_max_output_size=True,
    )
    padded = tf.where(tf.range(max_out) < count, selected, -1)
    return with_static_shape(padded, [max_out]), count


def per_class_nms_tf(boxes, scores, class_ids, max_out: int, iou_threshold: float):
    """TensorFlow twin of :func:`per_class_nms_np`.

    One NMS per class present (``tf.map_fn`` over the unique class ids; exact, unlike the
    coordinate-offset trick whose float rounding flips decisions near the threshold), then the
    ``max_out`` best of the union by score. boxes [N, 4], scores [N], class_ids int [N].
    Returns (indices int32 [max_out] by decreasing score, padded with -1; count int32).
    """
    import tensorflow as tf

    boxes = tf.cast(boxes, tf.float32)
    scores = tf.cast(scores, tf.float32)
    class_ids = tf.cast(class_ids, tf.int32)
    unique = tf.unique(class_ids)[0]

    def one_class(c):
        ix = tf.cast(tf.where(tf.equal(class_ids, c))[:, 0], tf.int32)
        keep, count = nms_padded_tf(
            tf.gather(boxes, ix), tf.gather(scores, ix), max_out, iou_threshold
        )
        return tf.where(keep >= 0, tf.gather(ix, tf.maximum(keep, 0)), -1)

    kept = tf.map_fn(one_class, unique, fn_output_signature=tf.TensorSpec([max_out], tf.int32))
    kept = tf.reshape(kept, [-1])
    kept = tf.boolean_mask(kept, kept >= 0)
    k = tf.minimum(tf.shape(kept)[0], max_out)
    top = tf.math.top_k(tf.gather(scores, kept), k, sorted=True)
    picked = tf.gather(kept, top.indices)
    padded = tf.pad(picked, [[0, max_out - k]], constant_values=-1)
    return with_static_shape(padded, [max_out]), k


def per_class_nms_fixed_tf(
    boxes, scores, class_ids, max_out: int, iou_threshold: float, num_classes: int, valid=None
):
    """TensorFlow twin of :func:`per_class_nms_np` over the rows where ``valid``, in fixed-size
    tensors throughout, so XLA compiles it (:func:`per_class_nms_tf` is faster uncompiled).

    One NMS per class id ``1 .. num_classes - 1`` over all N rows, the other rows' scores set
    to -inf (exact, unlike the coordinate-offset trick whose float rounding flips decisions near
    the threshold), then the ``max_out`` best of the union by score; rows of class 0, or not
    ``valid``, are never kept. boxes [N, 4], scores [N] (finite), class_ids int [N] in
    ``[0, num_classes)``, valid bool [N] (None: all). Returns (indices int32 [max_out] into N
    by decreasing score, padded with -1; count int32).
    """
    import tensorflow as tf

    boxes = tf.cast(boxes, tf.float32)
    scores = tf.cast(scores, tf.float32)
    class_ids = tf.cast(class_ids, tf.int32)
    if valid is not None:
        class_ids = tf.where(valid, class_ids, 0)
    lowest = np.finfo(np.float32).min  # strictly above it: every finite score, never -inf

    def one_class(c):
        mine = tf.where(tf.equal(class_ids, c), scores, -np.inf)
        return nms_padded_tf(boxes, mine, max_out, iou_threshold, lowest)[0]

    kept = tf.map_fn(
        one_class,
        tf.range(1, max(int(num_classes), 1), dtype=tf.int32),
        fn_output_signature=tf.TensorSpec([max_out], tf.int32),
    )
    # the best max_out of the union by score; -1 slots rank last at -inf, and top_k keeps ties
    # in list order (class by class, as per_class_nms_np's stable sort)
    kept = tf.concat([tf.reshape(kept, [-1]), tf.fill([max_out], -1)], axis=0)
    ranked = tf.where(kept >= 0, tf.gather(scores, tf.maximum(kept, 0)), -np.inf)
    top = tf.math.top_k(ranked, max_out, sorted=True)
    picked = tf.where(top.values > -np.inf, tf.gather(kept, top.indices), -1)
    return with_static_shape(picked, [max_out]), tf.reduce_sum(tf.cast(picked >= 0, tf.int32))
