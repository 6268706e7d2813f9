"""The console entry point ends the process itself once TensorFlow is loaded (no finalisation
hang) and loses none of the output: stdout and stderr are flushed, the exit code is kept."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import sys
{preload}
from fashion_mrcnn import cli
sys.argv = ["fashion-mrcnn"] + {argv!r}
cli.run()
print("not reached", flush=True)
"""


def _run(argv, preload_tensorflow: bool):
    code = SCRIPT.format(
        preload="import tensorflow" if preload_tensorflow else "", argv=[str(a) for a in argv]
    )
    # block-buffered stdout, as in a papermill or CI pipe (this machine sets PYTHONUNBUFFERED)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )


def test_output_and_exit_code_survive_the_fast_exit(tmp_path):
    out = tmp_path / "scenes"
    for preload in (False, True):
        done = _run(["synth", "--images", "2", "--size", "64", "--out", out], preload)
        assert done.returncode == 0, done.stderr
        assert "synthetic scenes written to" in done.stdout  # flushed before os._exit
        assert "not reached" not in done.stdout


def test_a_user_error_keeps_exit_code_2_and_its_message(tmp_path):
    done = _run(["stats", tmp_path / "missing.csv"], preload_tensorflow=True)
    assert done.returncode == 2
    assert "fashion-mrcnn stats: error:" in done.stderr
    assert "not reached" not in done.stdout
