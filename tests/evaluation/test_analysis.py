"""Error analysis: per-class table, confusion, size buckets, galleries, run comparison."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_mrcnn.evaluation.analysis import (
    compare_runs,
    confusion_matrix,
    per_class_table,
    size_buckets,
    top_confused_pairs,
)
from fashion_mrcnn.evaluation.matching import evaluate_dataset
from fashion_mrcnn.viz.galleries import error_galleries
from tests.analysis_case import Tiny, analysis_case
from tests.analysis_case import prediction as _pred


@pytest.fixture
def case():
    return analysis_case()


def test_per_class_table_by_hand(case):
    ds, _, ev = case
    table = per_class_table(ev, train_counts={"dress": 300, "skirt": 40, 3: 7})
    assert list(table.index) == ["dress", "skirt", "shorts"]  # by training count
    dress, skirt, shorts = (table.loc[n] for n in ["dress", "skirt", "shorts"])
    assert (dress.n_gt, dress.n_pred, dress.tp, dress.fp, dress.fn) == (2, 1, 1, 0, 1)
    assert dress.recall == 0.5 and dress.precision == 1.0 and dress.ap50 == 0.5
    # skirt: the 0.9 "skirt" on the dress is an FP ranked first, then a TP: AP = 1 * 1/2 = 0.5
    assert (skirt.tp, skirt.fp, skirt.fn) == (1, 1, 0) and skirt.ap50 == pytest.approx(0.5)
    assert shorts.recall == 0.0 and shorts.precision == 0.0 and shorts.train_count == 7


def test_confusion_and_top_pairs(case):
    _, _, ev = case
    conf = confusion_matrix(ev)
    assert list(conf.index) == ["dress", "skirt", "shorts", "background"]
    assert list(conf.columns) == ["dress", "skirt", "shorts", "missed"]
    assert conf.loc["dress", "skirt"] == 1 and conf.loc["dress", "dress"] == 1
    assert conf.loc["skirt", "skirt"] == 1 and conf.loc["shorts", "missed"] == 1
    assert conf.loc["background", "shorts"] == 1
    assert int(conf.to_numpy().sum()) == 4 + 1  # every GT once, plus the unmatched prediction
    top = top_confused_pairs(conf)
    assert top.iloc[0].tolist() == ["dress", "skirt", 1, 0.5]
    assert len(top) == 1


def test_size_buckets_by_hand(case):
    _, _, ev = case
    # areas (32^2 = 1024, 96^2 = 9216): shorts 25 missed and skirt 400 found (small),
    # dress 3600 missed (medium), dress 10000 found (large)
    buckets = size_buckets(ev)
    assert buckets.loc["small"].tolist() == [2, 1, 0.5]
    assert buckets.loc["medium"].tolist() == [1, 0, 0.0]
    assert buckets.loc["large"].tolist() == [1, 1, 1.0]
    by_class = size_buckets(ev, by_class=True)
    assert by_class.loc[("dress", "medium"), "recall"] == 0.0
    assert by_class.loc[("dress", "large"), "recall"] == 1.0


# ------------------------------------------------------------------ ccp-fashion (real data)


@pytest.fixture(scope="module")
def ccp_val(ccp_dir):
    import json

    from fashion_mrcnn.data.dataset import FashionDataset

    ds = FashionDataset.from_imaterialist(
        ccp_dir / "train.csv", ccp_dir / "label_descriptions.json", ccp_dir / "images"
    )
    val = set(json.loads((ccp_dir / "splits.json").read_text())["val"][:25])
    idx = [i for i in ds.image_ids if ds.image_info[i]["id"] in val]
    return ds, idx


@pytest.mark.realdata
def test_ccp_ground_truth_is_perfect_and_perturbation_is_seen(ccp_val):
    import cv2

    ds, idx = ccp_val
    from fashion_mrcnn.ops.boxes import extract_bboxes

    gts = [ds.load_mask(i) for i in idx]
    perfect = [_pred(m, ids, np.linspace(1, 0.5, len(ids))) for m, ids in gts]
    ev = evaluate_dataset(perfect, ds, idx)
    assert ev["mAP"] == 1.0
    table = per_class_table(ev, ds)
    assert (table["ap50"] == 1.0).all() and (table["recall"] == 1.0).all()
    conf = confusion_matrix(ev)
    off_diag = conf.to_numpy().sum() - np.trace(conf.to_numpy()[:-1, :-1])
    assert off_diag == 0

    # perturb image 0: drop its first mask, give its second the class of another category,
    # erode the rest slightly (IoU stays > 0.5)
    masks, ids = gts[0]
    assert masks.shape[2] >= 3
    other = 1 if ids[1] != 1 else 2
    eroded = np.stack([cv2.erode(masks[:, :, k].astype(np.uint8), np.ones((3, 3), np.uint8))
                       for k in range(2, masks.shape[2])], -1).astype(bool)  # fmt: skip
    pm = np.concatenate([masks[:, :, 1:2], eroded], axis=-1)
    pids = np.concatenate([[other], ids[2:]])
    perturbed = [
        {"rois": extract_bboxes(pm), "class_ids": pids, "scores": np.linspace(1, 0.5, len(pids)),
         "masks": pm}
    ] + perfect[1:]  # fmt: skip
    ev2 = evaluate_dataset(perturbed, ds, idx)
    conf2 = confusion_matrix(ev2)
    name = ds.class_names
    assert conf2.loc[name[ids[0]], "missed"] == 1
    assert conf2.loc[name[ids[1]], name[other]] >= 1
    # expected image-0 AP computed by hand: n_gt GT, predictions ranked [wrong class, TPs...]
    n_gt = masks.shape[2]
    n_tp = masks.shape[2] - 2
    # precision envelope: after the leading FP, TP k has precision k / (k + 1)
    expected = sum(
        (1 / n_gt) * max(k / (k + 1) for k in range(j, n_tp + 1)) for j in range(1, n_tp + 1)
    )
    assert ev2["per_image"][0]["ap"] == pytest.approx(expected)
    assert ev2["mAP"] == pytest.approx((expected + len(idx) - 1) / len(idx))
    table2 = per_class_table(ev2, ds)
    assert table2.loc[name[ids[0]], "fn"] >= 1
    cmp = compare_runs(table, table2)
    assert cmp["delta_recall"].min() < 0


def test_images_without_ground_truth_or_predictions(tmp_path):
    empty_masks = np.zeros((10, 10, 0), bool)
    ds = Tiny([empty_masks, empty_masks], [[], []])
    none = {"rois": np.zeros((0, 4), np.int32), "class_ids": np.zeros(0, np.int32),
            "scores": np.zeros(0, np.float32), "masks": empty_masks}  # fmt: skip
    ev = evaluate_dataset([none, none], ds, keep_predictions=True)
    assert ev["mAP"] == 0.0 and np.isnan(ev["per_image"][0]["ap"])
    assert per_class_table(ev).empty
    conf = confusion_matrix(ev)
    assert conf.shape == (1, 1) and int(conf.iloc[0, 0]) == 0
    assert top_confused_pairs(conf).empty
    assert size_buckets(ev)["n_gt"].tolist() == [0, 0, 0]
    assert error_galleries(ev, ds, tmp_path) == {}
    # one spurious prediction: a false positive on an image without ground truth
    m = np.zeros((10, 10, 1), bool)
    m[2:5, 2:5] = True
    ev = evaluate_dataset([_pred(m, [1], [0.9]), none], ds, keep_predictions=True)
    table = per_class_table(ev)
    assert table.loc["dress", ["n_gt", "fp", "precision"]].tolist() == [0, 1, 0.0]
    assert confusion_matrix(ev).loc["background", "dress"] == 1
    assert set(error_galleries(ev, ds, tmp_path)) == {"fp_dress"}
