"""Per-image matching and VOC-style AP with Matterport's ``utils`` names and signatures.

For users migrating from ``mrcnn.utils``: ``compute_overlaps``, ``compute_overlaps_masks``,
``compute_matches``, ``compute_ap``, ``compute_ap_range`` and ``compute_recall`` keep their
arguments and return values. One difference: ``compute_matches`` returns ``gt_match`` /
``pred_match`` / ``overlaps`` in the caller's prediction order (Matterport returns them in
score-sorted order), which is what per-instance analysis needs.

Conventions: boxes ``[N, (y1, x1, y2, x2)]`` in pixels, y2 / x2 exclusive; masks ``[H, W, N]``
(bool, or float thresholded at 0.5); class ids int [N]; scores float [N].
"""

from __future__ import annotations

import numpy as np

from fashion_mrcnn.constants import COCO_IOU_THRESHOLDS

IOU_RANGE = np.asarray(COCO_IOU_THRESHOLDS)


def box_areas(boxes: np.ndarray) -> np.ndarray:
    """float64 [N] areas of ``[N, (y1, x1, y2, x2)]`` boxes (exclusive corners)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def compute_overlaps(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """IoU of every box in ``boxes1`` [N1, 4] with every box in ``boxes2`` [N2, 4] -> [N1, N2]."""
    b1 = np.asarray(boxes1, dtype=np.float64).reshape(-1, 4)
    b2 = np.asarray(boxes2, dtype=np.float64).reshape(-1, 4)
    y1 = np.maximum(b1[:, None, 0], b2[None, :, 0])
    x1 = np.maximum(b1[:, None, 1], b2[None, :, 1])
    y2 = np.minimum(b1[:, None, 2], b2[None, :, 2])
    x2 = np.minimum(b1[:, None, 3], b2[None, :, 3])
    inter = np.clip(y2 - y1, 0, None) * np.clip(x2 - x1, 0, None)
    union = box_areas(b1)[:, None] + box_areas(b2)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def compute_overlaps_masks(masks1: np.ndarray, masks2: np.ndarray) -> np.ndarray:
    """Mask IoU of ``masks1`` [H, W, N1] against ``masks2`` [H, W, N2] -> float64 [N1, N2].

    Float masks are thresholded at 0.5 (Matterport's behaviour). Empty sets give a [N1, N2]
    array with a zero side.
    """
    m1 = np.asarray(masks1)
    m2 = np.asarray(masks2)
    if m1.ndim != 3 or m2.ndim != 3:
        raise ValueError(f"masks must be [H, W, N], got {m1.shape} and {m2.shape}")
    if m1.shape[2] == 0 or m2.shape[2] == 0:
        return np.zeros((m1.shape[2], m2.shape[2]))
    if m1.shape[:2] != m2.shape[:2]:
        raise ValueError(f"mask sizes differ: {m1.shape[:2]} vs {m2.shape[:2]}")
    f1 = (m1.reshape(-1, m1.shape[2]) > 0.5).astype(np.float32)
    f2 = (m2.reshape(-1, m2.shape[2]) > 0.5).astype(np.float32)
    inter = (f1.T @ f2).astype(np.float64)
    union = f1.sum(axis=0)[:, None] + f2.sum(axis=0)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def trim_zeros(x: np.ndarray) -> np.ndarray:
    """Drop all-zero rows (Matterport's padding) from a 2-D array."""
    x = np.asarray(x)
    return x[np.any(x != 0, axis=1)] if x.size else x.reshape(0, *x.shape[1:])


def compute_matches(
    gt_boxes,
    gt_class_ids,
    gt_masks,
    pred_boxes,
    pred_class_ids,
    pred_scores,
    pred_masks,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.0,
    class_agnostic: bool = False,
):
    """Greedy matching by descending score (COCO / VOC rule): each prediction takes the
    highest-IoU unmatched GT of its class with ``IoU >= iou_threshold``.

    Args:
        gt_boxes: [G, 4]; gt_class_ids: int [G]; gt_masks: [H, W, G].
        pred_boxes: [P, 4]; pred_class_ids: int [P]; pred_scores: float [P]; pred_masks:
            [H, W, P].
        iou_threshold: minimum mask IoU for a match.
        score_threshold: predictions below it stay unmatched (as in Matterport).
        class_agnostic: match regardless of class (for confusion analysis).

    Returns:
        ``(gt_match, pred_match, overlaps)``: int [G] index of the matched prediction or -1;
        int [P] index of the matched GT or -1; float [P, G] mask IoU. Indices refer to the
        caller's order (not score-sorted).
    """
    overlaps = compute_overlaps_masks(pred_masks, gt_masks)
    gt_match, pred_match = match_from_overlaps(
        overlaps, gt_class_ids, pred_class_ids, pred_scores, iou_threshold, score_threshold,
        class_agnostic,
    )  # fmt: skip
    return gt_match, pred_match, overlaps


def match_from_overlaps(
    overlaps: np.ndarray,
    gt_class_ids,
    pred_class_ids,
    pred_scores,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.0,
    class_agnostic: bool = False,
):
    """The greedy matching of :func:`compute_matches` on a precomputed IoU matrix.

    Args:
        overlaps: float [P, G] IoU of predictions against GT.
        gt_class_ids: int [G]; pred_class_ids: int [P]; pred_scores: float [P].

    Returns:
        ``(gt_match int [G], pred_match int [P])``, -1 where unmatched.
    """
    gt_class_ids = np.asarray(gt_class_ids).reshape(-1)
    pred_class_ids = np.asarray(pred_class_ids).reshape(-1)
    pred_scores = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    overlaps = np.asarray(overlaps, dtype=np.float64).reshape(
        pred_class_ids.size, gt_class_ids.size
    )
    gt_match = -np.ones(gt_class_ids.size, dtype=np.int64)
    pred_match = -np.ones(pred_class_ids.size, dtype=np.int64)
    for p in np.argsort(-pred_scores, kind="stable"):
        if pred_scores[p] < score_threshold:
            continue
        for g in np.argsort(-overlaps[p], kind="stable"):
            if overlaps[p, g] < iou_threshold:
                break
            if gt_match[g] > -1:
                continue
            if class_agnostic or pred_class_ids[p] == gt_class_ids[g]:
                gt_match[g] = p
                pred_match[p] = g
                break
    return gt_match, pred_match


def ap_from_matches(pred_tp: np.ndarray, pred_scores: np.ndarray, n_gt: int):
    """All-point interpolated AP from per-prediction TP flags.

    Args:
        pred_tp: bool [P] whether each prediction is a true positive.
        pred_scores: float [P] confidences (ranking order).
        n_gt: number of ground-truth objects.

    Returns:
        ``(ap, precisions, recalls)``: float; float [P + 2] precision envelope and float [P + 2]
        recalls, padded with (0, 1) at the ends as Matterport does. ``ap`` is 0 when ``n_gt`` is 0.
    """
    order = np.argsort(-np.asarray(pred_scores, dtype=np.float64), kind="stable")
    tp = np.asarray(pred_tp, dtype=bool)[order]
    cum_tp = np.cumsum(tp)
    precisions = cum_tp / np.arange(1, tp.size + 1)
    recalls = cum_tp / n_gt if n_gt else np.zeros(tp.size)
    precisions = np.concatenate([[0.0], precisions, [0.0]])
    recalls = np.concatenate([[0.0], recalls, [1.0]])
    precisions = np.maximum.accumulate(precisions[::-1])[::-1]
    steps = np.flatnonzero(recalls[1:] != recalls[:-1]) + 1
    ap = float(np.sum((recalls[steps] - recalls[steps - 1]) * precisions[steps])) if n_gt else 0.0
    return ap, precisions, recalls


def compute_ap(
    gt_boxes,
    gt_class_ids,
    gt_masks,
    pred_boxes,
    pred_class_ids,
    pred_scores,
    pred_masks,
    iou_threshold: float = 0.5,
):
    """Per-image mask AP at one IoU threshold (Matterport's ``compute_ap``).

    Returns:
        ``(mAP, precisions, recalls, overlaps)``: float; float [P + 2]; float [P + 2];
        float [P, G] mask IoU (caller's prediction order).
    """
    gt_match, pred_match, overlaps = compute_matches(
        gt_boxes, gt_class_ids, gt_masks, pred_boxes, pred_class_ids, pred_scores, pred_masks,
        iou_threshold,
    )  # fmt: skip
    ap, precisions, recalls = ap_from_matches(pred_match > -1, pred_scores, gt_match.size)
    return ap, precisions, recalls, overlaps


def compute_ap_range(
    gt_box,
    gt_class_id,
    gt_mask,
    pred_box,
    pred_class_id,
    pred_score,
    pred_mask,
    iou_thresholds=None,
    verbose: int = 1,
) -> float:
    """Mean of :func:`compute_ap` over IoU thresholds (default 0.50:0.95:0.05)."""
    thresholds = IOU_RANGE if iou_thresholds is None else np.asarray(iou_thresholds)
    aps = []
    for t in thresholds:
        ap, *_ = compute_ap(
            gt_box, gt_class_id, gt_mask, pred_box, pred_class_id, pred_score, pred_mask, t
        )
        aps.append(ap)
        if verbose:
            print(f"AP @{t:.2f}:\t {ap:.3f}")
    mean = float(np.mean(aps)) if aps else 0.0
    if verbose:
        print(f"AP @{thresholds[0]:.2f}-{thresholds[-1]:.2f}:\t {mean:.3f}")
    return mean


def compute_recall(pred_boxes, gt_boxes, iou: float):
    """Box recall as Matterport defines it: the share of GT boxes that are the best match
    (highest IoU) of at least one predicted box with ``IoU >= iou``.

    Returns:
        ``(recall, positive_ids)``: float; int [K] indices of the predicted boxes whose best
        GT overlap reaches ``iou``.
    """
    overlaps = compute_overlaps(pred_boxes, gt_boxes)  # [P, G]
    n_gt = overlaps.shape[1]
    if n_gt == 0 or overlaps.shape[0] == 0:
        return 0.0, np.zeros(0, dtype=np.int64)
    best = overlaps.max(axis=1)
    positive_ids = np.flatnonzero(best >= iou)
    reached = np.unique(overlaps.argmax(axis=1)[positive_ids])
    return reached.size / n_gt, positive_ids


# ---------------------------------------------------------------------------- whole dataset


def evaluate_dataset(
    model_or_predictions,
    dataset,
    image_indices=None,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.0,
    keep_predictions: bool = False,
    progress: bool = False,
) -> dict:
    """Mask matching and AP at one IoU threshold over a dataset.

    Args:
        model_or_predictions: an object with ``detect(images)`` (Matterport contract), or a list
            of ``detect()`` dicts aligned with ``image_indices``.
        dataset: a prepared ``Dataset`` (``image_ids``, ``load_mask(i) -> (bool [H, W, G],
            int32 [G])`` with crowds as negative ids (ignored here), ``load_image`` when a model
            is given, ``class_names``).
        image_indices: dataset indices to evaluate (default: all).
        iou_threshold: mask IoU needed for a true positive.
        score_threshold: predictions below it are ignored entirely.
        keep_predictions: also return the predictions (needed by the error galleries).

    Returns:
        dict with ``mAP`` (float: mean of the per-image APs over images with ground truth,
        Matterport's number), ``iou_threshold``, ``class_names`` and ``per_image``: one dict per
        image with ``index``, ``image_id``, ``height``, ``width``, ``gt_class_ids`` int [G],
        ``gt_boxes`` int [G, 4], ``gt_areas`` int [G], ``pred_class_ids`` int [P],
        ``pred_scores`` float [P], ``pred_boxes`` int [P, 4], ``pred_areas`` int [P],
        ``overlaps`` float [P, G] (mask IoU), ``gt_match`` int [G], ``pred_match`` int [P] and
        ``ap`` (NaN for an image without ground truth).
    """
    from fashion_mrcnn.inference.detect import detect_dataset
    from fashion_mrcnn.ops.boxes import extract_bboxes

    indices = list(dataset.image_ids if image_indices is None else image_indices)
    if hasattr(model_or_predictions, "detect"):
        predictions = detect_dataset(model_or_predictions, dataset, indices, progress)
    else:
        predictions = list(model_or_predictions)
        if len(predictions) != len(indices):
            raise ValueError(f"{len(predictions)} predictions for {len(indices)} images")
    per_image = []
    for i, pred in zip(indices, predictions):
        gt_masks, gt_class_ids = dataset.load_mask(i)
        gt_class_ids = np.asarray(gt_class_ids).reshape(-1)
        not_crowd = gt_class_ids > 0  # negative ids are crowd regions: left out, as Matterport
        gt_masks = np.asarray(gt_masks, dtype=bool)[:, :, not_crowd]
        gt_class_ids = gt_class_ids[not_crowd]
        scores = np.asarray(pred["scores"], dtype=np.float64).reshape(-1)
        keep = scores >= score_threshold
        pred_masks = np.asarray(pred["masks"], dtype=bool)[:, :, keep]
        if pred_masks.shape[:2] != gt_masks.shape[:2]:
            raise ValueError(
                f"image {i}: prediction masks {pred_masks.shape[:2]} vs GT {gt_masks.shape[:2]}"
            )
        pred_class_ids = np.asarray(pred["class_ids"]).reshape(-1)[keep]
        scores = scores[keep]
        overlaps = compute_overlaps_masks(pred_masks, gt_masks)
        gt_match, pred_match = match_from_overlaps(
            overlaps, gt_class_ids, pred_class_ids, scores, iou_threshold
        )
        n_gt = gt_match.size
        ap = ap_from_matches(pred_match > -1, scores, n_gt)[0] if n_gt else float("nan")
        info = dataset.image_info[i] if hasattr(dataset, "image_info") else {}
        per_image.append(
            {
                "index": i,
                "image_id": info.get("id", i),
                "height": gt_masks.shape[0],
                "width": gt_masks.shape[1],
                "gt_class_ids": np.asarray(gt_class_ids, dtype=np.int64).reshape(-1),
                "gt_boxes": extract_bboxes(gt_masks),
                "gt_areas": gt_masks.sum(axis=(0, 1)).astype(np.int64),
                "pred_class_ids": pred_class_ids.astype(np.int64),
                "pred_scores": scores,
                "pred_boxes": extract_bboxes(pred_masks),
                "pred_areas": pred_masks.sum(axis=(0, 1)).astype(np.int64),
                "overlaps": overlaps,
                "gt_match": gt_match,
                "pred_match": pred_match,
                "ap": ap,
            }
        )
    aps = [r["ap"] for r in per_image if not np.isnan(r["ap"])]
    result = {
        "mAP": float(np.mean(aps)) if aps else 0.0,
        "iou_threshold": float(iou_threshold),
        "class_names": list(getattr(dataset, "class_names", [])),
        "per_image": per_image,
    }
    if keep_predictions:
        result["predictions"] = predictions
    return result
