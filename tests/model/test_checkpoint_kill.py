"""A process killed (SIGKILL) while writing a checkpoint leaves the previous checkpoint loadable.

A writer subprocess saves a 24 MB model again and again to the same path with
``weights.save_checkpoint`` (kernels all 1, biases = the save's number) and reports each finished
save; writing the file is nearly all it does. It is killed at random moments, several times;
after each kill the file must load completely and hold one whole save: the last reported one, or
the next if the kill came between its rename and its report. A temporary file left behind shows a
kill landed mid-write.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np

from fashion_mrcnn.model.weights import load_weights

WRITER = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    from fashion_mrcnn.model.weights import save_checkpoint

    def build():
        x = inputs = keras.Input((512,))
        for i in range(6):
            x = keras.layers.Dense(1024, name=f"d{i}")(x)
        return keras.Model(inputs, x)

    model, n = build(), 0
    for layer in model.layers[1:]:
        layer.kernel.assign(np.ones(layer.kernel.shape, "float32"))
    while True:
        n += 1
        for layer in model.layers[1:]:
            layer.bias.assign(np.full(layer.bias.shape, float(n), "float32"))
        save_checkpoint(model, sys.argv[1])
        print(n, flush=True)
    """
)


def _model():
    x = inputs = keras.Input((512,))
    for i in range(6):
        x = keras.layers.Dense(1024, name=f"d{i}")(x)
    return keras.Model(inputs, x)


def _kill_while_writing(script: Path, path: Path, delay: float) -> int:
    """Start the writer, let it finish a first save, wait until it writes the next one (its
    temporary file appears), kill it ``delay`` s later; return the last save it reported."""
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(repo)}
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)  # left by the previous kill
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        first = proc.stdout.readline()  # blocks until the first save is complete
        assert first.strip() == "1", f"writer failed before its first save: {first!r}"
        deadline = time.monotonic() + 60
        while not tmp.exists() and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        reported = [int(line) for line in [first, *proc.stdout.read().split()] if line.strip()]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return reported[-1]


def test_sigkill_during_checkpoint_write_leaves_a_loadable_checkpoint(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    path = tmp_path / "mask_rcnn_test_0001.h5"
    model = _model()
    mid_write = 0
    for delay in np.random.default_rng(0).uniform(0.0, 0.05, size=3):
        last = _kill_while_writing(script, path, float(delay))
        mid_write += path.with_name(path.name + ".tmp").exists()
        load_weights(model, path, verbose=0)  # raises WeightsError on a truncated file
        biases = {float(v) for layer in model.layers[1:] for v in np.asarray(layer.bias)}
        assert len(biases) == 1, f"a mix of saves after a kill at {delay:.3f} s: {biases}"
        assert biases.pop() in (last, last + 1), (last, delay)
        assert all((np.asarray(layer.kernel) == 1).all() for layer in model.layers[1:])
    assert mid_write >= 2, "the kills did not land while a checkpoint was being written"
