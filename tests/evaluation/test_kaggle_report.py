"""The 2019 score under the three attribute policies, side by side, and the ``score`` printout."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_mrcnn.constants import ATTRIBUTE_POLICIES
from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.evaluation.kaggle import kaggle_metric
from fashion_mrcnn.evaluation.kaggle_report import attribute_policy_table, score_files
from tests.evaluation.eval_helpers import (
    box_mask,
    gt_frame,
    gt_frame_2020,
    pred_frame,
    pred_frame_2020,
)

H, W = 20, 30
A = box_mask(H, W, 0, 0, 10, 10)
B = box_mask(H, W, 10, 10, 20, 20)
C = box_mask(H, W, 0, 20, 10, 30)

# Category 10 and 5 carry attributes in 2019 (ATTRIBUTE_CATEGORIES), 30 does not.
GT = [("a", A, "10_1_2"), ("a", B, "30"), ("a", C, "5")]
PRED = [("a", A, "10"), ("a", B, "30"), ("a", C, "5")]  # every mask right, no attributes


def test_policy_table_by_hand():
    """One image, every predicted mask exact, attributes never predicted.

    keep: groups "10_1_2" (FN only) 0, "10" (FP only) 0, "30" 1, "5" 1 -> 2/4 = 0.5.
    strip (both sides): "10" 1, "30" 1, "5" 1 -> 1.
    drop_attribute_categories: predictions keep only "30" (10 and 5 dropped), GT as given:
    "10_1_2" 0, "30" 1, "5" 0 -> 1/3.
    """
    table = attribute_policy_table(gt_frame(GT), pred_frame(PRED))
    assert tuple(table.index) == ATTRIBUTE_POLICIES
    assert table["score"].to_dict() == pytest.approx(
        {"keep": 0.5, "strip": 1.0, "drop_attribute_categories": 1 / 3}
    )
    assert table["n_pred"].to_dict() == {"keep": 3, "strip": 3, "drop_attribute_categories": 1}
    assert table.loc["strip", "ground_truth"] == "stripped"
    assert table.loc["drop_attribute_categories", "ground_truth"] == "as given"


def test_keep_row_is_the_plain_2019_score_and_strip_ignores_wrong_attributes():
    """Predicted attributes that are wrong ("10_3") cost a FP + FN when kept, nothing stripped;
    a prediction of category 30 (not attribute-bearing) survives the drop policy."""
    gt = gt_frame([("a", A, "10_1_2"), ("b", B, "30")])
    pred = pred_frame([("a", A, "10_3"), ("b", B, "30")])
    table = attribute_policy_table(gt, pred)
    assert table.loc["keep", "score"] == pytest.approx(kaggle_metric(gt, pred))
    assert table["score"].to_dict() == pytest.approx(
        {"keep": 0.5, "strip": 1.0, "drop_attribute_categories": 0.5}
    )


def test_custom_attribute_categories():
    """Dropping category 30 instead: "30" goes, "10" stays, "5_7" stays stripped to "5".
    Groups "10_1_2" 0, "10" 0, "30" 0 (FN), "5" 1 -> 1/4."""
    pred = pred_frame([("a", A, "10"), ("a", B, "30"), ("a", C, "5_7")])
    table = attribute_policy_table(gt_frame(GT), pred, attribute_categories=[30])
    assert table.loc["drop_attribute_categories", "score"] == pytest.approx(0.25)


def test_score_files_prints_the_policy_table(tmp_path, capsys):
    gt_frame(GT).to_csv(tmp_path / "gt.csv", index=False)
    pred_frame(PRED).to_csv(tmp_path / "pred.csv", index=False)
    assert score_files(tmp_path / "gt.csv", tmp_path / "pred.csv") == pytest.approx(0.5)
    out = capsys.readouterr().out
    assert "iMaterialist 2019 score by attribute policy:" in out
    assert "drop_attribute_categories" in out and "0.33333" in out
    assert "iMaterialist 2019 score: 0.50000 over 1 images" in out


def test_score_files_2020(tmp_path, capsys):
    """2020: A right with F1({1}, {1,2}) = 2/3 (t = 0.50 .. 0.65: 0.4); B right, GT without
    attributes (1) -> image (0.4 + 1) / 2 = 0.7."""
    gt_frame_2020([("a", A, "1", (1, 2)), ("a", B, "2", ())]).to_csv(
        tmp_path / "g.csv", index=False
    )
    pred_frame_2020([("a", A, "1", (1,)), ("a", B, "2", (4,))]).to_csv(
        tmp_path / "p.csv", index=False
    )
    assert score_files(tmp_path / "g.csv", tmp_path / "p.csv", metric="2020") == pytest.approx(0.7)
    out = capsys.readouterr().out
    assert "iMaterialist 2020 score: 0.70000 over 1 images" in out
    assert "attribute policy" not in out


def test_unknown_metric_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown metric '2021'; choose one of 2019, 2020"):
        score_files(tmp_path / "g.csv", tmp_path / "p.csv", metric="2021")


# ----------------------------------------------------------------------------- the score command
def _cli(*args) -> int:
    from fashion_mrcnn.cli import main

    return main([str(a) for a in args])


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("fashion-mrcnn score: error: ") and "Traceback" not in err
    return lines[0]


@pytest.fixture
def files_2020(tmp_path):
    gt, pred = tmp_path / "gt2020.csv", tmp_path / "pred2020.csv"
    gt_frame_2020([("a", A, "1", (1, 2)), ("a", B, "2", ())]).to_csv(gt, index=False)
    pred_frame_2020([("a", A, "1", (1,)), ("a", B, "2", (4,))]).to_csv(pred, index=False)
    return gt, pred


def test_cli_score_metric_2020(files_2020, capsys):
    gt, pred = files_2020
    assert _cli("score", "--gt", gt, "--pred", pred, "--metric", "2020") == 0
    assert "iMaterialist score: 0.70000" in capsys.readouterr().out  # as in test_score_files_2020


def test_cli_score_2019_prints_the_policy_table(tmp_path, capsys):
    gt_frame(GT).to_csv(tmp_path / "gt.csv", index=False)
    pred_frame(PRED).to_csv(tmp_path / "pred.csv", index=False)
    assert _cli("score", "--gt", tmp_path / "gt.csv", "--pred", tmp_path / "pred.csv") == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[-1] for line in out.splitlines() if line.strip()}
    assert rows["keep"] == "0.50000" and rows["strip"] == "1.00000"
    assert rows["drop_attribute_categories"] == "0.33333"


def test_cli_score_unknown_metric_is_one_line(files_2020, capsys):
    gt, pred = files_2020
    assert _cli("score", "--gt", gt, "--pred", pred, "--metric", "2021") == 2
    assert "unknown metric '2021'; choose one of 2019, 2020" in _one_error_line(capsys)


def test_cli_score_2020_on_a_2019_file_names_the_missing_column(tmp_path, capsys):
    gt_frame(GT).to_csv(tmp_path / "gt.csv", index=False)
    pred_frame(PRED).to_csv(tmp_path / "pred.csv", index=False)
    args = ("score", "--gt", tmp_path / "gt.csv", "--pred", tmp_path / "pred.csv")
    assert _cli(*args, "--metric", "2020") == 2
    line = _one_error_line(capsys)
    assert f"{tmp_path / 'gt.csv'}: missing column(s) ['AttributesIds']" in line


# ----------------------------------------------------------------------------- evaluate's table
def _dataset(tmp_path, with_masks: bool = True):
    from fashion_mrcnn.data.dataset import FashionDataset
    from fashion_mrcnn.data.formats.rle import encode

    def inst(cat, mask, attrs=()):
        seg = {"kind": "kaggle_rle", "data": encode(mask)}
        return {"category_id": cat, "attribute_ids": list(attrs), "segmentation": seg}

    instances = [inst(10, A, (1, 2)), inst(30, B), inst(5, C)] if with_masks else []
    records = [
        {"image_id": image_id, "path": str(tmp_path / image_id), "height": H, "width": W,
         "source": "imaterialist", "instances": insts}
        for image_id, insts in (("a.jpg", instances), ("empty.jpg", []))
    ]  # fmt: skip
    cats = [{"id": 10, "name": "dress"}, {"id": 30, "name": "pocket"}, {"id": 5, "name": "pants"}]
    return FashionDataset.from_records(records, cats)


def _exact_predictions():
    """detect()-style dicts: image a gets its three GT masks (internal ids 1, 2, 3, no
    attributes); the image without GT gets a spurious mask."""
    masks = np.stack([A, B, C], axis=-1)
    found = {"masks": masks, "class_ids": np.array([1, 2, 3]), "scores": np.array([0.9, 0.8, 0.7])}
    spurious = {"masks": A[:, :, None], "class_ids": np.array([2]), "scores": np.array([0.9])}
    return [found, spurious]


def test_evaluate_reports_the_policy_table(tmp_path):
    """The stage's table equals the hand-worked one of test_policy_table_by_hand (same masks and
    classes, the categories mapped back from internal ids); the image without GT plays no part;
    the files it writes give the same keep score through ``score``'s scorer."""
    from fashion_mrcnn.workflow.stages import KAGGLE_TABLE, kaggle_policies

    table = kaggle_policies(_dataset(tmp_path), [0, 1], _exact_predictions(), tmp_path, (H, W))
    assert table["score"].to_dict() == pytest.approx(
        {"keep": 0.5, "strip": 1.0, "drop_attribute_categories": 1 / 3}
    )
    assert (tmp_path / KAGGLE_TABLE).is_file()
    again = kaggle_metric(
        tmp_path / "kaggle_gt.csv", tmp_path / "kaggle_pred.csv", pred_size=(H, W)
    )
    assert again == pytest.approx(0.5)


def test_evaluate_without_ground_truth_masks_skips_the_table_with_a_warning(tmp_path, caplog):
    from fashion_mrcnn.workflow.stages import kaggle_policies

    with caplog.at_level("WARNING"):
        table = kaggle_policies(_dataset(tmp_path, False), [0, 1], _exact_predictions(), tmp_path)
    assert table is None
    assert "Kaggle score skipped: the 2 images have no ground-truth mask" in caplog.text
