"""iMaterialist 2020 (FGVC7) metric: hand-worked cases, input errors, brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_mrcnn.errors import FashionDataError
from fashion_mrcnn.evaluation.kaggle import kaggle_metric, load_ground_truth
from fashion_mrcnn.evaluation.kaggle2020 import attribute_f1, kaggle_metric_2020
from tests.evaluation.eval_helpers import (
    box_mask,
    gt_frame,
    gt_frame_2020,
    pred_frame,
    pred_frame_2020,
)
from tests.reference.kaggle2020 import score_2020

H, W = 20, 30
A = box_mask(H, W, 0, 0, 10, 10)  # 100 px
B = box_mask(H, W, 10, 10, 20, 20)  # 100 px, disjoint from A
C = box_mask(H, W, 0, 20, 10, 30)  # 100 px, disjoint from both


def _a72() -> np.ndarray:
    """72 of A's 100 pixels: IoU with A = 0.72."""
    m = A.copy()
    m[:, 7:10] = False
    m[0, 7:9] = True
    assert m.sum() == 72
    return m


def score(gt_rows, pred_rows, **kw):
    return kaggle_metric_2020(gt_frame_2020(gt_rows), pred_frame_2020(pred_rows), **kw)


def test_attribute_f1_by_hand():
    """F1 = 2|P & G| / (|P| + |G|); a ground truth without attributes gives 1 (no condition)."""
    pred = [frozenset({1, 2}), frozenset(), frozenset({9})]
    gt = [frozenset({1, 2, 3, 4}), frozenset()]
    # {1,2} vs {1,2,3,4}: 2*2/6; {} vs it: 0; {9} vs it: 0; every pred vs the empty gt: 1
    np.testing.assert_allclose(attribute_f1(pred, gt), [[4 / 6, 1], [0, 1], [0, 1]])


def test_perfect_match_is_one():
    """Same mask, same category, same attributes: IoU 1 and F1 1 pass every t -> 1."""
    rows = [("a", A, "1", (1, 2)), ("a", B, "2", (3,)), ("b", C, "10", ())]
    assert score(rows, rows[::-1]) == 1.0


def test_iou_passes_but_attributes_fail():
    """IoU 1 but F1({1}, {1,2,3}) = 2/4 = 0.5, not > 0.5: no hit at any t; TP 0, FP 1, FN 1 -> 0."""
    gt = [("a", A, "1", (1, 2, 3))]
    assert score(gt, [("a", A, "1", (1,))]) == 0.0
    assert score(gt, [("a", A, "1", ())]) == 0.0  # no predicted attributes: F1 = 0


def test_attribute_f1_is_swept_with_the_iou_threshold():
    """F1({1,2}, {1,2,3,4}) = 4/6 = 0.667 > t for t = 0.50 .. 0.65 (4 of 10 thresholds) -> 0.4."""
    gt = [("a", A, "1", (1, 2, 3, 4))]
    assert score(gt, [("a", A, "1", (1, 2))]) == pytest.approx(0.4)


def test_iou_and_f1_share_one_threshold():
    """IoU 0.72 alone passes t = 0.50 .. 0.70 (5 of 10): 0.5. With F1 0.667 as well the pair
    needs min(0.72, 0.667) > t: 4 of 10 -> 0.4 (separate sweeps would give 0.5 * 0.4 = 0.2, a
    product of the two 0.48 -> 0)."""
    assert score([("a", A, "1", (1, 2))], [("a", _a72(), "1", (1, 2))]) == pytest.approx(0.5)
    gt = [("a", A, "1", (1, 2, 3, 4))]
    assert score(gt, [("a", _a72(), "1", (1, 2))]) == pytest.approx(0.4)


def test_ground_truth_without_attributes_is_matched_on_iou_alone():
    """GT with no AttributesIds: predicted attributes (any, or none) play no part -> 1, and 0.5
    for the IoU-0.72 mask as in the 2019 metric."""
    gt = [("a", A, "1", ())]
    assert score(gt, [("a", A, "1", (5, 6))]) == 1.0
    assert score(gt, [("a", A, "1", ())]) == 1.0
    assert score(gt, [("a", _a72(), "1", (7,))]) == pytest.approx(0.5)


def test_false_positive():
    """A second prediction of the category matching nothing: TP 1, FP 1, FN 0 -> 1/2."""
    gt = [("a", A, "1", (1,))]
    assert score(gt, [("a", A, "1", (1,)), ("a", C, "1", (1,))]) == pytest.approx(0.5)


def test_false_negative():
    """A ground-truth mask nobody predicted: TP 1, FP 0, FN 1 -> 1/2."""
    gt = [("a", A, "1", (1,)), ("a", B, "1", ())]
    assert score(gt, [("a", A, "1", (1,))]) == pytest.approx(0.5)


def test_two_categories_are_scored_apart_and_averaged():
    """Image a: category 1 right (1), category 2 missed (0) and 3 spurious (0): (1 + 0 + 0) / 3.
    Image b: category 4 right, its attributes wrong: 0. Final: mean of the images = 1/6."""
    gt = [("a", A, "1", (1,)), ("a", B, "2", ()), ("b", A, "4", (2,))]
    pred = [("a", A, "1", (1,)), ("a", B, "3", ()), ("b", A, "4", (3,))]
    value, details = score(gt, pred, return_details=True)
    assert value == pytest.approx(1 / 6)
    per_image = details["per_image"].set_index("ImageId")["score"].to_dict()
    assert per_image == pytest.approx({"a": 1 / 3, "b": 0.0})
    assert details["per_class"]["score"].to_dict() == {"1": 1.0, "2": 0.0, "3": 0.0, "4": 0.0}


def test_one_to_one_matching_with_attributes():
    """Two GT masks at the same place (IoU 1 with the one prediction) differing in attributes:
    the prediction can match the one whose attributes agree, and only once: TP 1, FN 1 -> 1/2."""
    gt = [("a", A, "1", (1,)), ("a", A, "1", (2,))]
    assert score(gt, [("a", A, "1", (2,))]) == pytest.approx(0.5)


def test_prepared_ground_truth_scores_as_the_table_and_refuses_the_2019_layout():
    big = box_mask(40, 60, 8, 12, 24, 36)
    gt = gt_frame_2020(
        [
            ("a", big, "5", [1, 2]),
            ("b", big, "5", []),
            ("b", box_mask(40, 60, 0, 0, 6, 6), "7", [3]),
        ]
    )
    pred = pred_frame_2020([("a", big[::2, ::2], "5", [1]), ("b", big[::2, ::2], "5", [9])])
    prepared = load_ground_truth(gt, 2020, (20, 30))
    got = kaggle_metric_2020(prepared, pred, return_details=True, pred_size=(20, 30))
    want = kaggle_metric_2020(gt, pred, return_details=True, pred_size=(20, 30))
    assert got[0] == want[0] and 0 < got[0] < 1  # "a" fails on F1 from t = 0.7 on
    assert got[1]["groups"].equals(want[1]["groups"])
    with pytest.raises(ValueError, match=r"prepared for layout 2020 .* scored with layout 2019"):
        kaggle_metric(prepared, pred.drop(columns="AttributesIds"), pred_size=(20, 30))


def test_csv_files_with_empty_attributes(tmp_path):
    """Written and read back as CSV: empty AttributesIds cells become empty sets, not 'nan'."""
    gt_frame_2020([("a", A, "1", ()), ("a", B, "2", (4, 5))]).to_csv(
        tmp_path / "gt.csv", index=False
    )
    pred = pred_frame_2020([("a", A, "1", ()), ("a", B, "2", (5, 4))])
    pred.to_csv(tmp_path / "pred.csv", index=False)
    assert kaggle_metric_2020(tmp_path / "gt.csv", tmp_path / "pred.csv") == 1.0


@pytest.mark.parametrize("side", ["gt", "pred"])
def test_missing_attributes_column_is_named(side):
    gt, pred = gt_frame_2020([("a", A, "1", ())]), pred_frame_2020([("a", A, "1", ())])
    if side == "gt":
        gt = gt_frame([("a", A, "1")])
    else:
        pred = pred_frame([("a", A, "1")])
    name = "ground truth" if side == "gt" else "predictions"
    with pytest.raises(FashionDataError, match=rf"{name}: missing column\(s\) \['AttributesIds'\]"):
        kaggle_metric_2020(gt, pred)


def test_2019_class_suffixes_are_refused():
    gt = gt_frame_2020([("a", A, "1", ())])
    pred = pred_frame_2020([("a", A, "10_1_2", ())])
    with pytest.raises(FashionDataError, match=r"row 0 \(image a, class 10_1_2\).*bare category"):
        kaggle_metric_2020(gt, pred)


def test_bad_attribute_ids_are_named(tmp_path):
    path = tmp_path / "gt.csv"
    gt = gt_frame_2020([("a", A, "1", (1,)), ("b", B, "2", ())])
    gt.loc[1, "AttributesIds"] = "3;4"
    gt.to_csv(path, index=False)
    pred = pred_frame_2020([("a", A, "1", (1,))])
    with pytest.raises(FashionDataError, match=rf"{path} line 3 \(image b, class 2\).*'3;4'"):
        kaggle_metric_2020(path, pred)


def test_the_2019_scorer_ignores_attribute_ids():
    """A 2020 table scored by the 2019 metric: AttributesIds is not read (not even parsed)."""
    gt = gt_frame_2020([("a", A, "1", (1,))])
    pred = pred_frame_2020([("a", A, "1", (2,))])
    pred.loc[0, "AttributesIds"] = "not ids"
    assert kaggle_metric(gt, pred) == 1.0


def test_matches_brute_force_reference_on_random_cases():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    box = st.tuples(st.integers(0, 7), st.integers(0, 6), st.integers(2, 5), st.integers(2, 5))
    attrs = st.lists(st.integers(1, 4), max_size=3, unique=True).map(tuple)
    inst = st.tuples(st.sampled_from(["a", "b"]), box, st.sampled_from(["1", "2"]), attrs)

    def rows(items):
        out = []
        for image, (y, x, h, w), cat, attributes in items:
            m = np.zeros((12, 10), bool)
            m[y : y + h, x : x + w] = True
            out.append((image, m, cat, attributes))
        return out

    @settings(max_examples=150, deadline=None)
    @given(st.lists(inst, min_size=1, max_size=5), st.lists(inst, max_size=5))
    def check(gt_items, pred_items):
        gt_rows, pred_rows = rows(gt_items), rows(pred_items)
        if pred_rows and not {r[0] for r in gt_rows} & {r[0] for r in pred_rows}:
            return  # refused as in 2019 (tested there)
        pred = pred_frame_2020(pred_rows) if pred_rows else pred_frame_2020([])
        got = kaggle_metric_2020(gt_frame_2020(gt_rows), pred)
        assert got == pytest.approx(score_2020(gt_rows, pred_rows), abs=1e-12)

    check()
