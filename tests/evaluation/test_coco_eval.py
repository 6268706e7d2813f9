"""COCO evaluation wrapper: agrees with pycocotools run directly; builds GT from a dataset."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from fashion_mrcnn.evaluation.coco_eval import (
    STAT_NAMES,
    coco_evaluate,
    coco_image_id,
    dataset_to_coco,
    evaluate_coco,
    predictions_to_coco,
)


def _direct_stats(gt_path, res_path, iou_type):
    """pycocotools exactly as its README runs it, from the files."""
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        dt = gt.loadRes(str(res_path))
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def _masks(h, w, boxes):
    m = np.zeros((h, w, len(boxes)), dtype=bool)
    for k, (y1, x1, y2, x2) in enumerate(boxes):
        m[y1:y2, x1:x2, k] = True
    return m


class _TinyDataset:
    def __init__(self, masks, class_ids):
        self._masks, self._ids = masks, class_ids
        self.image_ids = np.arange(len(masks))
        self.image_info = [{"id": f"im{i}.jpg"} for i in range(len(masks))]
        self.class_names = ["BG", "dress", "skirt"]

    def load_mask(self, i):
        return self._masks[i], np.asarray(self._ids[i], np.int32)


def _pred(masks, class_ids, scores):
    from fashion_mrcnn.ops.boxes import extract_bboxes

    return {"rois": extract_bboxes(masks), "class_ids": np.array(class_ids),
            "scores": np.array(scores, np.float32), "masks": masks}  # fmt: skip


@pytest.fixture
def tiny():
    gt_masks = [
        _masks(64, 48, [(0, 0, 30, 20), (30, 20, 60, 45)]),
        _masks(64, 48, [(10, 10, 50, 40)]),
    ]
    ds = _TinyDataset(gt_masks, [[1, 2], [1]])
    preds = [
        _pred(_masks(64, 48, [(0, 0, 30, 18), (30, 20, 60, 45), (0, 30, 10, 40)]), [1, 2, 2],
              [0.9, 0.8, 0.95]),
        _pred(_masks(64, 48, [(12, 10, 50, 40)]), [1], [0.7]),
    ]  # fmt: skip
    return ds, preds


def test_dataset_to_coco_and_results_layout(tiny):
    ds, preds = tiny
    gt = dataset_to_coco(ds)
    assert [im["id"] for im in gt["images"]] == [1, 2]
    assert gt["images"][0] == {"id": 1, "file_name": "im0.jpg", "height": 64, "width": 48}
    assert [c["name"] for c in gt["categories"]] == ["dress", "skirt"]
    first = gt["annotations"][0]
    assert first["bbox"] == [0.0, 0.0, 20.0, 30.0] and first["area"] == 600
    assert first["category_id"] == 1 and isinstance(first["segmentation"]["counts"], str)
    res = predictions_to_coco(preds, [coco_image_id(i) for i in range(2)])
    assert len(res) == 4 and res[2]["score"] == pytest.approx(0.95)
    json.dumps(gt), json.dumps(res)  # JSON-serialisable


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_numbers_equal_pycocotools_on_the_same_files(tiny, tmp_path, iou_type):
    ds, preds = tiny
    gt = dataset_to_coco(ds)
    res = predictions_to_coco(preds, [1, 2])
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    direct = _direct_stats(tmp_path / "gt.json", tmp_path / "res.json", iou_type)
    ours = coco_evaluate(tmp_path / "gt.json", tmp_path / "res.json", iou_type=iou_type)
    from_dicts = coco_evaluate(gt, res, iou_type=iou_type)
    for k, name in enumerate(STAT_NAMES):
        assert ours[name] == direct[k]
        assert from_dicts[name] == direct[k]
    assert 0 < ours["AP"] < 1
    table = ours["per_class"]
    assert table.loc[1, "name"] == "dress" and table.loc[1, "n_gt"] == 2
    # the per-class AP averages to the overall AP (every class has GT here)
    assert table["AP"].mean() == pytest.approx(ours["AP"])


def test_perfect_and_empty_results(tiny):
    ds, _ = tiny
    masks = [ds.load_mask(i) for i in range(2)]
    perfect = [_pred(m, ids, [1.0] * len(ids)) for m, ids in masks]
    result = evaluate_coco(ds, perfect)
    assert result["segm"]["AP"] == 1.0 and result["bbox"]["AP"] == 1.0
    empty = coco_evaluate(dataset_to_coco(ds), [])
    assert empty["AP"] == 0.0 and list(empty["per_class"].index) == [1, 2]
    with pytest.raises(ValueError, match="iou_type"):
        coco_evaluate(dataset_to_coco(ds), [], iou_type="keypoints")


@pytest.mark.realdata
def test_ccp_ground_truth_as_results_scores_one_and_perturbed_matches_direct(ccp_dir, tmp_path):
    gt_path = ccp_dir / "coco" / "instances.json"
    gt = json.loads(gt_path.read_text())
    keep = {im["id"] for im in gt["images"][:60]}
    gt["images"] = [im for im in gt["images"] if im["id"] in keep]
    gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] in keep]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    res = [
        {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
         "segmentation": a["segmentation"], "score": 1.0}
        for a in gt["annotations"]
    ]  # fmt: skip
    perfect = coco_evaluate(tmp_path / "gt.json", res)
    assert perfect["AP"] == 1.0 and perfect["AR100"] == 1.0
    # perturb: drop every 5th result, relabel every 7th, lower the score of the rest in order
    pert = []
    for k, r in enumerate(res):
        if k % 5 == 0:
            continue
        r = dict(r, score=1.0 - k / (2 * len(res)))
        if k % 7 == 0:
            r["category_id"] = (r["category_id"] + 1) % 46
        pert.append(r)
    (tmp_path / "res.json").write_text(json.dumps(pert))
    for iou_type in ("segm", "bbox"):
        direct = _direct_stats(tmp_path / "gt.json", tmp_path / "res.json", iou_type)
        ours = coco_evaluate(tmp_path / "gt.json", tmp_path / "res.json", iou_type=iou_type)
        assert [ours[n] for n in STAT_NAMES] == direct.tolist()
        assert ours["AP"] < 1.0


@pytest.mark.realdata
def test_ccp_fashion_dataset_ground_truth_scores_one(ccp_dir):
    from fashion_mrcnn.data.dataset import FashionDataset

    ds = FashionDataset.from_imaterialist(
        ccp_dir / "train.csv", ccp_dir / "label_descriptions.json", ccp_dir / "images"
    )
    idx = list(ds.image_ids[:20])
    perfect = []
    for i in idx:
        masks, ids = ds.load_mask(i)
        perfect.append(_pred(masks, ids, np.linspace(1, 0.5, len(ids))))
    result = evaluate_coco(ds, perfect, idx)
    assert result["segm"]["AP"] == 1.0 and result["bbox"]["AP"] == 1.0
    gt = dataset_to_coco(ds, idx)
    assert len(gt["annotations"]) == sum(len(p["class_ids"]) for p in perfect)
    # dropping every prediction of image 0: AR100 = mean over classes of (n_c - d_c) / n_c,
    # with d_c the class-c instances of image 0 (recall is the same at every IoU threshold)
    fewer = coco_evaluate(gt, predictions_to_coco(perfect[1:], [coco_image_id(i) for i in idx[1:]]))
    all_ids = np.concatenate([p["class_ids"] for p in perfect])
    first = perfect[0]["class_ids"]
    expected = np.mean([1 - (first == c).sum() / (all_ids == c).sum() for c in np.unique(all_ids)])
    assert fewer["AR100"] == pytest.approx(expected) and expected < 1.0
    assert fewer["AP"] < 1.0


# ----------------------------------------------------------------------------- by hand
# Worked out on paper from the COCO definition, not from pycocotools' code: detections in score
# order are matched greedily to the best unmatched ground truth with IoU >= t; precision at
# recall r is the highest precision reached at any recall >= r (0 when r is never reached); AP
# at t is the mean of that over the 101 recall points 0, 0.01, ..., 1; AP is the mean over
# t = 0.50, 0.55, ..., 0.95 and AR the mean of the final recall over the same t. All boxes are
# integer rectangles, so mask IoU equals box IoU and both iou types give the same numbers.
#
# Case "interleaved": one 100 x 100 image, GT A = rows 0-10 x cols 0-10, GT B = 50-60 x 50-60.
#   d1 score 0.90 = A exactly               IoU(A) = 1
#   d2 score 0.85 = 80-90 x 80-90           IoU 0 with both: a false positive
#   d3 score 0.80 = 50-58 x 50-58, inside B IoU(B) = 64 / 100 = 0.64
# t in {0.50, 0.55, 0.60} (d3 matches B): TP FP TP, recall .5 .5 1, precision 1 .5 2/3;
#   r <= 0.5 (51 points) -> 1, r > 0.5 (50 points) -> 2/3: AP_t = (51 + 100/3) / 101 = 253/303
# t in {0.65, ..., 0.95} (7 thresholds; d3 misses): TP FP FP, recall stays .5:
#   AP_t = 51 / 101
# AP = (3 * 253/303 + 7 * 51/101) / 10 = 61/101; AP50 = 253/303; AP75 = 51/101
# AR100 = (3 * 1 + 7 * 0.5) / 10 = 0.65; AR1 (only d1 kept) = 0.5; every area is "small".
#
# Case "duplicate": GT A only. d1 score 0.9 = 0-8 x 0-8 (IoU 0.64), d2 score 0.8 = A exactly.
# t <= 0.60: d1 takes A (TP), d2 is a duplicate (FP): recall 1 1 -> AP_t = 1
# t >= 0.65: d1 FP, d2 TP: recall 0 1, precision 0 .5 -> 0.5 at every r: AP_t = 0.5
# AP = (3 * 1 + 7 * 0.5) / 10 = 0.65, AP50 = 1, AP75 = 0.5, AR1 = (3 * 1 + 7 * 0) / 10 = 0.3.
HAND_CASES = {
    "interleaved": (
        [(0, 0, 10, 10), (50, 50, 60, 60)],
        [((0, 0, 10, 10), 0.90), ((80, 80, 90, 90), 0.85), ((50, 50, 58, 58), 0.80)],
        {"AP": 61 / 101, "AP50": 253 / 303, "AP75": 51 / 101, "APs": 61 / 101, "APm": -1.0,
         "APl": -1.0, "AR1": 0.5, "AR10": 0.65, "AR100": 0.65},
    ),
    "duplicate": (
        [(0, 0, 10, 10)],
        [((0, 0, 8, 8), 0.9), ((0, 0, 10, 10), 0.8)],
        {"AP": 0.65, "AP50": 1.0, "AP75": 0.5, "AR1": 0.3, "AR100": 1.0},
    ),
}  # fmt: skip


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
@pytest.mark.parametrize("case", sorted(HAND_CASES))
def test_ap_matches_hand_computed_values(case, iou_type):
    gt_boxes, detections, expected = HAND_CASES[case]
    ds = _TinyDataset([_masks(100, 100, gt_boxes)], [[1] * len(gt_boxes)])
    boxes = [box for box, _ in detections]
    scores = [score for _, score in detections]
    pred = _pred(_masks(100, 100, boxes), [1] * len(boxes), scores)
    result = evaluate_coco(ds, [pred], iou_types=(iou_type,))[iou_type]
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, abs=1e-9), name


def test_ground_truth_converter_masks_boxes_areas_and_crowds():
    """dataset_to_coco on its own: its RLEs decode (with our decoder, not pycocotools') back to
    the dataset's masks, its boxes are ``extract_bboxes`` in [x, y, w, h], areas are pixel
    counts, a negative class id is a crowd of that class and an empty mask is left out."""
    from fashion_mrcnn.data.formats.coco_rle import coco_to_mask
    from fashion_mrcnn.ops.boxes import extract_bboxes

    rng = np.random.default_rng(7)
    h, w = 37, 29
    yy, xx = np.mgrid[:h, :w]
    blobs = np.stack(
        [(yy - cy) ** 2 / ry**2 + (xx - cx) ** 2 / rx**2 <= 1.0
         for cy, cx, ry, rx in [(10, 8, 6, 5), (25, 20, 9, 7), (30, 5, 3, 8)]]
        + [rng.random((h, w)) < 0.3, np.zeros((h, w), bool)],
        axis=2,
    )  # fmt: skip
    class_ids = [1, 2, -2, 1, 2]  # the third is a crowd of class 2, the fifth is empty
    ds = _TinyDataset([blobs], [class_ids])
    gt = dataset_to_coco(ds)
    anns = gt["annotations"]
    assert len(anns) == 4  # the empty mask is not an annotation
    boxes = extract_bboxes(blobs)
    for k, ann in enumerate(anns):
        assert ann["segmentation"]["size"] == [h, w]
        decoded = coco_to_mask(ann["segmentation"]).astype(bool)
        np.testing.assert_array_equal(decoded, blobs[:, :, k])
        y1, x1, y2, x2 = boxes[k]
        assert ann["bbox"] == [x1, y1, x2 - x1, y2 - y1]
        assert ann["area"] == int(blobs[:, :, k].sum())
        assert ann["category_id"] == abs(class_ids[k])
        assert ann["iscrowd"] == int(class_ids[k] < 0)
        assert ann["image_id"] == coco_image_id(0)
    assert [a["id"] for a in anns] == [1, 2, 3, 4]
