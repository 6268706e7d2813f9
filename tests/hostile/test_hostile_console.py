"""The console row: a TensorFlow command in a fresh process, as a user runs it (TensorFlow's log
level not preset). Its own error must be the first, and here the only, line of stderr: none of
TensorFlow's start-up lines (absl's banner, oneDNN, the CUDA probe; ``fashion_mrcnn.tf_startup``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import fashion_mrcnn
from tests.hostile import hostile_inputs as inp

#: The folder holding the package under test (the child process must run the same code).
PACKAGE_ROOT = Path(fashion_mrcnn.__file__).resolve().parents[1]


def test_predict_with_weights_of_another_model_prints_only_its_error(world, tmp_path):
    other = inp.matterport_h5_of_another_model(tmp_path, world)["other"]
    names = world.names()
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-m", "fashion_mrcnn.cli", "predict", str(names["synth"] / "train"),
         "--weights", str(other), "--out", str(tmp_path / "out"), "--config",
         str(names["config"]), "--classes", str(names["classes"])],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines and lines[0].startswith("fashion-mrcnn predict: error: "), proc.stderr
    assert "other.h5: none of the model's" in lines[0]
    assert len(lines) == 1, proc.stderr
    assert not (tmp_path / "out").exists()
