"""Pascal VOC box mAP@0.5 over a dataset (the number TF Object Detection API apparel detectors
report), with all-point interpolation (VOC 2010+).

Per class, all detections of that class over all images are ranked by score. A detection is a
true positive when its best-overlapping GT box of the same class in its image has
``IoU >= iou_threshold`` and that GT box is not already taken; otherwise (also when the best GT is
taken) it is a false positive, as in the VOC devkit. AP is the area under the monotone precision
envelope; mAP is the mean over the classes that have ground truth.

Boxes are ``[N, (y1, x1, y2, x2)]`` pixels with y2 / x2 exclusive, so no ``+ 1`` is added to
widths (the original devkit's inclusive-pixel convention).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fashion_mrcnn.evaluation.matching import ap_from_matches, compute_overlaps


def voc_detection_flags(gt: Sequence[dict], preds: Sequence[dict], class_id: int, iou_threshold):
    """TP flags and scores of every detection of one class, and the GT count.

    Args:
        gt: per image ``{"boxes": [G, 4], "class_ids": int [G]}`` (optional ``"difficult"``
            bool [G]: such GT neither counts nor penalises a detection matched to it).
        preds: per image ``{"rois": [P, 4], "class_ids": int [P], "scores": float [P]}``.
        class_id: the class.
        iou_threshold: minimum box IoU.

    Returns:
        ``(tp bool [D], scores float [D], n_gt int)``; detections matched to a difficult GT
        are left out.
    """
    all_scores, all_images, all_boxes = [], [], []
    for k, p in enumerate(preds):
        sel = np.asarray(p["class_ids"]).reshape(-1) == class_id
        if sel.any():
            all_scores.append(np.asarray(p["scores"], dtype=np.float64).reshape(-1)[sel])
            all_boxes.append(np.asarray(p["rois"], dtype=np.float64).reshape(-1, 4)[sel])
            all_images.append(np.full(int(sel.sum()), k))
    gt_boxes, taken, difficult = [], [], []
    n_gt = 0
    for g in gt:
        sel = np.asarray(g["class_ids"]).reshape(-1) == class_id
        gt_boxes.append(np.asarray(g["boxes"], dtype=np.float64).reshape(-1, 4)[sel])
        diff = np.asarray(g.get("difficult", np.zeros(sel.size, bool)), dtype=bool).reshape(-1)
        difficult.append(diff[sel])
        taken.append(np.zeros(int(sel.sum()), dtype=bool))
        n_gt += int((~diff[sel]).sum())
    if not all_scores:
        return np.zeros(0, bool), np.zeros(0), n_gt
    scores = np.concatenate(all_scores)
    images = np.concatenate(all_images)
    boxes = np.concatenate(all_boxes)
    order = np.argsort(-scores, kind="stable")
    tp = np.zeros(scores.size, dtype=bool)
    keep = np.ones(scores.size, dtype=bool)
    for d in order:
        candidates = gt_boxes[images[d]]
        if candidates.shape[0] == 0:
            continue
        ious = compute_overlaps(boxes[d : d + 1], candidates)[0]
        best = int(np.argmax(ious))
        if ious[best] >= iou_threshold:
            if difficult[images[d]][best]:
                keep[d] = False
            elif not taken[images[d]][best]:
                taken[images[d]][best] = True
                tp[d] = True
    return tp[keep], scores[keep], n_gt


def voc_map(
    gt: Sequence[dict],
    preds: Sequence[dict],
    iou_threshold: float = 0.5,
    class_names: Sequence[str] | None = None,
) -> dict:
    """VOC box mAP over images.

    Args:
        gt: per image ``{"boxes": [G, 4], "class_ids": int [G]}`` (+ optional ``"difficult"``).
        preds: per image ``detect()``-style ``{"rois", "class_ids", "scores"}``, aligned with
            ``gt``.
        iou_threshold: 0.5 for VOC.
        class_names: names indexed by class id, for the table.

    Returns:
        dict ``mAP`` (float, mean AP over classes with GT) and ``per_class`` (DataFrame indexed by
        class id: ``name, n_gt, n_det, tp, fp, ap``; classes with detections but no GT get
        ``ap`` NaN and do not enter the mean).
    """
    if len(gt) != len(preds):
        raise ValueError(f"{len(gt)} ground-truth images but {len(preds)} prediction images")
    classes = set()
    for g in gt:
        classes.update(np.asarray(g["class_ids"]).reshape(-1).tolist())
    for p in preds:
        classes.update(np.asarray(p["class_ids"]).reshape(-1).tolist())
    rows = []
    for c in sorted(classes):
        tp, scores, n_gt = voc_detection_flags(gt, preds, c, iou_threshold)
        ap = ap_from_matches(tp, scores, n_gt)[0] if n_gt else np.nan
        name = class_names[c] if class_names is not None and c < len(class_names) else str(c)
        rows.append((c, name, n_gt, tp.size, int(tp.sum()), int((~tp).sum()), ap))
    table = pd.DataFrame(
        rows, columns=["class_id", "name", "n_gt", "n_det", "tp", "fp", "ap"]
    ).set_index("class_id")
    valid = table["ap"].dropna()
    return {"mAP": float(valid.mean()) if len(valid) else 0.0, "per_class": table}
