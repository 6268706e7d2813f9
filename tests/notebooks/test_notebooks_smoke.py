"""Every staged notebook executed headless by papermill with smoke parameters; artifacts checked.

The run itself is the session fixture ``smoke_run`` (tests/notebooks/conftest.py).
"""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from fashion_mrcnn.config import Config
from fashion_mrcnn.data import synthetic
from fashion_mrcnn.data.categories import default_categories
from fashion_mrcnn.tools.check_notebooks import notebook_problems
from fashion_mrcnn.workflow import papermill_runner
from fashion_mrcnn.workflow.handoff import read_handoff
from fashion_mrcnn.workflow.pipeline import SMOKE_STAGES
from fashion_mrcnn.workflow.rundir import checkpoint_epoch, read_run

pytestmark = pytest.mark.timeout(900)

AP_KEYS = ("mask_map50", "segm_AP", "segm_AP50", "bbox_AP", "bbox_AP50")
SYNTHETIC_NAMES = {
    c["name"].split(",")[0].strip()
    for c in default_categories()
    if c["id"] in synthetic.CATEGORY_IDS
}


def _metrics(path: Path) -> dict:
    """Read a metrics.json and check every AP is a float in [0, 1]."""
    metrics = json.loads(path.read_text())
    for key in AP_KEYS:
        assert isinstance(metrics[key], float), (path, key, metrics[key])
        assert 0.0 <= metrics[key] <= 1.0, (path, key, metrics[key])
    assert metrics["num_images"] >= 1 and metrics["num_gt"] >= 1
    return metrics


def _outputs(nb: dict, kind: str) -> list:
    return [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == kind]


def _inline_images(nb: dict) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))


def test_committed_notebooks_are_clean_and_tagged():
    folder = papermill_runner.notebooks_dir()
    for stage in papermill_runner.STAGES:
        path = folder / f"{stage}.ipynb"
        assert notebook_problems(path) == [], path
        declared = papermill_runner.notebook_parameters(path)
        assert {"output_dir", "seed", "colab_source", "data"} <= set(declared), stage
        if stage != "00_explore_data":
            assert "previous_stage_dir" in declared or stage == "01_subset_tuning", stage
        # every smoke parameter is one the notebook declares
        assert set(SMOKE_STAGES[stage]) <= set(declared), stage
        if stage in ("01_subset_tuning", "02_full_training", "03_minority_oversampling"):
            # train --strategy / --attributes; the attribute head is off by default
            assert ast.literal_eval(declared["strategy"]) == "auto", stage
            assert ast.literal_eval(declared["attributes"]) is False, stage
        source = path.read_text()
        assert '"google.colab" in sys.modules' in source.replace('\\"', '"')
        assert "print(runtime_report())" in source


def test_submission_notebook_defaults_to_the_levers_that_helped():
    """bench/results/levers.md: the tuned post-processing and the flip; not the 1.25 view."""
    from fashion_mrcnn.workflow.stages import AUTO_POSTPROCESS

    path = papermill_runner.notebooks_dir() / "05_submission.ipynb"
    declared = papermill_runner.notebook_parameters(path)
    assert ast.literal_eval(declared["tta"]) == ["flip"]
    assert ast.literal_eval(declared["postprocess_yaml"]) == AUTO_POSTPROCESS
    assert "stages.tuned_postprocess(postprocess_yaml" in path.read_text()


@pytest.mark.parametrize("stage", papermill_runner.STAGES)
def test_stage_ran_without_errors(smoke_run, stage):
    nb = smoke_run.executed(stage)
    assert _outputs(nb, "error") == []
    assert nb["metadata"]["papermill"]["exception"] in (None, False)


def test_00_explore_data(smoke_run):
    out = smoke_run.stage_dir("00_explore_data")
    counts = pd.read_csv(out / "class_counts.csv", index_col=0)
    assert {"train_instances", "train_images", "val_instances", "val_images"} <= set(counts)
    present = set(counts.index[counts["train_instances"] > 0])
    assert present == SYNTHETIC_NAMES  # exactly the classes the generator draws
    assert (counts["train_instances"] >= counts["train_images"]).all()
    assert (out / "stats.txt").read_text().strip()
    for png in ("class_counts.png", "instances_per_image.png", "mask_areas.png", "examples.png"):
        assert (out / png).stat().st_size > 1000, png
    assert _inline_images(smoke_run.executed("00_explore_data")) >= 4
    assert Path(read_handoff(out, "data")).is_dir()


def test_01_subset_tuning(smoke_run):
    out = smoke_run.stage_dir("01_subset_tuning")
    ranked = pd.read_csv(out / "ranked.csv")
    lrs = SMOKE_STAGES["01_subset_tuning"]["grid"]["LEARNING_RATE"]
    assert len(ranked) == len(lrs)
    assert ranked["mask_map50"].between(0, 1).all()
    assert list(ranked["mask_map50"]) == sorted(ranked["mask_map50"], reverse=True)
    best = Config.from_yaml(out / "best_config.yaml")
    assert best.LEARNING_RATE in lrs
    assert best.NUM_CLASSES == 47 and best.IMAGE_MAX_DIM == 128
    assert (
        best.DETECTION_MIN_CONFIDENCE
        == SMOKE_STAGES["01_subset_tuning"]["detection_min_confidence"]
    )
    metrics = _metrics(out / "metrics.json")
    assert metrics["mask_map50"] == pytest.approx(ranked["mask_map50"][0])
    assert read_handoff(out, "config") == str((out / "best_config.yaml").resolve())


def test_02_full_training(smoke_run):
    out = smoke_run.stage_dir("02_full_training")
    checkpoint = Path(read_handoff(out, "checkpoint"))
    assert checkpoint.is_file() and checkpoint.is_relative_to(out)
    smoke = SMOKE_STAGES["02_full_training"]
    total = smoke["heads_epochs"] + smoke["all_epochs"]
    assert checkpoint_epoch(checkpoint) == total == read_handoff(out, "epochs")
    summary = json.loads((out / "train_summary.json").read_text())
    assert len(summary["history"]["loss"]) == total  # heads phase then all-layers phase
    assert all(math.isfinite(v) for v in summary["history"]["loss"])
    config = Config.from_yaml(read_handoff(out, "config"))
    assert config.NAME == "fashion"
    # the run folder serves `--weights` alone: config and classes are found above the checkpoint
    run_config, classes = read_run(checkpoint)
    assert run_config.to_dict() == config.to_dict()
    assert classes == default_categories()
    # the tuned configuration from stage 01 was used
    tuned = Config.from_yaml(smoke_run.root / "01_subset_tuning" / "best_config.yaml")
    assert config.DETECTION_MAX_INSTANCES == tuned.DETECTION_MAX_INSTANCES
    assert config.LEARNING_RATE == tuned.LEARNING_RATE
    _metrics(out / "eval" / "metrics.json")
    per_class = pd.read_csv(out / "eval" / "per_class.csv")
    assert set(per_class.loc[per_class["n_gt"] > 0, "name"]) <= SYNTHETIC_NAMES
    assert per_class["n_gt"].sum() >= 1
    assert _inline_images(smoke_run.executed("02_full_training")) >= 1  # loss curves inline


def test_03_minority_oversampling(smoke_run):
    out = smoke_run.stage_dir("03_minority_oversampling")
    counts = pd.read_csv(out / "oversampling_counts.csv")
    assert (counts["images_after"] >= counts["images_before"]).all()
    assert (counts["images_after"] > counts["images_before"]).any()  # something was repeated
    before = _metrics(out / "before" / "metrics.json")
    after = _metrics(out / "after" / "metrics.json")
    assert before["num_images"] == after["num_images"]
    compare = pd.read_csv(out / "compare.csv")
    assert any(c.startswith("delta_") for c in compare.columns)
    assert (out / "compare.png").stat().st_size > 1000
    start = read_handoff(smoke_run.root / "02_full_training", "checkpoint")
    checkpoint = read_handoff(out, "checkpoint")
    assert Path(checkpoint).is_file() and checkpoint != start
    epochs = SMOKE_STAGES["03_minority_oversampling"]["epochs"]
    assert checkpoint_epoch(checkpoint) == checkpoint_epoch(start) + epochs


def test_04_error_analysis(smoke_run):
    out = smoke_run.stage_dir("04_error_analysis")
    _metrics(out / "metrics.json")
    per_class = pd.read_csv(out / "per_class.csv")
    assert {"recall", "ap50", "train_count"} <= set(per_class.columns)
    assert per_class["recall"].dropna().between(0, 1).all()
    confusion = pd.read_csv(out / "confusion.csv", index_col=0)
    assert (confusion.to_numpy() >= 0).all()
    assert (out / "confusion.png").stat().st_size > 1000
    galleries = list((out / "galleries").glob("*.png"))
    assert galleries
    analysed = read_handoff(out, "checkpoint")
    assert analysed == read_handoff(smoke_run.root / "03_minority_oversampling", "checkpoint")
    assert _inline_images(smoke_run.executed("04_error_analysis")) >= 2


def test_05_submission(smoke_run):
    from fashion_mrcnn.submission import validate_submission

    out = smoke_run.stage_dir("05_submission")
    frame = pd.read_csv(out / "submission.csv")
    assert list(frame.columns) == ["ImageId", "EncodedPixels", "ClassId"]
    test_dir = out / "synthetic_test" / "train"
    expected = sorted(p.name for p in test_dir.glob("*.jpg"))
    assert len(expected) == SMOKE_STAGES["05_submission"]["test_images"]
    assert sorted(frame["ImageId"].unique()) == expected
    assert validate_submission(out / "submission.csv", test_dir, size=(512, 512)) == []
