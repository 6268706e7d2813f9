"""The setup cell of every notebook: mounts Drive and installs only inside Colab; everywhere it
reports Python, TensorFlow, Keras and the GPU.

The cell's source is executed with stand-ins for ``google.colab.drive``, ``subprocess.run`` and
TensorFlow's device listing, so the test needs neither Colab nor a GPU.
"""

import platform
import subprocess
import sys
import types
from importlib import metadata

import nbformat
import pytest

from fashion_mrcnn.workflow import papermill_runner


def _setup_cell(stage: str) -> str:
    nb = nbformat.read(str(papermill_runner.resolve_notebook(stage)), as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source]
    assert len(cells) == 1, f"{stage}: expected one Colab setup cell"
    return cells[0]


@pytest.fixture
def fake_colab(monkeypatch):
    """Pretend to be in Colab: record drive mounts, pip calls and GPU queries."""
    calls = {"mount": [], "run": [], "gpu": 0}
    drive = types.ModuleType("google.colab.drive")
    drive.mount = lambda path: calls["mount"].append(path)
    colab = types.ModuleType("google.colab")
    colab.drive = drive
    google = types.ModuleType("google")
    google.colab = colab
    for name, module in {
        "google": google,
        "google.colab": colab,
        "google.colab.drive": drive,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)

    def run(cmd, check=False):
        calls["run"].append((cmd, check))
        return subprocess.CompletedProcess(cmd, 0)

    def list_physical_devices(kind):
        calls["gpu"] += 1
        assert kind == "GPU"
        return []

    tf = types.ModuleType("tensorflow")
    tf.config = types.SimpleNamespace(list_physical_devices=list_physical_devices)
    monkeypatch.setitem(sys.modules, "tensorflow", tf)
    monkeypatch.setattr(subprocess, "run", run)
    return calls


def _assert_versions_reported(out: str) -> None:
    assert f"Python {platform.python_version()}" in out
    assert f"tensorflow {metadata.version('tensorflow')}" in out
    assert f"keras {metadata.version('keras')}" in out


@pytest.mark.parametrize("stage", papermill_runner.STAGES)
def test_colab_branch_mounts_installs_and_reports_gpu(fake_colab, capsys, stage):
    source = _setup_cell(stage)
    exec(compile(source, f"{stage}:colab", "exec"), {"colab_source": "/content/drive/MyDrive/fm"})
    assert fake_colab["mount"] == ["/content/drive"]
    [(cmd, check)] = fake_colab["run"]
    assert cmd[-1] == "/content/drive/MyDrive/fm" and cmd[1:4] == ["-m", "pip", "install"]
    assert check is True
    assert fake_colab["gpu"] == 1
    out = capsys.readouterr().out
    assert "GPU: none" in out
    _assert_versions_reported(out)


@pytest.mark.parametrize("stage", papermill_runner.STAGES)
def test_outside_colab_the_cell_only_reports_versions(monkeypatch, capsys, stage):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    # TensorFlow imported under the patch below would fail inside h5py (platform.processor()
    # runs `uname -p` through subprocess.run); import it first, as any earlier test would have.
    import tensorflow  # noqa: F401

    ran = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: ran.append(a))
    namespace = {"colab_source": "unused"}
    exec(compile(_setup_cell(stage), f"{stage}:colab", "exec"), namespace)
    assert namespace["IN_COLAB"] is False
    assert ran == []
    _assert_versions_reported(capsys.readouterr().out)
