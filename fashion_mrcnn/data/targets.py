"""RPN anchor targets in numpy, built per image by the tf.data pipeline (``data.pipeline``).

RPN targets (Matterport / Faster R-CNN rules): an anchor is positive when its IoU with some GT
box is >= 0.7, and every GT box's best anchor(s) are positive too; negative when its best IoU is
< 0.3; neutral otherwise. Anchors touching a crowd box (negative class id, IoU >= 0.001) are
never negative. At most half of ``train_anchors_per_image`` are positive (random subset),
negatives fill the rest; the others become neutral.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fashion_mrcnn.constants import CROWD_IOU
from fashion_mrcnn.ops.boxes import encode_deltas_np

RPN_POSITIVE_IOU = 0.7
RPN_NEGATIVE_IOU = 0.3


def _iou_anchors(anchors: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU float32 [G, A] of boxes [G, 4] with anchors [A, 4] (pixels).

    The hot loop of the data pipeline: one pass per GT box over contiguous anchor columns with
    preallocated buffers (65k anchors x 50 boxes in a few ms); same maths as
    ``ops.boxes.box_iou_np``.
    """
    a = np.ascontiguousarray(np.asarray(anchors, dtype=np.float32).T)  # [4, A]
    ay1, ax1, ay2, ax2 = a
    area_a = (ay2 - ay1) * (ax2 - ax1)
    out = np.empty((len(boxes), a.shape[1]), dtype=np.float32)
    ih = np.empty(a.shape[1], dtype=np.float32)
    iw = np.empty_like(ih)
    tmp = np.empty_like(ih)
    for g, (y1, x1, y2, x2) in enumerate(np.asarray(boxes, dtype=np.float32)):
        np.minimum(ay2, y2, out=ih)
        np.maximum(ay1, y1, out=tmp)
        ih -= tmp
        np.maximum(ih, 0, out=ih)
        np.minimum(ax2, x2, out=iw)
        np.maximum(ax1, x1, out=tmp)
        iw -= tmp
        np.maximum(iw, 0, out=iw)
        ih *= iw  # intersection
        np.add(area_a, (y2 - y1) * (x2 - x1), out=tmp)
        tmp -= ih
        np.maximum(tmp, np.float32(1e-12), out=tmp)
        np.divide(ih, tmp, out=out[g])
    return out


def _split_config(train_anchors_per_image, bbox_std_dev):
    """Accept ``(config)`` or ``(train_anchors_per_image, bbox_std_dev)``."""
    if hasattr(train_anchors_per_image, "RPN_TRAIN_ANCHORS_PER_IMAGE"):
        config = train_anchors_per_image
        if bbox_std_dev is None:
            bbox_std_dev = config.RPN_BBOX_STD_DEV
        return int(config.RPN_TRAIN_ANCHORS_PER_IMAGE), bbox_std_dev
    if bbox_std_dev is None:
        raise ValueError("build_rpn_targets: bbox_std_dev is required without a config")
    return int(train_anchors_per_image), bbox_std_dev


def build_rpn_targets(
    anchors: np.ndarray,
    gt_class_ids: np.ndarray,
    gt_boxes: np.ndarray,
    train_anchors_per_image,
    bbox_std_dev: Sequence[float] | None = None,
    rng: np.random.Generator | None = None,
):
    """RPN targets of one image.

    anchors: float [A, (y1, x1, y2, x2)] pixels of the molded image (``get_anchors(...,
    normalized=False)``); gt_class_ids: int [G] (negative = crowd, 0 = padding, dropped);
    gt_boxes: [G, 4] pixels (y2/x2 exclusive). ``train_anchors_per_image`` is an int (T) or a
    Config (then T = RPN_TRAIN_ANCHORS_PER_IMAGE and bbox_std_dev defaults to
    RPN_BBOX_STD_DEV). bbox_std_dev: [4]. rng: numpy Generator for the subsampling (pass one
    for reproducible targets; None draws a fresh one).

    Returns rpn_match int32 [A] (1 positive, -1 negative, 0 neutral) and rpn_bbox float32
    [T, 4]: the positives' deltas to their best GT, in anchor order, divided by bbox_std_dev,
    zero-padded.
    """
    t, bbox_std_dev = _split_config(train_anchors_per_image, bbox_std_dev)
    rng = rng if rng is not None else np.random.default_rng()
    anchors = np.asarray(anchors, dtype=np.float32).reshape(-1, 4)
    gt_class_ids = np.asarray(gt_class_ids).reshape(-1)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float32).reshape(-1, 4)
    if len(gt_class_ids) != len(gt_boxes):
        raise ValueError(
            f"build_rpn_targets: {len(gt_class_ids)} class ids but {len(gt_boxes)} boxes"
        )
    num_anchors = len(anchors)
    rpn_match = np.zeros(num_anchors, dtype=np.int32)
    rpn_bbox = np.zeros((t, 4), dtype=np.float32)

    crowd = gt_class_ids < 0
    not_crowd_anchor = np.ones(num_anchors, dtype=bool)
    if crowd.any():
        crowd_iou = _iou_anchors(anchors, gt_boxes[crowd]).max(axis=0)
        not_crowd_anchor = crowd_iou < CROWD_IOU
    keep = gt_class_ids > 0
    boxes = gt_boxes[keep]

    overlaps = None
    if len(boxes):
        overlaps = _iou_anchors(anchors, boxes)  # [G, A]
        best_iou = overlaps.max(axis=0)
        rpn_match[(best_iou < RPN_NEGATIVE_IOU) & not_crowd_anchor] = -1
        # every GT's best anchor(s) (ties included) are positive, if it overlaps any anchor
        for row in overlaps:
            top = row.max()
            if top > 0:
                rpn_match[row == top] = 1
        rpn_match[best_iou >= RPN_POSITIVE_IOU] = 1
    else:
        rpn_match[not_crowd_anchor] = -1

    positives = np.flatnonzero(rpn_match == 1)
    if len(positives) > t // 2:
        drop = rng.choice(positives, len(positives) - t // 2, replace=False)
        rpn_match[drop] = 0
        positives = np.flatnonzero(rpn_match == 1)
    negatives = np.flatnonzero(rpn_match == -1)
    wanted = t - len(positives)
    if len(negatives) > wanted:  # keep a random subset (cheaper than choosing the dropped)
        rpn_match[negatives] = 0
        rpn_match[rng.choice(negatives, wanted, replace=False)] = -1

    if len(positives):
        best_gt = overlaps[:, positives].argmax(axis=0)
        deltas = encode_deltas_np(anchors[positives], boxes[best_gt])
        rpn_bbox[: len(positives)] = deltas / np.asarray(bbox_std_dev, dtype=np.float32)
    return rpn_match, rpn_bbox
