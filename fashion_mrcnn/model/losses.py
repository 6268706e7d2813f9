"""The five Mask R-CNN losses (Matterport names) and the attribute head's, as TensorFlow functions.

Every loss returns a float32 scalar and is exactly 0.0 (finite, with finite gradients) when it
has nothing to average over: no non-neutral anchors, no positive anchors, no positive ROIs,
no positive ROI with a valid mask. Inputs may be float16 (mixed precision): losses are computed
in float32. Their numpy references live with the tests (``tests/reference/losses.py``).
"""

from __future__ import annotations

import numpy as np

BCE_EPSILON = 1e-7


def _tf():
    import tensorflow as tf

    return tf


def _smooth_l1_tf(diff):
    tf = _tf()
    diff = tf.abs(diff)
    return tf.where(diff < 1.0, 0.5 * diff * diff, diff - 0.5)


def _masked_mean_tf(values, counted):
    """Mean of ``values`` over the ``counted`` entries, 0.0 when none: ``values`` float [*S, *E],
    ``counted`` bool [*S] (each counted entry brings ``prod(E)`` elements). Fixed shapes (no
    ``boolean_mask``), so XLA compiles it and its gradient.

    numpy: ``values[counted].mean()`` (0.0 when nothing is counted).
    """
    tf = _tf()
    weight = tf.cast(counted, tf.float32)
    per_entry = tf.cast(tf.size(values) // tf.maximum(tf.size(weight), 1), tf.float32)
    extra = values.shape.rank - weight.shape.rank
    weight_b = tf.reshape(weight, tf.concat([tf.shape(weight), tf.ones([extra], tf.int32)], 0))
    total = tf.reduce_sum(tf.where(weight_b > 0, values, 0.0))
    return tf.math.divide_no_nan(total, tf.reduce_sum(weight) * per_entry)


def _squeeze_match(rpn_match):
    tf = _tf()
    rpn_match = tf.cast(rpn_match, tf.int32)
    if rpn_match.shape.rank == 3:
        rpn_match = rpn_match[..., 0]
    return rpn_match


def rpn_class_loss(rpn_match, rpn_class_logits):
    """RPN objectness cross-entropy over non-neutral anchors.

    rpn_match: int [B, A] (or [B, A, 1]) with 1 positive, -1 negative, 0 neutral;
    rpn_class_logits: [B, A, 2] (background, foreground). Mean over all non-neutral anchors of
    the batch; 0.0 when there are none.
    """
    tf = _tf()
    rpn_match = _squeeze_match(rpn_match)
    labels = tf.cast(tf.equal(rpn_match, 1), tf.int32)
    logits = tf.cast(rpn_class_logits, tf.float32)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return _masked_mean_tf(ce, tf.not_equal(rpn_match, 0))


def rpn_bbox_loss(target_bbox, rpn_match, rpn_bbox):
    """Smooth-L1 RPN box loss over positive anchors.

    target_bbox: [B, T, 4]: per image, the deltas of its positive anchors in anchor order,
    zero-padded (``data.targets.build_rpn_targets``); rpn_match: int [B, A] (or [B, A, 1]);
    rpn_bbox: [B, A, 4] predicted deltas. The k-th positive anchor of an image is compared with
    row k of its targets (positives beyond T are ignored). Mean over elements; 0.0 without
    positives.
    """
    tf = _tf()
    rpn_match = _squeeze_match(rpn_match)
    positive = tf.equal(rpn_match, 1)
    t = tf.shape(target_bbox)[1]
    rank = tf.cumsum(tf.cast(positive, tf.int32), axis=1) - 1  # order within the image
    used = tf.logical_and(positive, rank < t)  # [B, A]
    target = tf.gather(
        tf.cast(target_bbox, tf.float32), tf.clip_by_value(rank, 0, t - 1), batch_dims=1
    )  # [B, A, 4]: each anchor's target row (meaningful where used)
    diff = target - tf.cast(rpn_bbox, tf.float32)
    return _masked_mean_tf(_smooth_l1_tf(diff), used)


def mrcnn_class_loss(target_class_ids, pred_class_logits, active_class_ids):
    """Classifier cross-entropy, Matterport style.

    target_class_ids: int [B, T] (0 = background, also for padding ROIs);
    pred_class_logits: [B, T, C]; active_class_ids: [B, C], 1 for the classes of each image's
    source. ROIs whose *predicted* class is not active for the image are left out of the mean
    (per image, where Matterport used the first image's list for the whole batch). 0.0 when no
    ROI counts.
    """
    tf = _tf()
    target = tf.cast(target_class_ids, tf.int32)
    logits = tf.cast(pred_class_logits, tf.float32)
    pred = tf.argmax(logits, axis=-1, output_type=tf.int32)
    weight = tf.gather(tf.cast(active_class_ids, tf.float32), pred, batch_dims=1)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target, logits=logits)
    return tf.math.divide_no_nan(tf.reduce_sum(ce * weight), tf.reduce_sum(weight))


def _true_class(pred, class_ids):
    """``pred [B, T, C, *E] -> [B, T, *E]``: each row's entry for its class ``class_ids
    [B, T]`` (numpy: ``pred[b, t, class_ids[b, t]]``)."""
    tf = _tf()
    return tf.gather(pred, class_ids, batch_dims=2)


def mrcnn_bbox_loss(target_bbox, target_class_ids, pred_bbox):
    """Smooth-L1 loss of the class-specific box deltas on positive ROIs.

    target_bbox: [B, T, 4]; target_class_ids: int [B, T]; pred_bbox: [B, T, C, 4]. Only the
    deltas of each positive ROI's true class count. Mean over elements; 0.0 without positives.
    """
    tf = _tf()
    target_class_ids = tf.cast(target_class_ids, tf.int32)
    pred = tf.cast(_true_class(pred_bbox, target_class_ids), tf.float32)  # [B, T, 4]
    diff = tf.cast(target_bbox, tf.float32) - pred
    return _masked_mean_tf(_smooth_l1_tf(diff), target_class_ids > 0)


def mrcnn_mask_loss(target_masks, target_class_ids, pred_masks, target_mask_valid=None):
    """Per-pixel binary cross-entropy of the true class's mask on positive ROIs.

    target_masks: [B, T, h, w] 0/1; target_class_ids: int [B, T]; pred_masks: [B, T, h, w, C]
    sigmoid probabilities; target_mask_valid: [B, T] (0 for box-only instances: no mask loss),
    all valid when None. Mean over pixels of the counted ROIs; 0.0 when none.
    """
    tf = _tf()
    target_class_ids = tf.cast(target_class_ids, tf.int32)
    counted = target_class_ids > 0
    if target_mask_valid is not None:
        counted = tf.logical_and(counted, tf.cast(target_mask_valid, tf.float32) > 0)
    pred = tf.transpose(tf.cast(pred_masks, tf.float32), [0, 1, 4, 2, 3])  # [B, T, C, h, w]
    pred = _true_class(pred, target_class_ids)  # [B, T, h, w]
    target = tf.cast(target_masks, tf.float32)
    p = tf.clip_by_value(pred, BCE_EPSILON, 1.0 - BCE_EPSILON)
    bce = -(target * tf.math.log(p) + (1.0 - target) * tf.math.log(1.0 - p))
    return _masked_mean_tf(bce, counted)


def mrcnn_attr_loss(target_attributes, target_attribute_weight, target_class_ids, pred_logits):
    """Binary cross-entropy of the attribute head on positive ROIs whose class carries
    attributes (Attribute-Mask R-CNN).

    target_attributes: [B, T, A] 0/1 (the matched GT's multi-hot); target_attribute_weight:
    [B, T] (1 when the matched GT's class carries attributes); target_class_ids: int [B, T];
    pred_logits: [B, T, A] (before the sigmoid; the loss takes logits for stability). Mean over
    the A outputs of every counted ROI; 0.0 when no positive ROI carries attributes.
    """
    tf = _tf()
    counted = tf.logical_and(
        tf.cast(target_class_ids, tf.int32) > 0, tf.cast(target_attribute_weight, tf.float32) > 0
    )
    labels = tf.cast(target_attributes, tf.float32)
    logits = tf.cast(pred_logits, tf.float32)
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    return _masked_mean_tf(bce, counted)


def l2_regularization(weights, weight_decay: float):
    """Matterport's weight decay: ``sum(weight_decay * sum(w**2) / size(w))`` over the weights
    whose name is not a normalisation ``gamma`` / ``beta``.

    weights: iterable of variables (Keras 3 ``.path`` or ``.name`` is checked). Returns a
    float32 scalar (0.0 when nothing is regularised). Computed as one ``tf.nn.l2_loss``
    (``sum(w**2) / 2``) per weight and one dot product with the constant factors
    ``2 * weight_decay / size(w)``: about two executor ops per weight forward and backward,
    where the literal formula takes eleven (``bench/results/precision.md``).
    """
    tf = _tf()
    halves, factors = [], []
    for w in weights:
        name = str(getattr(w, "path", None) or getattr(w, "name", ""))
        leaf = name.split("/")[-1].split(":")[0]
        if leaf in ("gamma", "beta"):
            continue
        halves.append(tf.nn.l2_loss(tf.cast(w, tf.float32)))
        factors.append(2.0 * float(weight_decay) / max(int(np.prod(w.shape)), 1))
    if not halves:
        return tf.constant(0.0, tf.float32)
    return tf.reduce_sum(tf.stack(halves) * tf.constant(factors, tf.float32))
