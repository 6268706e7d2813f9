"""``fashion-mrcnn tune`` and ``fashion-mrcnn pipeline`` run for real on the smallest settings.

``tune``: a two-point grid, each point one papermill run of ``01_subset_tuning``; ``pipeline``:
stages 00 and 01 in order, 01 reading 00's hand-off. Tiny synthetic data (8 scenes at 64 px), one
training step per trial: about two minutes for tune and one for pipeline on 2 CPU cores.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fashion_mrcnn.cli import main
from fashion_mrcnn.config import Config
from fashion_mrcnn.workflow.handoff import read_handoff

pytestmark = pytest.mark.timeout(900)

#: The smallest run of notebooks 00 / 01 (on top of ``--smoke``).
TINY = {"image_size": 64, "synthetic_images": 8}
TINY_01 = {
    "subset_size": 4,
    "val_size": 2,
    "steps_per_epoch": 1,
    "validation_steps": 1,
    "detection_max_instances": 5,
}
AP_KEYS = ("mask_map50", "segm_AP", "segm_AP50", "bbox_AP", "bbox_AP50")


def _sets(values: dict, prefix: str = "") -> list[str]:
    return [a for k, v in values.items() for a in ("--set", f"{prefix}{k}={json.dumps(v)}")]


def _check_metrics(path) -> None:
    metrics = json.loads(open(path).read())
    for key in AP_KEYS:
        assert isinstance(metrics[key], float) and 0.0 <= metrics[key] <= 1.0, (path, key)
    assert metrics["num_images"] == TINY_01["val_size"] and metrics["num_gt"] >= 1


def test_cli_tune_two_point_grid(tmp_path, capsys):
    grid = tmp_path / "grid.yaml"
    grid.write_text("gradient_clip_norm: [5.0, 1.0]\n")
    out = tmp_path / "tune"
    args = ["tune", "--grid", str(grid), "--out", str(out), "--smoke"]
    assert main(args + _sets(TINY) + _sets(TINY_01)) == 0
    printed = capsys.readouterr().out
    assert f"ranked: {out / 'ranked.csv'}" in printed
    table = pd.read_csv(out / "ranked.csv")
    assert list(table["rank"]) == [1, 2] and len(table) == 2
    assert sorted(table["gradient_clip_norm"]) == [1.0, 5.0]
    assert table["mask_map50"].between(0, 1).all()
    assert all(trial in printed for trial in table["trial"])
    best = Config.from_yaml(out / "best_config.yaml")
    assert best.GRADIENT_CLIP_NORM == table.loc[0, "gradient_clip_norm"]
    assert best.IMAGE_MAX_DIM == TINY["image_size"]  # the --set values reached the notebook
    for trial in table["trial"]:
        trial_dir = out / trial
        # each run is one trial: the notebook's own grid was emptied
        assert len(pd.read_csv(trial_dir / "ranked.csv")) == 1
        _check_metrics(read_handoff(trial_dir, "metrics"))


def test_cli_pipeline_stages_00_and_01(tmp_path, capsys):
    out = tmp_path / "pipeline"
    one_point = {"grid": {"LEARNING_RATE": [0.001]}}
    args = ["pipeline", "--smoke", "--stages", "00", "01", "--out", str(out)]
    assert main(args + _sets(TINY) + _sets({**TINY_01, **one_point}, prefix="01.")) == 0
    printed = capsys.readouterr().out.splitlines()
    stages = ["00_explore_data", "01_subset_tuning"]
    assert [line.split(":")[0] for line in printed] == stages
    summary = json.loads((out / "pipeline.json").read_text())
    assert list(summary) == stages
    for stage in stages:
        notebook = json.loads((out / stage / f"{stage}.ipynb").read_text())
        kinds = {o["output_type"] for c in notebook["cells"] for o in c.get("outputs", [])}
        assert "error" not in kinds and kinds, stage
    # 00 generated the data and handed it over; 01 trained on it and ranked its one trial.
    data = read_handoff(out / "00_explore_data", "data")
    assert (out / "00_explore_data" / "class_counts.csv").is_file()
    assert summary["01_subset_tuning"]["parameters"]["synthetic_dir"] == data
    assert len(pd.read_csv(out / "01_subset_tuning" / "ranked.csv")) == 1
    _check_metrics(read_handoff(out / "01_subset_tuning", "metrics"))
