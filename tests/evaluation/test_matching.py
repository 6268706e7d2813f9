"""Matterport-style matching / AP functions and VOC box mAP, on hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_mrcnn.evaluation.matching import (
    ap_from_matches,
    compute_ap,
    compute_ap_range,
    compute_matches,
    compute_overlaps,
    compute_overlaps_masks,
    compute_recall,
    evaluate_dataset,
    trim_zeros,
)
from fashion_mrcnn.evaluation.voc import voc_map


def _masks(h, w, boxes):
    m = np.zeros((h, w, len(boxes)), dtype=bool)
    for k, (y1, x1, y2, x2) in enumerate(boxes):
        m[y1:y2, x1:x2, k] = True
    return m


def test_compute_overlaps_boxes_by_hand():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]])
    b = np.array([[0, 5, 10, 15], [20, 20, 30, 30]])
    iou = compute_overlaps(a, b)
    np.testing.assert_allclose(iou, [[50 / 150, 0], [0, 0]])


def test_compute_overlaps_masks_matches_box_iou_for_box_masks_and_random():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 20], [2, 3, 4, 9]])
    m = _masks(20, 20, boxes)
    np.testing.assert_allclose(compute_overlaps_masks(m, m), compute_overlaps(boxes, boxes))
    rng = np.random.default_rng(0)
    a, b = rng.random((9, 7, 4)) < 0.5, rng.random((9, 7, 3)) < 0.5
    ref = np.array([[(a[..., i] & b[..., j]).sum() / (a[..., i] | b[..., j]).sum()
                     for j in range(3)] for i in range(4)])  # fmt: skip
    np.testing.assert_allclose(compute_overlaps_masks(a, b), ref)
    assert compute_overlaps_masks(a, b[..., :0]).shape == (4, 0)


def test_trim_zeros():
    x = np.array([[1, 2, 3, 4], [0, 0, 0, 0]])
    assert trim_zeros(x).tolist() == [[1, 2, 3, 4]]


def test_compute_matches_greedy_by_score_and_class():
    gt_boxes = np.array([[0, 0, 10, 10], [0, 10, 10, 20]])
    gt_masks = _masks(10, 20, gt_boxes)
    pred_boxes = np.array([[0, 0, 10, 9], [0, 0, 10, 10], [0, 10, 10, 20]])
    pred_masks = _masks(10, 20, pred_boxes)
    gt_match, pred_match, overlaps = compute_matches(
        gt_boxes, [1, 2], gt_masks, pred_boxes, [1, 1, 3], [0.5, 0.9, 0.8], pred_masks
    )
    # pred 1 (score 0.9) takes GT 0; pred 0 (IoU 0.9 with GT 0) is left a duplicate; pred 2 has the
    # wrong class for GT 1
    assert gt_match.tolist() == [1, -1] and pred_match.tolist() == [-1, 0, -1]
    assert overlaps.shape == (3, 2) and overlaps[0, 0] == pytest.approx(0.9)
    gt_match, _, _ = compute_matches(
        gt_boxes, [1, 2], gt_masks, pred_boxes, [1, 1, 3], [0.5, 0.9, 0.8], pred_masks,
        class_agnostic=True,
    )  # fmt: skip
    assert gt_match.tolist() == [1, 2]


def test_ap_by_hand():
    # ranked TP, FP, TP with 3 GT: precision 1, 1/2, 2/3 at recall 1/3, 1/3, 2/3
    # envelope: 1 for recall (0, 1/3], 2/3 for (1/3, 2/3], 0 after -> AP = 1/3 + 2/9
    ap, precisions, recalls = ap_from_matches(np.array([1, 0, 1], bool), [0.9, 0.8, 0.7], 3)
    assert ap == pytest.approx(1 / 3 + 2 / 9)
    np.testing.assert_allclose(recalls, [0, 1 / 3, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(precisions, [1, 1, 2 / 3, 2 / 3, 0])
    assert ap_from_matches(np.zeros(0, bool), [], 2)[0] == 0.0


def test_compute_ap_range_and_recall():
    gt_boxes = np.array([[0, 0, 10, 10]])
    gt_masks = _masks(12, 12, gt_boxes)
    pred_boxes = np.array([[0, 0, 10, 8]])  # mask IoU 0.8
    pred_masks = _masks(12, 12, pred_boxes)
    args = (gt_boxes, [1], gt_masks, pred_boxes, [1], [0.9], pred_masks)
    assert compute_ap(*args, iou_threshold=0.5)[0] == 1.0
    assert compute_ap(*args, iou_threshold=0.85)[0] == 0.0
    # IoU 0.8 >= t for t = 0.50 .. 0.80 (7 of 10 thresholds)
    assert compute_ap_range(*args, verbose=0) == pytest.approx(0.7)
    recall, ids = compute_recall(pred_boxes, gt_boxes, 0.5)
    assert recall == 1.0 and ids.tolist() == [0]
    assert compute_recall(pred_boxes, gt_boxes, 0.9)[0] == 0.0


def test_voc_map_by_hand():
    gt = [
        {"boxes": np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), "class_ids": np.array([1, 2])},
        {"boxes": np.array([[0, 0, 10, 10]]), "class_ids": np.array([1])},
    ]
    preds = [
        {"rois": np.array([[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]]),
         "class_ids": np.array([1, 1, 2]), "scores": np.array([0.9, 0.95, 0.3])},
        {"rois": np.zeros((0, 4)), "class_ids": np.zeros(0, int), "scores": np.zeros(0)},
    ]  # fmt: skip
    result = voc_map(gt, preds, class_names=["BG", "dress", "skirt"])
    table = result["per_class"]
    # class 1: TP (0.95), FP duplicate (0.9), 2 GT -> precision 1 at recall 0.5 -> AP 0.5
    assert table.loc[1, "ap"] == pytest.approx(0.5)
    assert table.loc[1, ["tp", "fp", "n_gt"]].tolist() == [1, 1, 2]
    assert table.loc[2, "ap"] == 1.0 and table.loc[2, "name"] == "skirt"
    assert result["mAP"] == pytest.approx(0.75)


class _TinyDataset:
    """Matterport-style dataset over fixed masks (the evaluation only needs load_mask)."""

    def __init__(self, masks, class_ids):
        self._masks, self._ids = masks, class_ids
        self.image_ids = np.arange(len(masks))
        self.image_info = [{"id": f"im{i}"} for i in range(len(masks))]
        self.class_names = ["BG", "a", "b"]

    def load_mask(self, i):
        return self._masks[i], np.asarray(self._ids[i], np.int32)

    def load_image(self, i):
        return np.zeros((*self._masks[i].shape[:2], 3), np.uint8)


def test_evaluate_dataset_with_predictions_and_fake_model():
    m0 = _masks(10, 10, [(0, 0, 5, 5), (5, 5, 10, 10)])
    m1 = _masks(10, 10, [(0, 0, 10, 10)])
    ds = _TinyDataset([m0, m1], [[1, 2], [1]])
    preds = [
        {"rois": None, "class_ids": np.array([1, 2]), "scores": np.array([0.9, 0.8]), "masks": m0},
        {"rois": None, "class_ids": np.array([2]), "scores": np.array([0.9]), "masks": m1},
    ]
    result = evaluate_dataset(preds, ds)
    assert result["mAP"] == pytest.approx(0.5)  # image 0 AP 1, image 1 AP 0
    first = result["per_image"][0]
    assert first["image_id"] == "im0" and first["gt_match"].tolist() == [0, 1]
    assert first["gt_boxes"].tolist() == [[0, 0, 5, 5], [5, 5, 10, 10]]
    assert first["gt_areas"].tolist() == [25, 25]

    class Model:
        class config:  # noqa: N801
            BATCH_SIZE = 2

        def detect(self, images):
            assert len(images) == 2
            return preds[: len(images)]

    assert evaluate_dataset(Model(), ds)["mAP"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="predictions"):
        evaluate_dataset(preds[:1], ds)


@pytest.mark.realdata
def test_ccp_voc_map_self_is_one_and_dropped_box_by_hand(ccp_dir):
    from fashion_mrcnn.data.dataset import FashionDataset
    from fashion_mrcnn.ops.boxes import extract_bboxes

    ds = FashionDataset.from_imaterialist(
        ccp_dir / "train.csv", ccp_dir / "label_descriptions.json", ccp_dir / "images"
    )
    idx = list(ds.image_ids[:30])
    gt = []
    for i in idx:
        masks, ids = ds.load_mask(i)
        gt.append({"boxes": extract_bboxes(masks), "class_ids": ids})
    preds = [{"rois": g["boxes"], "class_ids": g["class_ids"],
              "scores": np.linspace(1, 0.5, len(g["class_ids"]))} for g in gt]  # fmt: skip
    assert voc_map(gt, preds)["mAP"] == 1.0
    # drop the first box of image 0: its class c loses one of its n_c GT, everything else exact
    c = int(gt[0]["class_ids"][0])
    n_c = sum(int((g["class_ids"] == c).sum()) for g in gt)
    n_classes = len({int(k) for g in gt for k in g["class_ids"]})
    dropped = [dict(preds[0], rois=preds[0]["rois"][1:], class_ids=preds[0]["class_ids"][1:],
                    scores=preds[0]["scores"][1:])] + preds[1:]  # fmt: skip
    result = voc_map(gt, dropped, class_names=ds.class_names)
    assert result["per_class"].loc[c, "ap"] == pytest.approx((n_c - 1) / n_c)
    assert result["mAP"] == pytest.approx((n_classes - 1 + (n_c - 1) / n_c) / n_classes)
