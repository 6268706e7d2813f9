"""The papermill runner and the grid parser, on tiny notebooks written into tmp_path."""

import json
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.workflow import grid, notebooks
from fashion_mrcnn.workflow.notebooks import NotebookError


def _notebook(path, parameters, *cells):
    """Write a notebook: a markdown title, the tagged parameters cell, then ``cells``."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# test"), params]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, str(path))
    return path


def _outputs(path):
    nb = nbformat.read(str(path), as_version=4)
    return [
        "".join(o.get("text", "") for o in c.get("outputs", []))
        for c in nb.cells
        if c.cell_type == "code"
    ]


# ---------------------------------------------------------------------------------- notebooks
def test_parameters_are_injected_and_kernel_is_this_python(tmp_path):
    nb = _notebook(
        tmp_path / "p.ipynb",
        'x = 1\nname = "a"\noutput_dir = ""',
        "import sys\nprint(sys.executable)",
        "print(x * 2, name, output_dir)",
    )
    out = notebooks.run_notebook(nb, tmp_path / "run", {"x": 21, "name": "b"})
    assert out == (tmp_path / "run" / "p.ipynb").resolve()
    texts = _outputs(out)
    assert texts[-2].strip() == sys.executable
    # output_dir defaults to the run directory when the notebook declares it
    assert texts[-1].strip() == f"42 b {(tmp_path / 'run').resolve()}"


def test_failing_cell_raises_notebook_error_naming_the_cell(tmp_path):
    nb = _notebook(
        tmp_path / "bad.ipynb",
        "fail = False",
        "y = 1",
        "if fail:\n    raise ValueError('broken input row 7')",
        "print('unreachable')",
    )
    with pytest.raises(NotebookError) as info:
        notebooks.run_notebook(nb, tmp_path / "run", {"fail": True})
    err = info.value
    # cells: 0 markdown, 1 parameters, 2 "y = 1", 3 the raise (index in the source notebook)
    assert err.cell_index == 3
    assert err.ename == "ValueError"
    assert "broken input row 7" in err.evalue
    assert "bad.ipynb: cell 3 failed with ValueError" in str(err)
    assert err.output.is_file()  # the executed copy keeps the traceback
    # without the failure flag the same notebook runs through
    out = notebooks.run_notebook(nb, tmp_path / "ok", {"fail": False})
    assert _outputs(out)[-1].strip() == "unreachable"


def test_unknown_parameter_is_rejected_before_running(tmp_path):
    nb = _notebook(tmp_path / "p.ipynb", "learning_rate = 0.001")
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['learnign_rate'\]"):
        notebooks.run_notebook(nb, tmp_path / "run", {"learnign_rate": 0.1})
    assert not (tmp_path / "run" / "p.ipynb").exists()


def test_notebook_parameters_parses_multiline_and_calls(tmp_path):
    nb = _notebook(
        tmp_path / "p.ipynb",
        'grid = dict(a=[1, 2])  # two "=" on a line\nloss = {\n    "x": 1.0,\n}\nn: int = 3',
    )
    assert notebooks.notebook_parameters(nb) == {
        "grid": "dict(a=[1, 2])",
        "loss": '{\n    "x": 1.0,\n}',
        "n": "3",
    }


def test_notebook_without_parameters_cell_is_an_error(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, str(tmp_path / "n.ipynb"))
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        notebooks.notebook_parameters(tmp_path / "n.ipynb")


def test_stage_names_resolve_to_the_shipped_notebooks():
    path = notebooks.resolve_notebook("02")
    assert path.name == "02_full_training.ipynb" and path.is_file()
    assert notebooks.resolve_notebook("05_submission").name == "05_submission.ipynb"
    with pytest.raises(ValueError, match="unknown notebook '07'"):
        notebooks.resolve_notebook("07")


def test_uninjectable_parameter_is_named(tmp_path):
    nb = _notebook(tmp_path / "p.ipynb", "x = 1")
    with pytest.raises(ConfigError, match="parameter 'x': cannot inject a object"):
        notebooks.run_notebook(nb, tmp_path / "run", {"x": object()})


# ---------------------------------------------------------------------------------- hand-offs
def test_handoff_round_trip_and_missing_key(tmp_path):
    ckpt = tmp_path / "w.h5"
    notebooks.write_handoff(tmp_path, checkpoint=ckpt)
    notebooks.write_handoff(tmp_path, config="c.yaml")  # merged, not overwritten
    assert notebooks.read_handoff(tmp_path, "checkpoint") == str(ckpt.resolve())
    assert notebooks.read_handoff(tmp_path, "config") == "c.yaml"
    assert notebooks.read_handoff(tmp_path, "metrics", default=None) is None
    assert notebooks.read_handoff("", "checkpoint", default="x") == "x"
    with pytest.raises(FileNotFoundError, match="'metrics' not recorded by the previous stage"):
        notebooks.read_handoff(tmp_path, "metrics")


# ---------------------------------------------------------------------------------- grid files
def _grid(tmp_path, text):
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    return path


def test_grid_is_the_cartesian_product_in_file_order(tmp_path):
    path = _grid(
        tmp_path,
        "learning_rate: [1e-3, 5.0e-4]\n"
        "gradient_clip_norm: [5.0]\n"
        "loss_weights: [{mrcnn_mask_loss: 1.0}, {mrcnn_mask_loss: 2.0}]\n",
    )
    points = grid.load_grid(path)
    assert len(points) == 4
    assert points[0] == {
        "learning_rate": 0.001,  # "1e-3" is read as a float, not YAML 1.1's string
        "gradient_clip_norm": 5.0,
        "loss_weights": {"mrcnn_mask_loss": 1.0},
    }
    assert [p["learning_rate"] for p in points] == [0.001, 0.001, 0.0005, 0.0005]
    assert [p["loss_weights"]["mrcnn_mask_loss"] for p in points] == [1.0, 2.0, 1.0, 2.0]


def test_grid_accepts_a_top_level_grid_key(tmp_path):
    points = grid.load_grid(_grid(tmp_path, "grid:\n  seed: [0, 1, 2]\n"))
    assert points == [{"seed": 0}, {"seed": 1}, {"seed": 2}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("learning_rate: 0.001\n", r"key 'learning_rate': expected a list .*\(write \[0.001\]"),
        ("learning_rate: []\n", "key 'learning_rate': the list of values is empty"),
        ("seed: [1, 1]\n", "key 'seed': value 1 is listed twice"),
        ("2x: [1]\n", "key '2x' is not a valid parameter name"),
        ("lr: [.nan]\n", "key 'lr', value 0: nan is not finite"),
        ("- 1\n- 2\n", "expected a mapping of parameter name -> list of values, got list"),
        ("", "the grid file is empty"),
        ("a: [1\n", "not valid YAML"),
        ("a: [2000-01-01]\n", "key 'a', value 0: unsupported type date"),
    ],
)
def test_grid_errors_name_file_and_key(tmp_path, text, message):
    path = _grid(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        grid.load_grid(path)
    assert str(path) in str(info.value)


def test_grid_unknown_key_lists_the_allowed_ones(tmp_path):
    path = _grid(tmp_path, "learning_rate: [0.1]\nlearnign_rate: [0.2]\n")
    with pytest.raises(ConfigError, match=r"unknown key 'learnign_rate'.*'learning_rate'"):
        grid.load_grid(path, allowed=["learning_rate", "seed"])


def test_grid_too_large_is_rejected(tmp_path):
    values = list(range(40))
    path = _grid(tmp_path, f"a: {values}\nb: {values}\n")
    with pytest.raises(ConfigError, match=r"1600 grid points \(a=40 x b=40\) exceed the limit"):
        grid.load_grid(path)


def test_missing_grid_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the grid file"):
        grid.load_grid(tmp_path / "nope.yaml")


# ---------------------------------------------------------------------------------- ranking
def test_rank_trials_orders_by_mask_map_and_puts_missing_last():
    rows = [
        {"trial": "t0", "mask_map50": 0.2, "segm_AP": 0.9},
        {"trial": "t1", "segm_AP": 0.5},
        {"trial": "t2", "mask_map50": 0.7, "segm_AP": 0.1},
    ]
    table = notebooks.rank_trials(rows)
    assert list(table["trial"]) == ["t2", "t0", "t1"]
    assert list(table["rank"]) == [1, 2, 3]
    with pytest.raises(ValueError, match="cannot rank"):
        notebooks.rank_trials([{"trial": "t0", "loss": 1.0}])


def test_run_tune_rejects_unknown_grid_key_before_running(tmp_path):
    path = _grid(tmp_path, "learnign_rate: [0.1]\n")
    with pytest.raises(ConfigError, match="unknown key 'learnign_rate'"):
        notebooks.run_tune(path, tmp_path / "tune")
    assert not (tmp_path / "tune").exists()


def test_run_pipeline_rejects_unknown_parameter(tmp_path):
    with pytest.raises(ConfigError, match=r"\['no_such_parameter'\] are declared by none"):
        notebooks.run_pipeline(tmp_path, smoke=True, parameters={"no_such_parameter": 1})


def test_flatten_rows_keeps_csv_flat(tmp_path):
    rows = notebooks._flatten_rows([{"loss_weights": {"b": 2.0, "a": 1.0}, "x": 1}])
    assert rows == [{"loss_weights": '{"a": 1.0, "b": 2.0}', "x": 1}]
    pd.DataFrame(rows).to_csv(tmp_path / "r.csv", index=False)
    assert json.loads(pd.read_csv(tmp_path / "r.csv")["loss_weights"][0]) == {"a": 1.0, "b": 2.0}


# ------------------------------------------------------------- pipeline and tune on fake stages
FAKE_STAGE = """
import json, pathlib
out = pathlib.Path(output_dir)
(out / "seen.json").write_text(json.dumps({"previous": previous_stage_dir, "seed": seed}))
assert not fail, f"stage {out.name} told to fail"
"""


@pytest.fixture
def fake_stages(tmp_path, monkeypatch):
    """Six tiny stage notebooks in a folder the runner is pointed at; stage 02 can be told to fail."""
    folder = tmp_path / "fake_notebooks"
    folder.mkdir()
    for stage in notebooks.STAGES:
        _notebook(
            folder / f"{stage}.ipynb",
            'output_dir = ""\nprevious_stage_dir = ""\nseed = 0\nfail = False',
            FAKE_STAGE,
        )
    monkeypatch.setenv("FASHION_MRCNN_NOTEBOOKS", str(folder))
    return folder


def test_run_pipeline_chains_stages_and_stops_at_first_failure(fake_stages, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(NotebookError) as info:
        notebooks.run_pipeline(
            out,
            stages=["00", "01", "02", "03"],
            parameters={"seed": 7, "02_full_training": {"fail": True}},
        )
    assert info.value.notebook.name == "02_full_training.ipynb"
    assert info.value.cell_index == 2 and info.value.ename == "AssertionError"
    seen = json.loads((out / "01_subset_tuning" / "seen.json").read_text())
    assert seen == {"previous": str(out.resolve() / "00_explore_data"), "seed": 7}
    assert not (out / "03_minority_oversampling").exists()  # stopped at the failure
    summary = json.loads((out / "pipeline.json").read_text())
    assert list(summary) == ["00_explore_data", "01_subset_tuning", "02_full_training"]
    assert "stage 02_full_training told to fail" in summary["02_full_training"]["error"]


def test_run_pipeline_subset_of_stages_reads_the_earlier_run(fake_stages, tmp_path):
    summary = notebooks.run_pipeline(tmp_path / "run", stages=["04"])
    assert list(summary) == ["04_error_analysis"]
    seen = json.loads((tmp_path / "run" / "04_error_analysis" / "seen.json").read_text())
    assert seen["previous"] == str((tmp_path / "run" / "03_minority_oversampling").resolve())
    assert seen["seed"] == 0


FAKE_TUNE = """
import json, pathlib
from fashion_mrcnn.workflow.notebooks import write_handoff
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
    table = notebooks.run_tune(path, tmp_path / "tune", base_parameters={"seed": 3})
    assert list(table["learning_rate"]) == [0.005, 0.003, 0.001]
    assert list(table["rank"]) == [1, 2, 3]
    assert table.loc[0, "trial"] == "trial_001"
    assert table["mask_map50"].tolist() == pytest.approx([0.5, 0.3, 0.1])
    assert "note" not in table.columns  # only numeric metrics are collected
    ranked = pd.read_csv(tmp_path / "tune" / "ranked.csv")
    assert list(ranked["trial"]) == ["trial_001", "trial_002", "trial_000"]
    assert (tmp_path / "tune" / "best_config.yaml").read_text() == "LEARNING_RATE: 0.005\nSEED: 3\n"
    # the tune folder stands in for stage 01
    handoff_config = notebooks.read_handoff(tmp_path / "tune", "config")
    assert handoff_config == str((tmp_path / "tune" / "best_config.yaml").resolve())
    best_metrics = json.loads(
        Path(notebooks.read_handoff(tmp_path / "tune", "metrics")).read_text()
    )
    assert best_metrics["mask_map50"] == pytest.approx(0.5)


def test_parse_overrides_reads_yaml_values_and_stage_prefixes():
    parsed = notebooks.parse_overrides(
        [
            "seed=3",
            "lr=1e-3",
            "02.heads_epochs=4",
            "03_minority_oversampling.method=min_count",
            "grid={LEARNING_RATE: [0.1, 0.2]}",
            "data=",
        ]
    )
    assert parsed == {
        "seed": 3,
        "lr": 0.001,
        "02_full_training": {"heads_epochs": 4},
        "03_minority_oversampling": {"method": "min_count"},
        "grid": {"LEARNING_RATE": [0.1, 0.2]},
        "data": None,
    }


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("seed", "expected NAME=VALUE"),
        ("=3", "expected NAME=VALUE"),
        ("09.seed=1", "unknown stage '09'"),
        ("02.2x=1", "'2x' is not a parameter name"),
        ("a-b=1", "'a-b' is not a parameter name"),
        ("x=[1", "value is not valid YAML"),
    ],
)
def test_parse_overrides_errors_name_the_item(item, message):
    with pytest.raises(ConfigError, match=message):
        notebooks.parse_overrides([item])


def test_run_pipeline_checks_per_stage_parameters_before_running(fake_stages, tmp_path):
    with pytest.raises(
        ConfigError, match=r"03_minority_oversampling: unknown parameter\(s\) \['epohcs'\]"
    ):
        notebooks.run_pipeline(
            tmp_path / "run", parameters={"03_minority_oversampling": {"epohcs": 2}}
        )
    assert not (tmp_path / "run" / "00_explore_data").exists()
    custom = _notebook(tmp_path / "custom.ipynb", "x = 1")
    with pytest.raises(ValueError, match=r"not pipeline stages: \['custom'\]"):
        notebooks.run_pipeline(tmp_path / "run", stages=["00", custom])


# ---------------------------------------------------------------------- notebook helper functions
def test_checkpoint_epoch_reads_our_checkpoint_names():
    assert notebooks.checkpoint_epoch("/r/logs/fashion20261123T1342/mask_rcnn_fashion_0002.h5") == 2
    assert notebooks.checkpoint_epoch("mask_rcnn_fashion_tune_0012.weights.h5") == 12
    assert notebooks.checkpoint_epoch("/w/mask_rcnn_coco.h5") == 0
    assert notebooks.checkpoint_epoch("resnet50_imagenet.h5") == 0


def test_stage_config_sources_and_overrides(tmp_path):
    from fashion_mrcnn.config import Config

    base = Config.preset("cpu-smoke", NAME="base", NUM_CLASSES=47)
    # no previous stage: the base, with non-None overrides applied
    config = notebooks.stage_config("", base=base, NAME="x", DETECTION_MIN_CONFIDENCE=None)
    assert config.NAME == "x" and config.DETECTION_MIN_CONFIDENCE == base.DETECTION_MIN_CONFIDENCE
    # a recorded config wins over the base
    recorded = Config.preset("cpu-smoke", NAME="tuned", NUM_CLASSES=47, LEARNING_RATE=0.02)
    notebooks.write_handoff(tmp_path, config=recorded.to_yaml(tmp_path / "c.yaml"))
    config = notebooks.stage_config(tmp_path, base=base, DETECTION_MAX_INSTANCES=7)
    assert (config.NAME, config.LEARNING_RATE, config.DETECTION_MAX_INSTANCES) == ("tuned", 0.02, 7)
    # an explicit path wins over the hand-off
    other = Config.preset("cpu-smoke", NAME="explicit", NUM_CLASSES=47).to_yaml(tmp_path / "o.yaml")
    assert notebooks.stage_config(tmp_path, other).NAME == "explicit"
    with pytest.raises(FileNotFoundError, match="'config' not recorded"):
        notebooks.stage_config(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="nope.yaml does not exist"):
        notebooks.stage_config("", tmp_path / "nope.yaml")


def test_stage_weights(tmp_path):
    ckpt = tmp_path / "w.h5"
    ckpt.write_bytes(b"x")
    notebooks.write_handoff(tmp_path, checkpoint=ckpt)
    assert notebooks.stage_weights(tmp_path) == str(ckpt.resolve())
    assert notebooks.stage_weights("", ckpt) == str(ckpt)
    ckpt.unlink()
    with pytest.raises(FileNotFoundError, match="w.h5 does not exist"):
        notebooks.stage_weights(tmp_path)


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
        notebooks.record_tuning(ranked, tmp_path)
    (tmp_path / "best_config.yaml").write_text("NAME: t\n")
    best = notebooks.record_tuning(ranked, tmp_path)
    assert best["trial"] == 1
    assert json.loads((tmp_path / "metrics.json").read_text()) == {
        "mask_map50": 0.4,
        "bbox_AP": 0.2,
    }
    assert notebooks.read_handoff(tmp_path, "config").endswith("best_config.yaml")
    with pytest.raises(ValueError, match="no trial finished"):
        notebooks.record_tuning(ranked.iloc[:0], tmp_path)
    with pytest.raises(ValueError, match="none of"):
        notebooks.record_tuning(ranked[["trial", "config"]], tmp_path)


def test_show_artifacts_displays_images_only_and_checks_they_exist(tmp_path):
    from PIL import Image

    png = tmp_path / "a.png"
    Image.new("RGB", (4, 4)).save(png)
    csv = tmp_path / "t.csv"
    csv.write_text("a\n")
    assert notebooks.show_artifacts([png, csv]) == [png]
    with pytest.raises(FileNotFoundError, match="gone.png was reported but does not exist"):
        notebooks.show_artifacts([tmp_path / "gone.png"])
