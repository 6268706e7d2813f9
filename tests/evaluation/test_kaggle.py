"""iMaterialist 2019 Kaggle metric: hand-worked cases, assignment, resizing, errors, ccp-fashion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fashion_mrcnn.data.formats.rle import decode
from fashion_mrcnn.errors import FashionDataError, RLEError
from fashion_mrcnn.evaluation.kaggle import (
    THRESHOLDS,
    class_scores,
    kaggle_metric,
    load_ground_truth,
    max_matches,
)
from fashion_mrcnn.evaluation.kaggle_report import score_files
from tests.evaluation.eval_helpers import box_mask, gt_frame, pred_frame

H, W = 20, 30
A = box_mask(H, W, 0, 0, 10, 10)  # 100 px
B = box_mask(H, W, 10, 10, 20, 20)  # 100 px, disjoint from A
C = box_mask(H, W, 0, 20, 10, 30)


def test_thresholds():
    np.testing.assert_allclose(THRESHOLDS, [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95])


def test_perfect_match_is_one():
    gt = gt_frame([("a", A, "1"), ("a", B, "2"), ("b", C, "10_1_2")])
    pred = pred_frame([("a", B, "2"), ("a", A, "1"), ("b", C, "10_1_2")])
    assert kaggle_metric(gt, pred) == 1.0


def test_missing_and_spurious_class_score_zero_for_that_class():
    gt = gt_frame([("a", A, "1"), ("a", B, "2")])
    assert kaggle_metric(gt, pred_frame([("a", A, "1")])) == pytest.approx(0.5)
    gt = gt_frame([("a", A, "1")])
    assert kaggle_metric(gt, pred_frame([("a", A, "1"), ("a", C, "3")])) == pytest.approx(0.5)


def test_partial_iou_by_hand():
    # prediction covers 72 of the GT's 100 pixels: IoU 0.72 > t for t = 0.50 .. 0.70 (5 of 10)
    pred_mask = A.copy()
    pred_mask[:, 7:10] = False  # 70 px left
    pred_mask[0, 7:9] = True  # 72 px
    assert pred_mask.sum() == 72
    gt = gt_frame([("a", A, "1")])
    assert kaggle_metric(gt, pred_frame([("a", pred_mask, "1")])) == pytest.approx(0.5)


def test_extra_mask_of_the_right_class_costs_a_false_positive():
    # TP 1, FP 1, FN 1 at every threshold: 1 / 3; the confidence of the extra mask is irrelevant
    gt = gt_frame([("a", A, "1"), ("a", B, "1")])
    pred = pred_frame([("a", A, "1"), ("a", C, "1")])
    assert kaggle_metric(gt, pred) == pytest.approx(1 / 3)


def test_attributes_are_part_of_the_class():
    gt = gt_frame([("a", A, "10_1_2")])
    assert kaggle_metric(gt, pred_frame([("a", A, "10")])) == 0.0
    assert kaggle_metric(gt, pred_frame([("a", A, "10_1_2")])) == 1.0


def test_image_without_predictions_scores_zero_and_images_are_averaged():
    gt = gt_frame([("a", A, "1"), ("b", B, "2"), ("c", C, "3"), ("d", C, "3")])
    pred = pred_frame([("a", A, "1"), ("b", B, "2"), ("zzz", C, "3")])  # zzz not in GT: ignored
    score, details = kaggle_metric(gt, pred, return_details=True)
    assert score == pytest.approx(0.5)
    assert details["pred_images_not_in_gt"] == ["zzz"]
    per_image = details["per_image"].set_index("ImageId")["score"]
    assert per_image.to_dict() == {"a": 1.0, "b": 1.0, "c": 0.0, "d": 0.0}


def test_empty_prediction_rows_are_skipped():
    gt = gt_frame([("a", A, "1"), ("b", B, "2")])
    pred = pred_frame([("a", A, "1"), ("b", None, "23")])
    assert kaggle_metric(gt, pred) == pytest.approx(0.5)
    # Kaggle's "1 1" placeholder is a real one-pixel mask of class 23: a spurious class
    pred = pd.DataFrame(
        [("a", "1 1", "23"), ("a", pred_frame([("a", A, "1")])["EncodedPixels"][0], "1")],
        columns=["ImageId", "EncodedPixels", "ClassId"],
    )
    assert kaggle_metric(gt_frame([("a", A, "1")]), pred) == pytest.approx(0.5)


def test_maximum_matching_beats_greedy():
    edges = np.array([[True, True], [True, False]])
    assert max_matches(edges) == 2  # greedy taking (0, 0) first would find 1
    ious = np.array([[0.9, 0.6], [0.6, 0.0]])
    per_t = class_scores(ious)
    # t = 0.50, 0.55: both pairs match -> 2 / (2 + 2 - 2) = 1; t = 0.60 .. 0.85: only (0, 0)
    # -> 1 / (2 + 2 - 1); t = 0.90, 0.95: IoU 0.9 is not > t -> 0
    expected = [1.0, 1.0] + [1 / 3] * 6 + [0.0, 0.0]
    np.testing.assert_allclose(per_t, expected)
    assert class_scores(np.zeros((0, 3))).tolist() == [0.0] * 10


def test_pred_size_resizes_ground_truth_nearest():
    big = np.zeros((40, 60), dtype=bool)
    big[8:24, 12:36] = True  # multiples of 2 so the 2x nearest downsample is exact
    small = big[::2, ::2]
    gt = gt_frame([("a", big, "5")])
    assert kaggle_metric(gt, pred_frame([("a", small, "5")]), pred_size=(20, 30)) == 1.0
    with pytest.raises(RLEError, match="past height"):
        kaggle_metric(gt, pred_frame([("a", big, "5")]), pred_size=(20, 30))


def test_prepared_ground_truth_scores_as_the_table_and_refuses_another_size():
    big = np.zeros((40, 60), dtype=bool)
    big[8:24, 12:36] = True
    gt = gt_frame([("a", big, "5"), ("a", box_mask(40, 60, 0, 0, 6, 6), "7"), ("b", big, "5")])
    pred = pred_frame([("a", big[::2, ::2], "5"), ("b", box_mask(20, 30, 4, 6, 10, 20), "5")])
    prepared = load_ground_truth(gt, 2019, (20, 30))
    for _ in range(2):  # reusable: scoring does not consume or change it
        got = kaggle_metric(prepared, pred, return_details=True, pred_size=(20, 30))
        want = kaggle_metric(gt, pred, return_details=True, pred_size=(20, 30))
        assert got[0] == want[0] and 0 < got[0] < 1
        pd.testing.assert_frame_equal(got[1]["groups"], want[1]["groups"])
    with pytest.raises(ValueError, match=r"at pred_size \(20, 30\); scored .* at \(40, 60\)"):
        kaggle_metric(prepared, pred, pred_size=(40, 60))
    with pytest.raises(ValueError, match=r"at pred_size \(20, 30\); scored .* at None"):
        kaggle_metric(prepared, pred)
    with pytest.raises(FashionDataError, match="ground truth: no data rows, only a header"):
        load_ground_truth(gt_frame([]))


def test_csv_files_and_score_files(tmp_path, capsys):
    gt = gt_frame([("a", A, "1"), ("a", B, "2")])
    pred = pred_frame([("a", A, "1")])
    gt.to_csv(tmp_path / "gt.csv", index=False)
    pred.to_csv(tmp_path / "pred.csv", index=False)
    assert score_files(tmp_path / "gt.csv", tmp_path / "pred.csv") == pytest.approx(0.5)
    out = capsys.readouterr().out
    assert "0.50000" in out and "ClassId" in out


def test_bad_input_names_file_row_and_image(tmp_path):
    gt = gt_frame([("a", A, "1")])
    pred = pd.DataFrame(
        [("a", "1 2", "1"), ("a", "5 3 1 2", "1")], columns=["ImageId", "EncodedPixels", "ClassId"]
    )
    pred.to_csv(tmp_path / "pred.csv", index=False)
    with pytest.raises(RLEError, match=r"pred\.csv line 3 \(image a, class 1\).*increasing"):
        kaggle_metric(gt, tmp_path / "pred.csv")
    bad_class = pd.DataFrame(
        [("a", "1 2", "23.0")], columns=["ImageId", "EncodedPixels", "ClassId"]
    )
    with pytest.raises(FashionDataError, match=r"ClassId '23\.0' is not '<category>\[_<attribute>"):
        kaggle_metric(gt, bad_class)
    with pytest.raises(FashionDataError, match="missing column"):
        kaggle_metric(gt, bad_class.drop(columns="ClassId"))


def test_no_common_image_id_is_refused_with_examples_from_each_side():
    gt = gt_frame([("a.jpg", A, "1"), ("b.jpg", B, "2"), ("c.jpg", C, "1"), ("d.jpg", C, "1")])
    pred = pred_frame([("a", A, "1"), ("b", B, "2")])  # ids without the extension
    with pytest.raises(FashionDataError, match="no ImageId in common") as info:
        kaggle_metric(gt, pred)
    msg = str(info.value)
    assert "ground truth (4 images, e.g. a.jpg, b.jpg, c.jpg, ...)" in msg
    assert "predictions (2 images, e.g. a, b)" in msg


def test_partial_overlap_warns_with_counts(caplog):
    gt = gt_frame([("a", A, "1"), ("b", B, "2"), ("c", C, "1")])
    pred = pred_frame([("a", A, "1"), ("z", B, "2")])
    with caplog.at_level("WARNING"):
        score = kaggle_metric(gt, pred)
    assert score == pytest.approx(1 / 3)  # b and c score 0, z is ignored
    (msg,) = [r.getMessage() for r in caplog.records]
    assert "covers 1 of the 3 ground-truth images (2 without a prediction row score 0)" in msg
    assert "1 predicted images are not in the ground truth" in msg
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert kaggle_metric(gt, pred_frame([("a", A, "1"), ("b", B, "2"), ("c", C, "1")])) == 1
    assert not caplog.records  # full overlap: silent


def test_empty_tables(caplog):
    gt = gt_frame([("a", A, "1")])
    with caplog.at_level("WARNING"):
        assert kaggle_metric(gt, pred_frame([])) == 0.0  # a model that found nothing
    assert "no prediction rows; every ground-truth image scores 0" in caplog.text
    with pytest.raises(FashionDataError, match="no ImageId in common"):
        kaggle_metric(gt, pred_frame([]), allow_empty_predictions=False)
    with pytest.raises(FashionDataError, match="ground truth: no data rows, only a header"):
        kaggle_metric(gt_frame([]), pred_frame([("a", A, "1")]))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"pred\.csv: empty file; the predictions CSV needs a header"),
        (b"\x89PNG\r\n\x1a\n\x00\x00IHDR\xff\xd8", r"pred\.csv: not a UTF-8 text file"),
        (b'ImageId,EncodedPixels,ClassId\n"a,1 2,1\n', r"pred\.csv: cannot parse"),
        (b"ImageId,EncodedPixels,ClassId\n", r"no ImageId in common .*pred\.csv \(no rows\)"),
    ],
    ids=["zero bytes", "binary", "unclosed quote", "header only"],
)
def test_unreadable_prediction_files_are_named_errors(tmp_path, content, message):
    gt_frame([("a", A, "1")]).to_csv(tmp_path / "gt.csv", index=False)
    (tmp_path / "pred.csv").write_bytes(content)
    with pytest.raises(FashionDataError, match=message):
        score_files(tmp_path / "gt.csv", tmp_path / "pred.csv")


# ------------------------------------------------------------------ ccp-fashion (real data)


def _reference_score(gt: pd.DataFrame, pred: pd.DataFrame) -> float:
    """Independent numpy metric: decode masks, IoU by pixel counts, disjoint masks -> count pairs."""
    scores = []
    for image_id, g in gt.groupby("ImageId", sort=False):
        h, w = int(g["Height"].iloc[0]), int(g["Width"].iloc[0])
        p = pred[pred["ImageId"] == image_id]
        per_class = []
        for cls in set(g["ClassId"]) | set(p["ClassId"]):
            gm = [decode(r, h, w).astype(bool) for r in g.loc[g["ClassId"] == cls, "EncodedPixels"]]
            pm = [decode(r, h, w).astype(bool) for r in p.loc[p["ClassId"] == cls, "EncodedPixels"]]
            if not gm or not pm:
                per_class.append(0.0)
                continue
            iou = np.array(
                [[(a & b).sum() / (a | b).sum() for b in gm] for a in pm], dtype=np.float64
            )
            vals = []
            for t in THRESHOLDS:
                tp = int((iou > t).sum())  # masks are disjoint within a class: pairs are unique
                vals.append(tp / (len(pm) + len(gm) - tp))
            per_class.append(np.mean(vals))
        scores.append(np.mean(per_class))
    return float(np.mean(scores))


@pytest.mark.realdata
def test_ccp_ground_truth_against_itself_is_one(ccp_gt):
    pred = ccp_gt[["ImageId", "EncodedPixels", "ClassId"]]
    score, details = kaggle_metric(ccp_gt, pred, return_details=True)
    assert score == 1.0
    assert (details["per_class"]["score"] == 1.0).all()
    assert len(details["per_image"]) == ccp_gt["ImageId"].nunique()


@pytest.mark.realdata
def test_ccp_perturbed_copy_scores_as_computed_independently(ccp_gt):
    import cv2

    from fashion_mrcnn.data.formats.rle import encode

    images = ccp_gt["ImageId"].drop_duplicates().iloc[:30].tolist()
    gt = ccp_gt[ccp_gt["ImageId"].isin(images)].reset_index(drop=True)
    pred = gt[["ImageId", "EncodedPixels", "ClassId"]].copy()
    pred = pred.drop(index=0)  # one mask dropped
    pred.loc[5, "ClassId"] = "45" if pred.loc[5, "ClassId"] != "45" else "44"  # one class swapped
    kernel = np.ones((7, 7), np.uint8)
    for i in range(10, 20):  # ten masks eroded
        h, w = int(gt["Height"][i]), int(gt["Width"][i])
        m = decode(gt["EncodedPixels"][i], h, w)
        pred.loc[i, "EncodedPixels"] = encode(cv2.erode(np.ascontiguousarray(m), kernel))
    pred = pred[pred["EncodedPixels"] != ""]
    expected = _reference_score(gt, pred)
    got = kaggle_metric(gt, pred)
    assert got < 1.0
    assert got == pytest.approx(expected, abs=1e-12)


# ------------------------------------------------------- property test against brute force


def _brute_max_matching(edges: np.ndarray) -> int:
    """Largest one-to-one matching by trying every assignment of rows (tiny matrices only)."""
    import itertools

    n_rows, n_cols = edges.shape
    best = 0
    for cols in itertools.product(range(-1, n_cols), repeat=n_rows):
        used = [c for c in cols if c >= 0]
        if len(used) != len(set(used)):
            continue
        best = max(best, sum(1 for r, c in enumerate(cols) if c >= 0 and edges[r, c]))
    return best


def _brute_score(gt_rows, pred_rows) -> float:
    """Reference metric on decoded masks: pixel IoU, brute-force matching, plain averages."""
    images = sorted({i for i, _, _ in gt_rows})
    scores = []
    for image in images:
        g = [(m, c) for i, m, c in gt_rows if i == image]
        p = [(m, c) for i, m, c in pred_rows if i == image]
        per_class = []
        for cls in sorted({c for _, c in g} | {c for _, c in p}):
            gm = [m for m, c in g if c == cls]
            pm = [m for m, c in p if c == cls]
            if not gm or not pm:
                per_class.append(0.0)
                continue
            iou = np.array([[(a & b).sum() / (a | b).sum() for b in gm] for a in pm])
            vals = []
            for t in THRESHOLDS:
                tp = _brute_max_matching(iou > t)
                vals.append(tp / (len(pm) + len(gm) - tp))
            per_class.append(np.mean(vals))
        scores.append(np.mean(per_class) if per_class else np.nan)
    scores = [s for s in scores if not np.isnan(s)]
    return float(np.mean(scores)) if scores else 0.0


def test_matches_brute_force_on_random_overlapping_masks():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    box = st.tuples(st.integers(0, 7), st.integers(0, 6), st.integers(2, 5), st.integers(2, 5))
    inst = st.tuples(st.sampled_from(["a", "b"]), box, st.sampled_from(["1", "2", "1_3"]))

    def rows(items):
        out = []
        for image, (y, x, h, w), cls in items:
            m = np.zeros((12, 10), bool)
            m[y : y + h, x : x + w] = True
            out.append((image, m, cls))
        return out

    @settings(max_examples=150, deadline=None)
    @given(st.lists(inst, min_size=1, max_size=5), st.lists(inst, max_size=5))
    def check(gt_items, pred_items):
        gt_rows, pred_rows = rows(gt_items), rows(pred_items)
        pred = pred_frame(pred_rows) if pred_rows else pred_frame([])
        if pred_rows and not {r[0] for r in gt_rows} & {r[0] for r in pred_rows}:
            with pytest.raises(FashionDataError, match="no ImageId in common"):
                kaggle_metric(gt_frame(gt_rows), pred)  # ids that match nothing: refused
            return
        expected = _brute_score(gt_rows, pred_rows)
        assert kaggle_metric(gt_frame(gt_rows), pred) == pytest.approx(expected, abs=1e-12)

    check()
