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
