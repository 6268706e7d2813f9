"""Numpy reference of ``fashion_mrcnn.layers.DetectionTargetLayer`` for one image."""

from collections.abc import Sequence

import numpy as np

from fashion_mrcnn.constants import CROWD_IOU
from fashion_mrcnn.ops.boxes import box_iou_np, encode_deltas_np
from fashion_mrcnn.ops.masks import roi_mask_targets_np


def detection_targets_np(
    proposals: np.ndarray,
    gt_class_ids: np.ndarray,
    gt_boxes: np.ndarray,
    gt_masks: np.ndarray,
    gt_mask_valid: np.ndarray,
    train_rois_per_image: int,
    roi_positive_ratio: float,
    mask_shape: Sequence[int],
    bbox_std_dev: Sequence[float],
    use_mini_mask: bool,
    add_gt_boxes: bool = True,
    rng: np.random.Generator | None = None,
    positive_iou: float = 0.5,
    negative_iou: float = 0.5,
    crowd_iou: float = CROWD_IOU,
    gt_attributes: np.ndarray | None = None,
    gt_attribute_valid: np.ndarray | None = None,
):
    """Numpy reference of ``DetectionTargetLayer`` for one image.

    proposals: float [N, 4] normalised, all-zero rows are padding; gt_class_ids: int [G]
    (0 = padding, negative = crowd); gt_boxes: [G, 4] normalised; gt_masks: float [mh, mw, G];
    gt_mask_valid: float [G] (0 = box-only instance). ``add_gt_boxes`` appends the real GT
    boxes to the proposals (torchvision / detectron2 practice). ``rng=None`` samples
    deterministically: the first positives / negatives in proposal order; otherwise a random
    subset.

    Sampling: ROIs with IoU >= ``positive_iou`` with a GT are positive, at most
    ``int(T * roi_positive_ratio)``; ROIs with IoU < ``negative_iou`` whose IoU with every crowd
    box is below ``crowd_iou`` are negative and fill the rest of T = ``train_rois_per_image``;
    the remainder is zero padding.

    Returns rois float32 [T, 4], class_ids int32 [T], deltas float32 [T, 4] (divided by
    bbox_std_dev), masks float32 [T, MH, MW] (0/1), mask_valid float32 [T]; positives first,
    then negatives, then padding. Given ``gt_attributes`` [G, A] and ``gt_attribute_valid`` [G],
    also attributes float32 [T, A] and attribute_weight float32 [T]: each positive's matched
    GT's rows, zeros elsewhere.
    """
    t = int(train_rois_per_image)
    proposals = np.asarray(proposals, dtype=np.float32).reshape(-1, 4)
    gt_class_ids = np.asarray(gt_class_ids).reshape(-1)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float32).reshape(-1, 4)
    gt_mask_valid = np.asarray(gt_mask_valid, dtype=np.float32).reshape(-1)
    proposals = proposals[np.any(proposals != 0, axis=1)]
    crowd_boxes = gt_boxes[gt_class_ids < 0]
    real = np.flatnonzero(gt_class_ids > 0)
    boxes = gt_boxes[real]
    if add_gt_boxes:
        proposals = np.concatenate([proposals, boxes], axis=0)

    overlaps = box_iou_np(proposals, boxes)  # [N, G']
    best_iou = overlaps.max(axis=1) if len(real) else np.zeros(len(proposals), np.float32)
    best_gt = overlaps.argmax(axis=1) if len(real) else np.zeros(len(proposals), np.int64)
    not_crowd = np.ones(len(proposals), dtype=bool)
    if len(crowd_boxes):
        not_crowd = box_iou_np(proposals, crowd_boxes).max(axis=1) < crowd_iou

    pos = np.flatnonzero(best_iou >= positive_iou)
    neg = np.flatnonzero((best_iou < negative_iou) & not_crowd)
    if rng is not None:
        pos = rng.permutation(pos)
        neg = rng.permutation(neg)
    pos = pos[: int(t * roi_positive_ratio)]
    neg = neg[: t - len(pos)]

    rois = np.zeros((t, 4), dtype=np.float32)
    class_ids = np.zeros(t, dtype=np.int32)
    deltas = np.zeros((t, 4), dtype=np.float32)
    masks = np.zeros((t,) + tuple(mask_shape[:2]), dtype=np.float32)
    mask_valid = np.zeros(t, dtype=np.float32)
    p = len(pos)
    rois[:p] = proposals[pos]
    rois[p : p + len(neg)] = proposals[neg]
    if p:
        gi = best_gt[pos]
        class_ids[:p] = gt_class_ids[real[gi]]
        deltas[:p] = encode_deltas_np(proposals[pos], boxes[gi]) / np.asarray(
            bbox_std_dev, dtype=np.float32
        )
        masks[:p] = roi_mask_targets_np(
            np.asarray(gt_masks, dtype=np.float32)[:, :, real],
            boxes,
            proposals[pos],
            gi,
            mask_shape,
            use_mini_mask,
        )
        mask_valid[:p] = gt_mask_valid[real[gi]]
    if gt_attributes is None:
        return rois, class_ids, deltas, masks, mask_valid
    gt_attributes = np.asarray(gt_attributes, dtype=np.float32)
    attributes = np.zeros((t, gt_attributes.shape[1]), dtype=np.float32)
    weight = np.zeros(t, dtype=np.float32)
    for k in range(p):  # the GT each positive matched, by its row among the real GT
        attributes[k] = gt_attributes[real[best_gt[pos[k]]]]
        weight[k] = np.asarray(gt_attribute_valid, dtype=np.float32)[real[best_gt[pos[k]]]]
    return rois, class_ids, deltas, masks, mask_valid, attributes, weight
