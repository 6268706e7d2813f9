"""The tuner: ranking, the table kept flat, a grid of fake notebook trials, the recorded best."""

import json
from pathlib import Path

import pandas as pd
import pytest

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.workflow import handoff, tuning
from tests.workflow.notebook_files import write_grid as _grid
from tests.workflow.notebook_files import write_notebook as _notebook


def test_rank_trials_orders_by_mask_map_and_puts_missing_last():
    rows = [
        {"trial": "t0", "mask_map50": 0.2, "segm_AP": 0.9},
        {"trial": "t1", "segm_AP": 0.5},
        {"trial": "t2", "mask_map50": 0.7, "segm_AP": 0.1},
    ]
    table = tuning.rank_trials(rows)
    assert list(table["trial"]) == ["t2", "t0", "t1"]
    assert list(table["rank"]) == [1, 2, 3]
    with pytest.raises(ValueError, match="cannot rank"):
        tuning.rank_trials([{"trial": "t0", "loss": 1.0}])


def test_run_tune_rejects_unknown_grid_key_before_running(tmp_path):
    path = _grid(tmp_path, "learnign_rate: [0.1]\n")
    with pytest.raises(ConfigError, match="unknown key 'learnign_rate'"):
        tuning.run_tune(path, tmp_path / "tune")
    assert not (tmp_path / "tune").exists()


def test_flatten_rows_keeps_csv_flat(tmp_path):
    rows = tuning._flatten_rows([{"loss_weights": {"b": 2.0, "a": 1.0}, "x": 1}])
    assert rows == [{"loss_weights": '{"a": 1.0, "b": 2.0}', "x": 1}]
    pd.DataFrame(rows).to_csv(tmp_path / "r.csv", index=False)
    assert json.loads(pd.read_csv(tmp_path / "r.csv")["loss_weights"][0]) == {"a": 1.0, "b": 2.0}


FAKE_TUNE = """
import json, pathlib
from fashion_mrcnn.workflow.handoff import write_handoff
out = pathlib.Path(output_dir)
assert grid == {}, "run_tune must empty the notebook's own grid"
(out / "best_config.yaml").write_text(f"LEARNING_RATE: {learning_rate}\\nSEED: {seed}\\n")
metrics = out / "metrics.json"
metrics.write_text(json.dumps({"mask_map50": learning_rate * 100, "segm_AP": 0.1, "note": "x"}))
write_handoff(out, config=out / "best_config.yaml", metrics=metrics)
"""


def test_run_tune_runs_each_point_and_ranks(tmp_path, monkeypatch):
    folder = tmp_path / "fake_notebooks"
    folder.mkdir()
    _notebook(
        folder / "00_explore_data.ipynb", 'output_dir = ""'
    )  # notebooks_dir() checks for the first stage
    _notebook(
        folder / "01_subset_tuning.ipynb",
        'learning_rate = 0.001\nseed = 0\ngrid = {"LEARNING_RATE": [1, 2]}\noutput_dir = ""',
        FAKE_TUNE,
    )
    monkeypatch.setenv("FASHION_MRCNN_NOTEBOOKS", str(folder))
    path = _grid(tmp_path, "learning_rate: [0.001, 0.005, 0.003]\n")
    table = tuning.run_tune(path, tmp_path / "tune", base_parameters={"seed": 3})
    assert list(table["learning_rate"]) == [0.005, 0.003, 0.001]
    assert list(table["rank"]) == [1, 2, 3]
    assert table.loc[0, "trial"] == "trial_001"
    assert table["mask_map50"].tolist() == pytest.approx([0.5, 0.3, 0.1])
    assert "note" not in table.columns  # only numeric metrics are collected
    ranked = pd.read_csv(tmp_path / "tune" / "ranked.csv")
    assert list(ranked["trial"]) == ["trial_001", "trial_002", "trial_000"]
    assert (tmp_path / "tune" / "best_config.yaml").read_text() == "LEARNING_RATE: 0.005\nSEED: 3\n"
    # the tune folder stands in for stage 01
    handoff_config = handoff.read_handoff(tmp_path / "tune", "config")
    assert handoff_config == str((tmp_path / "tune" / "best_config.yaml").resolve())
    best_metrics = json.loads(Path(handoff.read_handoff(tmp_path / "tune", "metrics")).read_text())
    assert best_metrics["mask_map50"] == pytest.approx(0.5)


def test_record_tuning_copies_the_best_trials_metrics(tmp_path):
    trial = tmp_path / "trial_001"
    trial.mkdir()
    (trial / "train_config.yaml").write_text("NAME: t\n")
    (trial / "metrics.json").write_text(json.dumps({"mask_map50": 0.4, "bbox_AP": 0.2}))
    ranked = pd.DataFrame(
        [
            {"trial": 1, "mask_map50": 0.4, "config": str(trial / "train_config.yaml")},
            {"trial": 0, "mask_map50": 0.1, "config": str(tmp_path / "trial_000" / "x.yaml")},
        ]
    )
    with pytest.raises(FileNotFoundError, match="best_config.yaml is missing"):
        tuning.record_tuning(ranked, tmp_path)
    (tmp_path / "best_config.yaml").write_text("NAME: t\n")
    best = tuning.record_tuning(ranked, tmp_path)
    assert best["trial"] == 1
    assert json.loads((tmp_path / "metrics.json").read_text()) == {
        "mask_map50": 0.4,
        "bbox_AP": 0.2,
    }
    assert handoff.read_handoff(tmp_path, "config").endswith("best_config.yaml")
    with pytest.raises(ValueError, match="no trial finished"):
        tuning.record_tuning(ranked.iloc[:0], tmp_path)
    with pytest.raises(ValueError, match="none of"):
        tuning.record_tuning(ranked[["trial", "config"]], tmp_path)
