"""The TFLite export (``fashion-mrcnn export --format tflite``, ``model.export_tflite``).

The conversion test is slow (about 40 s: the starter model's graph is traced and converted) and
runs in ``.ci/run``'s slow step. It needs the shipped starter model and a ccp-fashion val photo
(a model with random weights scores its boxes too alike for two runtimes to rank them the same).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.model.export_tflite import LABELS_FILE, TFLITE_FILE, export_tflite
from tests.model.engine_helpers import smoke_config
from tests.test_starter_model import HELD_OUT_PHOTO


def _fake_model(**overrides):
    """What ``export_tflite`` reads before it builds anything: ``mode`` and ``config``."""
    return SimpleNamespace(mode="inference", config=smoke_config(**overrides))


def test_refuses_a_min_scale_wrong_names_and_unknown_weights(tmp_path):
    model = _fake_model(IMAGE_MIN_SCALE=1.5)
    names = ["BG"] + [f"c{i}" for i in range(1, model.config.NUM_CLASSES)]
    with pytest.raises(ConfigError, match="IMAGE_MIN_SCALE"):
        export_tflite(model, tmp_path, names)
    with pytest.raises(ConfigError, match="3 class names for a model of NUM_CLASSES=8"):
        export_tflite(_fake_model(), tmp_path, ["BG", "a", "b"])
    with pytest.raises(ConfigError, match="line break"):
        export_tflite(_fake_model(), tmp_path, names[:-1] + ["two\nlines"])
    with pytest.raises(ConfigError, match="TFLite weights must be one of"):
        export_tflite(_fake_model(), tmp_path, names, weights="int8")
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["tflite", "tflite-float16"])
def test_cli_tflite_export_finds_what_detect_finds_on_a_held_out_photo(tmp_path, ccp_dir, fmt):
    """``export --format tflite`` (and ``tflite-float16``) of the starter model, run in
    TensorFlow's TFLite interpreter (built-in kernels) on a held-out photo: every instance
    ``detect`` finds is found with the same class, a mask IoU >= 0.9 and a score within 0.02,
    and nothing else; boxes within 2 px (over 20 val photos the float16 file missed 0.9 IoU on 3
    of 138 instances: ``bench/results/tflite.md``)."""
    import tensorflow as tf

    from fashion_mrcnn.cli import main
    from fashion_mrcnn.evaluation.matching import compute_overlaps_masks
    from fashion_mrcnn.workflow import rundir, stages

    if not rundir.STARTER_WEIGHTS.is_file():
        pytest.skip(f"no starter model at {rundir.STARTER_WEIGHTS}")
    out = tmp_path / "lite"
    assert main(["export", "--weights", str(rundir.STARTER_WEIGHTS), "--out", str(out),
                 "--format", fmt]) == 0  # fmt: skip
    config, categories = rundir.read_run(rundir.STARTER_WEIGHTS)
    labels = (out / LABELS_FILE).read_text(encoding="utf-8").splitlines()
    assert labels == stages.class_names_for(categories)

    from PIL import Image

    image = np.asarray(Image.open(ccp_dir / "images" / HELD_OUT_PHOTO).convert("RGB"))
    run = tf.lite.Interpreter(model_path=str(out / TFLITE_FILE)).get_signature_runner()
    got = run(image=image)
    n = int(got["num_detections"])
    # float32 as the TFLite model (MIXED_PRECISION "auto" picks bfloat16 on a bfloat16 CPU)
    model = stages.load_inference_model(
        config.replace(MIXED_PRECISION=False), rundir.STARTER_WEIGHTS
    )
    want = model.detect([image])[0]
    assert n == len(want["class_ids"]) >= 1, (n, want["class_ids"])
    assert got["masks"].shape == (n,) + image.shape[:2] and got["masks"].dtype == bool
    ious = compute_overlaps_masks(want["masks"], np.transpose(got["masks"][:n], (1, 2, 0)))
    pair = np.argmax(ious, axis=1)  # detect's instance k -> its best TFLite instance
    assert sorted(pair) == list(range(n)), "two detect instances took one TFLite instance"
    assert np.all(ious[np.arange(n), pair] >= 0.9), ious[np.arange(n), pair]
    assert np.array_equal(got["class_ids"][pair], want["class_ids"])
    np.testing.assert_allclose(got["scores"][pair], want["scores"], atol=0.02)
    np.testing.assert_allclose(got["boxes"][pair], want["rois"], atol=2)
