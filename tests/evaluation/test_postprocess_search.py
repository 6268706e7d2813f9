"""Post-processing search on hand-made cached detections (numpy / pandas, no model): the
coordinate ascent, the mask threshold on soft masks (and its skip on detections without them),
the detections cache (soft masks kept; an older cache without them reused, the skip said)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from fashion_mrcnn.data.formats.rle import encode
from fashion_mrcnn.evaluation.kaggle import kaggle_metric
from fashion_mrcnn.evaluation.kaggle2020 import kaggle_metric_2020
from fashion_mrcnn.evaluation.postprocess_search import (
    CACHE_INDEX,
    MASK_THRESHOLD_SKIPPED,
    SOFT_MASK_FORMAT,
    cached_detections,
    search_postprocess,
    to_2020_layout,
)
from fashion_mrcnn.inference.postprocess import apply_postprocess
from fashion_mrcnn.submission import make_submission

SIZE = (32, 32)
CLASS_MAP = {1: "10", 2: "20"}


def _mask(y1, x1, y2, x2):
    m = np.zeros(SIZE, dtype=bool)
    m[y1:y2, x1:x2] = True
    return m


def _detections(boxes, class_ids, scores):
    """A ``detect()`` dict whose masks fill their boxes."""
    masks = np.stack([_mask(*b) for b in boxes], axis=-1)
    return {
        "rois": np.array(boxes, dtype=np.int32),
        "class_ids": np.array(class_ids, dtype=np.int32),
        "scores": np.array(scores, dtype=np.float32),
        "masks": masks,
    }


def _gt(boxes_by_image):
    rows = [
        (image_id, encode(_mask(*box)), SIZE[0], SIZE[1], category)
        for image_id, items in boxes_by_image.items()
        for box, category in items
    ]
    return pd.DataFrame(rows, columns=["ImageId", "EncodedPixels", "Height", "Width", "ClassId"])


@pytest.fixture
def case():
    """One image: a true class-1 and a true class-2 garment; a class-1 near duplicate of the
    first (box IoU 0.5, score 0.8) that only NMS removes, and a low-score class-1 false positive
    (0.1) that a score threshold removes."""
    gt = _gt({"a": [((4, 4, 16, 16), "10"), ((18, 18, 30, 30), "20")]})
    det = _detections(
        [(4, 4, 16, 16), (4, 8, 16, 20), (18, 18, 30, 30), (0, 20, 4, 30)],
        [1, 1, 2, 1],
        [0.9, 0.8, 0.5, 0.1],
    )
    return gt, [det], ["a"]


def test_search_finds_the_threshold_and_nms_that_remove_the_false_positives(case):
    gt, dets, ids = case
    grid = {"score_threshold": (0.0, 0.2, 0.6), "nms_iou": (None, 0.3)}
    table, best = search_postprocess(dets, ids, gt, CLASS_MAP, size=SIZE, grid=grid)
    baseline = table.loc[table["step"] == 0, "score"].item()
    assert baseline < 0.7
    assert best.score_threshold == 0.2 and best.nms_iou == 0.3
    assert table["score"].iloc[0] == pytest.approx(1.0)
    assert table["score"].is_monotonic_decreasing
    assert len(table) == 4  # 3 thresholds, then 1 new NMS value (None is the current setting)


def test_apply_postprocess_gives_what_the_search_scored(case):
    gt, dets, ids = case
    table, best = search_postprocess(
        dets, ids, gt, CLASS_MAP, size=SIZE, grid={"score_threshold": (0.0, 0.2), "nms_iou": (0.3,)}
    )
    kept = apply_postprocess(dets[0], best)
    np.testing.assert_array_equal(kept["scores"], np.float32([0.9, 0.5]))
    np.testing.assert_array_equal(kept["class_ids"], [1, 2])
    assert kept["masks"].shape == (*SIZE, 2) and kept["rois"].shape == (2, 4)
    sub = make_submission([kept], ids, None, size=SIZE, class_map=CLASS_MAP, placeholder=None)
    assert kaggle_metric(gt, sub, pred_size=SIZE) == pytest.approx(table["score"].iloc[0])


def test_per_class_thresholds_after_the_global_one():
    """Class 1's only (true) detection scores 0.3, class 2 has a true 0.9 and a false 0.6: no
    global threshold gets both right, a class-2 threshold does."""
    gt = _gt({"a": [((4, 4, 16, 16), "10"), ((18, 18, 30, 30), "20")]})
    det = _detections(
        [(4, 4, 16, 16), (18, 18, 30, 30), (0, 20, 4, 30)], [1, 2, 2], [0.3, 0.9, 0.6]
    )
    grid = {"score_threshold": (0.0, 0.5, 0.7), "class_thresholds": (0.0, 0.7)}
    table, best = search_postprocess([det], ["a"], gt, CLASS_MAP, size=SIZE, grid=grid)
    assert best.score_threshold == 0.0
    assert dict(best.class_thresholds) == {2: 0.7}
    assert table["score"].iloc[0] == pytest.approx(1.0)
    assert table["class_thresholds"].iloc[0] == "2:0.7"


def test_cached_detections_are_reused_for_the_same_key_only(tmp_path):
    det = _detections([(0, 0, 4, 4)], [1], [0.5])
    calls = []

    def run():
        calls.append(1)
        return [det]

    first, reused = cached_detections(tmp_path, {"weights": "w1"}, ["a"], run)
    assert not reused and len(calls) == 1
    again, reused = cached_detections(tmp_path, {"weights": "w1"}, ["a"], run)
    assert reused and len(calls) == 1
    for key in ("rois", "class_ids", "scores", "masks"):
        np.testing.assert_array_equal(again[0][key], det[key])
    _, reused = cached_detections(tmp_path, {"weights": "w2"}, ["a"], run)
    assert not reused and len(calls) == 2


def _ringed_case():
    """One class-1 garment at (4, 4, 16, 16); one detection whose soft mask is 0.8 on the centre
    (6, 6, 14, 14), 0.4 on the rest of the garment and 0.3 on a ring around it (2, 2, 18, 18):
    at 0.5 its mask is the centre only (IoU 0.44, scoring 0); 0.35 .. 0.4 give the garment."""
    gt = _gt({"a": [((4, 4, 16, 16), "10")]})
    det = _detections([(2, 2, 18, 18)], [1], [0.9])
    soft = np.zeros((*SIZE, 1), np.uint8)
    soft[2:18, 2:18] = 60
    soft[4:16, 4:16] = 80
    soft[6:14, 6:14] = 160
    det["soft_masks"] = soft
    det["masks"] = soft >= 100  # what detect binarised at 0.5
    return gt, [det], ["a"]


def test_search_picks_a_mask_threshold_better_than_one_half():
    gt, dets, ids = _ringed_case()
    grid = {"mask_threshold": (0.3, 0.4, 0.5, 0.6)}
    table, best = search_postprocess(dets, ids, gt, CLASS_MAP, size=SIZE, grid=grid)
    assert best.mask_threshold == 0.4 and table["score"].iloc[0] == pytest.approx(1.0)
    by_threshold = {
        (None if pd.isna(t) else t): v for t, v in zip(table["mask_threshold"], table["score"])
    }
    assert by_threshold[None] == by_threshold[0.5] == 0.0  # unset: detect's masks at 0.5
    assert by_threshold[0.3] == pytest.approx(0.2)  # IoU 0.56: matched at 0.5 and 0.55 only
    # the default grid searches it too
    _, best = search_postprocess(dets, ids, gt, CLASS_MAP, size=SIZE)
    assert 0.3 < best.mask_threshold <= 0.4


def test_old_cache_without_soft_masks_is_reused_and_the_mask_threshold_skipped(tmp_path, caplog):
    gt, dets, ids = _ringed_case()
    old = {k: v for k, v in dets[0].items() if k != "soft_masks"}
    cached_detections(tmp_path, {"weights": "w1"}, ids, lambda: [old])
    index = tmp_path / CACHE_INDEX
    written = json.loads(index.read_text())
    assert written["soft_masks"] is None
    del written["soft_masks"]  # an index written before soft masks were kept
    index.write_text(json.dumps(written))

    def run_again():
        raise AssertionError("the old cache should be reused")

    with caplog.at_level(logging.WARNING):
        found, reused = cached_detections(tmp_path, {"weights": "w1"}, ids, run_again)
        assert reused and "soft_masks" not in found[0]
        table, best = search_postprocess(
            found, ids, gt, CLASS_MAP, size=SIZE, grid={"mask_threshold": (0.3, 0.4)}
        )
    assert f"{tmp_path}: reused; it holds no soft masks" in caplog.text
    assert caplog.text.count(MASK_THRESHOLD_SKIPPED) == 2  # the cache's warning, the search's
    assert best.mask_threshold is None and len(table) == 1 and table["mask_threshold"].isna().all()


def test_cache_keeps_soft_masks_and_reruns_for_another_format(tmp_path):
    _, dets, ids = _ringed_case()
    calls = []

    def run():
        calls.append(1)
        return dets

    cached_detections(tmp_path, {"weights": "w1"}, ids, run)
    assert json.loads((tmp_path / CACHE_INDEX).read_text())["soft_masks"] == SOFT_MASK_FORMAT
    found, reused = cached_detections(tmp_path, {"weights": "w1"}, ids, run)
    assert reused and len(calls) == 1
    assert found[0]["soft_masks"].dtype == np.uint8
    np.testing.assert_array_equal(found[0]["soft_masks"], dets[0]["soft_masks"])
    index = json.loads((tmp_path / CACHE_INDEX).read_text())
    (tmp_path / CACHE_INDEX).write_text(json.dumps({**index, "soft_masks": "float16"}))
    _, reused = cached_detections(tmp_path, {"weights": "w1"}, ids, run)
    assert not reused and len(calls) == 2


def test_metric_2020_scores_the_2020_layout(case):
    gt, dets, ids = case
    gt2020 = gt.assign(AttributesIds="")
    grid = {"score_threshold": (0.0, 0.2), "nms_iou": (0.3,)}
    table, best = search_postprocess(dets, ids, gt2020, CLASS_MAP, "2020", SIZE, grid)
    assert best.score_threshold == 0.2 and best.nms_iou == 0.3
    assert table["score"].iloc[0] == pytest.approx(1.0)
    sub = to_2020_layout(
        pd.DataFrame({"ImageId": ["a"], "EncodedPixels": ["1 2"], "ClassId": ["10_1_2"]})
    )
    assert sub[["ClassId", "AttributesIds"]].values.tolist() == [["10", "1,2"]]


GT_SIZE = (48, 40)  # the ground truth's own size: resized to SIZE for scoring


def _mixed_case(metric: str):
    """Two images whose ground truth (at GT_SIZE, with attributes) is resized to SIZE, and
    detections with near duplicates, false positives and attribute-carrying classes, so that
    the candidates of a search score differently."""
    boxes = {
        "a": [((6, 5, 24, 20), "10", "1,2"), ((27, 22, 45, 38), "20", "")],
        "b": [((3, 3, 30, 15), "20", "5"), ((33, 20, 48, 40), "10", "")],
    }
    rows = []
    for image_id, items in boxes.items():
        for (y1, x1, y2, x2), category, attrs in items:
            mask = np.zeros(GT_SIZE, dtype=bool)
            mask[y1:y2, x1:x2] = True
            rows.append((image_id, encode(mask), *GT_SIZE, category, attrs))
    gt = pd.DataFrame(
        rows, columns=["ImageId", "EncodedPixels", "Height", "Width", "ClassId", "AttributesIds"]
    )
    if metric == "2019":
        suffix = np.where(
            gt["AttributesIds"] == "", "", "_" + gt["AttributesIds"].str.replace(",", "_")
        )
        gt = gt.assign(ClassId=gt["ClassId"] + suffix).drop(columns="AttributesIds")
    dets = [
        _detections(
            [(4, 4, 16, 16), (4, 6, 16, 18), (18, 18, 30, 30), (0, 20, 4, 30)],
            [1, 1, 2, 3],
            [0.9, 0.7, 0.45, 0.15],
        ),
        _detections(
            [(2, 2, 20, 12), (22, 16, 32, 32), (10, 10, 20, 20)], [2, 1, 2], [0.8, 0.35, 0.55]
        ),
    ]
    return gt, dets, ["a", "b"]


CLASS_MAP_ATTRS = {1: "10_1_2", 2: "20_5", 3: "20"}
SEARCH_GRID = {
    "score_threshold": (0.0, 0.2, 0.5),
    "nms_iou": (None, 0.3),
    "max_instances": (None, 1),
    "overlap": ("all", "none"),
    "min_area": (0, 100),
    "class_thresholds": (0.0, 0.6),
}


@pytest.mark.parametrize("metric", ["2019", "2020"])
def test_search_scores_equal_the_public_scorers_on_the_frame(metric, monkeypatch):
    """Every candidate's score, computed on the ground truth decoded once, is exactly the score
    of the public scorer called on the ground-truth frame (decoded afresh) for its submission."""
    from fashion_mrcnn.evaluation import postprocess_search

    gt, dets, ids = _mixed_case(metric)
    seen = []
    original = postprocess_search.score_setting

    def spy(*args):
        value = original(*args)
        seen.append((args[3], value))
        return value

    monkeypatch.setattr(postprocess_search, "score_setting", spy)
    table, _ = search_postprocess(dets, ids, gt, CLASS_MAP_ATTRS, metric, SIZE, SEARCH_GRID)
    assert len(seen) == len(table) >= 10
    public = {"2019": kaggle_metric, "2020": kaggle_metric_2020}[metric]
    for setting, value in seen:
        kept = [apply_postprocess(d, setting) for d in dets]
        sub = make_submission(
            kept, ids, None, size=SIZE, overlap=setting.overlap, class_map=CLASS_MAP_ATTRS,
            placeholder=None,
        )  # fmt: skip
        if metric == "2020":
            sub = to_2020_layout(sub)
        assert value == public(gt, sub, pred_size=SIZE), setting.describe()
    assert sorted(table["score"]) == sorted(v for _, v in seen)
    assert len({v for _, v in seen}) >= 3  # the candidates really differ


@pytest.mark.parametrize("metric", ["2019", "2020"])
def test_search_decodes_the_ground_truth_once(metric, monkeypatch):
    from fashion_mrcnn.evaluation import kaggle

    gt, dets, ids = _mixed_case(metric)
    calls = []
    original = kaggle._gt_masks

    def counting(*args, **kwargs):
        calls.append(args[3])  # pred_size
        return original(*args, **kwargs)

    monkeypatch.setattr(kaggle, "_gt_masks", counting)
    table, _ = search_postprocess(dets, ids, gt, CLASS_MAP_ATTRS, metric, SIZE, SEARCH_GRID)
    assert len(table) >= 10
    assert calls == [SIZE]
