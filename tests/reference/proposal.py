"""Numpy reference of ``fashion_mrcnn.layers.ProposalLayer``."""

import numpy as np

from fashion_mrcnn.ops.boxes import apply_deltas_np, clip_boxes_np
from fashion_mrcnn.ops.nms import nms_np


def proposals_np(
    rpn_probs: np.ndarray,
    rpn_bbox: np.ndarray,
    anchors: np.ndarray,
    proposal_count: int,
    nms_threshold: float,
    pre_nms_limit: int,
    rpn_bbox_std_dev,
) -> np.ndarray:
    """Numpy reference of :class:`ProposalLayer`.

    rpn_probs [B, A, 2] (background, foreground); rpn_bbox [B, A, 4] deltas (in std-dev
    units); anchors [B, A, 4] or [A, 4] normalised. Returns float32 [B, proposal_count, 4].
    """
    rpn_probs = np.asarray(rpn_probs, dtype=np.float32)
    batch, num = rpn_probs.shape[:2]
    anchors = np.broadcast_to(np.asarray(anchors, dtype=np.float32), (batch, num, 4))
    out = np.zeros((batch, proposal_count, 4), dtype=np.float32)
    std = np.asarray(rpn_bbox_std_dev, dtype=np.float32)
    for b in range(batch):
        scores = rpn_probs[b, :, 1]
        top = np.argsort(-scores, kind="stable")[: min(pre_nms_limit, num)]
        deltas = np.asarray(rpn_bbox, dtype=np.float32)[b, top] * std
        boxes = apply_deltas_np(anchors[b, top], deltas)
        boxes = clip_boxes_np(boxes, [0, 0, 1, 1])
        keep = nms_np(boxes, scores[top], nms_threshold, proposal_count)
        out[b, : len(keep)] = boxes[keep]
    return out
