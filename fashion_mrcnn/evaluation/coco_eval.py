"""COCO box / mask AP and AR through pycocotools' ``COCOeval``, from our datasets and predictions.

- :func:`dataset_to_coco` builds a COCO ground-truth dict from any prepared ``Dataset`` (masks
  from ``load_mask``; category ids = the dataset's internal class ids, names from
  ``class_names``; COCO image id = dataset index + 1, since COCO ids start at 1).
- :func:`predictions_to_coco` turns ``detect()`` dicts into a COCO results list.
- :func:`coco_evaluate` runs ``COCOeval`` (``iou_type`` ``"segm"`` or ``"bbox"``) on dicts or
  JSON paths and returns the 12 standard numbers plus a per-class table.

COCO boxes are ``[x, y, width, height]`` in pixels; masks are compressed RLE with ``counts`` as an
ASCII string (JSON-serialisable).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

STAT_NAMES = (
    "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
)  # fmt: skip
IOU_TYPES = ("segm", "bbox")


def coco_image_id(index: int) -> int:
    """COCO image id used for dataset index ``index`` (index + 1)."""
    return int(index) + 1


def encode_masks(masks: np.ndarray) -> list[dict]:
    """bool [H, W, N] -> N compressed COCO RLEs ``{"size": [H, W], "counts": str}``."""
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(f"masks must be [H, W, N], got {masks.shape}")
    if masks.shape[2] == 0:
        return []
    rles = mask_utils.encode(np.asfortranarray(masks.astype(np.uint8)))
    for r in rles:
        r["counts"] = r["counts"].decode("ascii")
    return rles


def _xywh(boxes: np.ndarray) -> np.ndarray:
    """[N, (y1, x1, y2, x2)] exclusive -> float [N, (x, y, w, h)]."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.stack([b[:, 1], b[:, 0], b[:, 3] - b[:, 1], b[:, 2] - b[:, 0]], axis=1)


def dataset_to_coco(dataset, image_indices: Sequence[int] | None = None) -> dict:
    """COCO ground truth (``images``, ``annotations``, ``categories``) from a prepared dataset.

    Args:
        dataset: ``image_ids``, ``image_info``, ``class_names``, ``load_mask(i) -> (bool
            [H, W, G], int32 [G])`` (internal class ids; a negative id marks a crowd region of
            class ``-id``, written with ``iscrowd`` 1).
        image_indices: subset of dataset indices (default all).

    Returns:
        A COCO dict; each annotation has compressed-RLE ``segmentation``, ``bbox`` [x, y, w, h],
        ``area`` (mask pixels) and ``iscrowd``. Empty masks are skipped.
    """
    from fashion_mrcnn.ops.boxes import extract_bboxes

    indices = list(dataset.image_ids if image_indices is None else image_indices)
    names = list(dataset.class_names)
    images, annotations = [], []
    for i in indices:
        masks, class_ids = dataset.load_mask(i)
        masks = np.asarray(masks, dtype=bool)
        info = dataset.image_info[i] if hasattr(dataset, "image_info") else {}
        images.append(
            {
                "id": coco_image_id(i),
                "file_name": str(info.get("id", i)),
                "height": int(masks.shape[0]),
                "width": int(masks.shape[1]),
            }
        )
        boxes = _xywh(extract_bboxes(masks))
        areas = masks.sum(axis=(0, 1))
        for k, (rle, cid) in enumerate(zip(encode_masks(masks), np.asarray(class_ids))):
            if areas[k] == 0:
                continue
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": coco_image_id(i),
                    "category_id": abs(int(cid)),
                    "segmentation": rle,
                    "bbox": boxes[k].tolist(),
                    "area": int(areas[k]),
                    "iscrowd": int(cid < 0),
                }
            )
    categories = [{"id": k, "name": names[k]} for k in range(1, len(names))]
    return {"images": images, "annotations": annotations, "categories": categories}


def predictions_to_coco(
    predictions: Sequence[dict],
    image_ids: Sequence[int],
    category_map: Mapping[int, int] | None = None,
) -> list[dict]:
    """COCO results from ``detect()`` dicts.

    Args:
        predictions: per image ``rois`` int [N, (y1, x1, y2, x2)], ``class_ids`` int [N],
            ``scores`` float [N], ``masks`` bool [H, W, N].
        image_ids: the COCO image id of each prediction (e.g. ``coco_image_id(index)``).
        category_map: class id -> COCO category id (default identity).

    Returns:
        list of ``{"image_id", "category_id", "bbox", "score", "segmentation"}``.
    """
    if len(predictions) != len(image_ids):
        raise ValueError(f"{len(predictions)} predictions but {len(image_ids)} image ids")
    results = []
    for pred, image_id in zip(predictions, image_ids):
        class_ids = np.asarray(pred["class_ids"]).reshape(-1)
        scores = np.asarray(pred["scores"], dtype=np.float64).reshape(-1)
        boxes = _xywh(pred["rois"])
        rles = encode_masks(np.asarray(pred["masks"], dtype=bool))
        for k in range(class_ids.size):
            cid = int(class_ids[k])
            results.append(
                {
                    "image_id": int(image_id),
                    "category_id": int(category_map[cid]) if category_map is not None else cid,
                    "bbox": boxes[k].tolist(),
                    "score": float(scores[k]),
                    "segmentation": rles[k],
                }
            )
    return results


def _load_gt(gt_coco) -> COCO:
    if isinstance(gt_coco, COCO):
        return gt_coco
    if isinstance(gt_coco, str | Path):
        with open(gt_coco) as f:
            gt_coco = json.load(f)
    if not isinstance(gt_coco, dict) or "annotations" not in gt_coco or "images" not in gt_coco:
        raise ValueError("gt_coco must be a COCO dict / JSON path with 'images' and 'annotations'")
    coco = COCO()
    data = copy.deepcopy(gt_coco)
    for ann in data["annotations"]:
        seg = ann.get("segmentation")
        if isinstance(seg, dict) and isinstance(seg.get("counts"), list):
            # uncompressed RLE: pycocotools treats these as crowd regions, compress them
            h, w = seg["size"]
            ann["segmentation"] = mask_utils.frPyObjects(seg, h, w)
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _load_results(results) -> list[dict]:
    if isinstance(results, str | Path):
        with open(results) as f:
            results = json.load(f)
    if not isinstance(results, list):
        raise ValueError("results must be a list of COCO result dicts or a JSON path")
    return results


def per_class_table(evaluator: COCOeval, coco_gt: COCO) -> pd.DataFrame:
    """Per-category AP, AP50, AP75, APs/m/l and AR100 from an evaluated ``COCOeval``.

    Values are NaN where the category has no ground truth (pycocotools' -1).
    """
    precision = evaluator.eval["precision"]  # [T, R, K, A, M]
    recall = evaluator.eval["recall"]  # [T, K, A, M]
    params = evaluator.params
    t50 = int(np.argmin(np.abs(params.iouThrs - 0.5)))
    t75 = int(np.argmin(np.abs(params.iouThrs - 0.75)))

    def mean(x):
        x = x[x > -1]
        return float(x.mean()) if x.size else float("nan")

    rows = []
    for k, cat_id in enumerate(params.catIds):
        cat = coco_gt.cats.get(cat_id, {})
        n_gt = len(coco_gt.getAnnIds(catIds=[cat_id], iscrowd=False))
        rows.append(
            {
                "category_id": cat_id,
                "name": cat.get("name", str(cat_id)),
                "n_gt": n_gt,
                "AP": mean(precision[:, :, k, 0, -1]),
                "AP50": mean(precision[t50, :, k, 0, -1]),
                "AP75": mean(precision[t75, :, k, 0, -1]),
                "APs": mean(precision[:, :, k, 1, -1]),
                "APm": mean(precision[:, :, k, 2, -1]),
                "APl": mean(precision[:, :, k, 3, -1]),
                "AR100": mean(recall[:, k, 0, -1]),
            }
        )
    return pd.DataFrame(rows).set_index("category_id")


def coco_evaluate(
    gt_coco,
    results,
    iou_type: str = "segm",
    image_ids: Sequence[int] | None = None,
    verbose: bool = False,
) -> dict:
    """Run pycocotools' COCOeval.

    Args:
        gt_coco: COCO dict, JSON path or ``COCO`` object.
        results: list of result dicts or a JSON path (``segmentation`` needed for ``"segm"``,
            ``bbox`` for ``"bbox"``).
        iou_type: ``"segm"`` (mask) or ``"bbox"``.
        image_ids: evaluate only these image ids (default: every GT image).
        verbose: print pycocotools' summary.

    Returns:
        dict with the 12 stats (``AP``, ``AP50``, ``AP75``, ``APs``, ``APm``, ``APl``, ``AR1``,
        ``AR10``, ``AR100``, ``ARs``, ``ARm``, ``ARl``; -1 where pycocotools reports no GT in a
        size range), ``per_class`` (DataFrame) and ``evaluator`` (the ``COCOeval``). With no
        results at all every AP / AR is 0.
    """
    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type must be one of {IOU_TYPES}, got {iou_type!r}")
    coco_gt = _load_gt(gt_coco)
    dets = _load_results(results)
    if iou_type == "segm" and any("segmentation" not in d for d in dets):
        raise ValueError("segm evaluation needs a 'segmentation' in every result")
    if not dets:
        stats = dict.fromkeys(STAT_NAMES, 0.0)
        cats = coco_gt.getCatIds()
        table = pd.DataFrame(
            {
                "name": [coco_gt.cats[c].get("name", str(c)) for c in cats],
                "n_gt": [len(coco_gt.getAnnIds(catIds=[c], iscrowd=False)) for c in cats],
                **{k: 0.0 for k in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100")},
            },
            index=pd.Index(cats, name="category_id"),
        )
        return {**stats, "per_class": table, "evaluator": None}
    if iou_type == "bbox":
        dets = [{k: v for k, v in d.items() if k != "segmentation"} for d in dets]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        coco_dt = coco_gt.loadRes(copy.deepcopy(dets))
        evaluator = COCOeval(coco_gt, coco_dt, iou_type)
        if image_ids is not None:
            evaluator.params.imgIds = list(image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    if verbose:
        print(out.getvalue())
    stats = {name: float(v) for name, v in zip(STAT_NAMES, evaluator.stats)}
    return {**stats, "per_class": per_class_table(evaluator, coco_gt), "evaluator": evaluator}


def evaluate_coco(
    dataset,
    predictions: Sequence[dict],
    image_indices: Sequence[int] | None = None,
    iou_types: Sequence[str] = ("segm", "bbox"),
) -> dict[str, dict]:
    """COCO evaluation of ``detect()`` predictions on a dataset: ``{iou_type: coco_evaluate()}``.

    ``predictions`` are aligned with ``image_indices`` (default all images) and use the dataset's
    internal class ids.
    """
    indices = list(dataset.image_ids if image_indices is None else image_indices)
    gt = dataset_to_coco(dataset, indices)
    results = predictions_to_coco(predictions, [coco_image_id(i) for i in indices])
    return {t: coco_evaluate(gt, results, iou_type=t) for t in iou_types}
