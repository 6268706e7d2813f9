"""Numpy references of ``fashion_mrcnn.model.losses`` (same inputs, float32 scalars)."""

import numpy as np

from fashion_mrcnn.model.losses import BCE_EPSILON


def _smooth_l1_np(diff):
    diff = np.abs(diff)
    return np.where(diff < 1.0, 0.5 * diff * diff, diff - 0.5)


def _mean_or_zero_np(values):
    values = np.asarray(values, dtype=np.float64)
    return np.float32(values.mean()) if values.size else np.float32(0.0)


def _log_softmax_np(logits):
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def rpn_class_loss_np(rpn_match, rpn_class_logits):
    """Numpy twin of :func:`rpn_class_loss`."""
    rpn_match = np.asarray(rpn_match).reshape(np.shape(rpn_class_logits)[:2])
    active = rpn_match != 0
    labels = (rpn_match[active] == 1).astype(np.int64)
    logp = _log_softmax_np(np.asarray(rpn_class_logits)[active])
    return _mean_or_zero_np(-logp[np.arange(len(labels)), labels])


def rpn_bbox_loss_np(target_bbox, rpn_match, rpn_bbox):
    """Numpy twin of :func:`rpn_bbox_loss` (an explicit loop over images)."""
    rpn_match = np.asarray(rpn_match).reshape(np.shape(rpn_bbox)[:2])
    target_bbox = np.asarray(target_bbox, dtype=np.float64)
    diffs = []
    for b in range(rpn_match.shape[0]):
        pos = np.flatnonzero(rpn_match[b] == 1)[: target_bbox.shape[1]]
        diffs.append(target_bbox[b, : len(pos)] - np.asarray(rpn_bbox)[b, pos])
    return _mean_or_zero_np(_smooth_l1_np(np.concatenate(diffs)))


def mrcnn_class_loss_np(target_class_ids, pred_class_logits, active_class_ids):
    """Numpy twin of :func:`mrcnn_class_loss`."""
    logp = _log_softmax_np(pred_class_logits)  # [B, T, C]
    target = np.asarray(target_class_ids)
    ce = -np.take_along_axis(logp, target[..., None], axis=-1)[..., 0]
    pred = np.asarray(pred_class_logits).argmax(axis=-1)
    weight = np.take_along_axis(np.asarray(active_class_ids, dtype=np.float64), pred, axis=1)
    total = weight.sum()
    return np.float32((ce * weight).sum() / total) if total > 0 else np.float32(0.0)


def mrcnn_bbox_loss_np(target_bbox, target_class_ids, pred_bbox):
    """Numpy twin of :func:`mrcnn_bbox_loss`."""
    ids = np.asarray(target_class_ids)
    b, t = np.nonzero(ids > 0)
    pred = np.asarray(pred_bbox, dtype=np.float64)[b, t, ids[b, t]]
    return _mean_or_zero_np(_smooth_l1_np(np.asarray(target_bbox)[b, t] - pred))


def mrcnn_mask_loss_np(target_masks, target_class_ids, pred_masks, target_mask_valid=None):
    """Numpy twin of :func:`mrcnn_mask_loss`."""
    ids = np.asarray(target_class_ids)
    counted = ids > 0
    if target_mask_valid is not None:
        counted &= np.asarray(target_mask_valid) > 0
    b, t = np.nonzero(counted)
    pred = np.asarray(pred_masks, dtype=np.float64)[b, t, :, :, ids[b, t]]
    target = np.asarray(target_masks, dtype=np.float64)[b, t]
    p = np.clip(pred, BCE_EPSILON, 1 - BCE_EPSILON)
    return _mean_or_zero_np(-(target * np.log(p) + (1 - target) * np.log(1 - p)))


def mrcnn_attr_loss_np(target_attributes, target_attribute_weight, target_class_ids, pred_logits):
    """Numpy twin of :func:`mrcnn_attr_loss` (sigmoid cross-entropy from the logits)."""
    counted = (np.asarray(target_class_ids) > 0) & (np.asarray(target_attribute_weight) > 0)
    z = np.asarray(pred_logits, dtype=np.float64)[counted]
    y = np.asarray(target_attributes, dtype=np.float64)[counted]
    # -(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))), written without overflow
    return _mean_or_zero_np(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
