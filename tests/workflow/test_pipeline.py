"""Running the staged notebooks in order, on fake stage notebooks written into tmp_path."""

import json

import pytest

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.workflow import pipeline
from fashion_mrcnn.workflow.papermill_runner import STAGES, NotebookError
from tests.workflow.notebook_files import write_notebook as _notebook


def test_run_pipeline_rejects_unknown_parameter(tmp_path):
    with pytest.raises(ConfigError, match=r"\['no_such_parameter'\] are declared by none"):
        pipeline.run_pipeline(tmp_path, smoke=True, parameters={"no_such_parameter": 1})


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
    for stage in STAGES:
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
        pipeline.run_pipeline(
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
    summary = pipeline.run_pipeline(tmp_path / "run", stages=["04"])
    assert list(summary) == ["04_error_analysis"]
    seen = json.loads((tmp_path / "run" / "04_error_analysis" / "seen.json").read_text())
    assert seen["previous"] == str((tmp_path / "run" / "03_minority_oversampling").resolve())
    assert seen["seed"] == 0


def test_run_pipeline_checks_per_stage_parameters_before_running(fake_stages, tmp_path):
    with pytest.raises(
        ConfigError, match=r"03_minority_oversampling: unknown parameter\(s\) \['epohcs'\]"
    ):
        pipeline.run_pipeline(
            tmp_path / "run", parameters={"03_minority_oversampling": {"epohcs": 2}}
        )
    assert not (tmp_path / "run" / "00_explore_data").exists()
    custom = _notebook(tmp_path / "custom.ipynb", "x = 1")
    with pytest.raises(ValueError, match=r"not pipeline stages: \['custom'\]"):
        pipeline.run_pipeline(tmp_path / "run", stages=["00", custom])
