"""The papermill runner, on tiny notebooks written into tmp_path."""

import sys

import nbformat
import pytest

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.workflow import papermill_runner
from fashion_mrcnn.workflow.papermill_runner import NotebookError
from tests.workflow.notebook_files import cell_outputs as _outputs
from tests.workflow.notebook_files import write_notebook as _notebook


def test_parameters_are_injected_and_kernel_is_this_python(tmp_path):
    nb = _notebook(
        tmp_path / "p.ipynb",
        'x = 1\nname = "a"\noutput_dir = ""',
        "import sys\nprint(sys.executable)",
        "print(x * 2, name, output_dir)",
    )
    out = papermill_runner.run_notebook(nb, tmp_path / "run", {"x": 21, "name": "b"})
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
        papermill_runner.run_notebook(nb, tmp_path / "run", {"fail": True})
    err = info.value
    # cells: 0 markdown, 1 parameters, 2 "y = 1", 3 the raise (index in the source notebook)
    assert err.cell_index == 3
    assert err.ename == "ValueError"
    assert "broken input row 7" in err.evalue
    assert "bad.ipynb: cell 3 failed with ValueError" in str(err)
    assert err.output.is_file()  # the executed copy keeps the traceback
    # without the failure flag the same notebook runs through
    out = papermill_runner.run_notebook(nb, tmp_path / "ok", {"fail": False})
    assert _outputs(out)[-1].strip() == "unreachable"


def test_unknown_parameter_is_rejected_before_running(tmp_path):
    nb = _notebook(tmp_path / "p.ipynb", "learning_rate = 0.001")
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['learnign_rate'\]"):
        papermill_runner.run_notebook(nb, tmp_path / "run", {"learnign_rate": 0.1})
    assert not (tmp_path / "run" / "p.ipynb").exists()


def test_notebook_parameters_parses_multiline_and_calls(tmp_path):
    nb = _notebook(
        tmp_path / "p.ipynb",
        'grid = dict(a=[1, 2])  # two "=" on a line\nloss = {\n    "x": 1.0,\n}\nn: int = 3',
    )
    assert papermill_runner.notebook_parameters(nb) == {
        "grid": "dict(a=[1, 2])",
        "loss": '{\n    "x": 1.0,\n}',
        "n": "3",
    }


def test_notebook_without_parameters_cell_is_an_error(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, str(tmp_path / "n.ipynb"))
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        papermill_runner.notebook_parameters(tmp_path / "n.ipynb")


def test_stage_names_resolve_to_the_shipped_notebooks():
    path = papermill_runner.resolve_notebook("02")
    assert path.name == "02_full_training.ipynb" and path.is_file()
    assert papermill_runner.resolve_notebook("05_submission").name == "05_submission.ipynb"
    with pytest.raises(ValueError, match="unknown notebook '07'"):
        papermill_runner.resolve_notebook("07")


def test_uninjectable_parameter_is_named(tmp_path):
    nb = _notebook(tmp_path / "p.ipynb", "x = 1")
    with pytest.raises(ConfigError, match="parameter 'x': cannot inject a object"):
        papermill_runner.run_notebook(nb, tmp_path / "run", {"x": object()})
