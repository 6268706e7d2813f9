"""Config.JIT_COMPILE (issue 19, section 3): the training step and detect compile under XLA on
CPU, and give what the uncompiled graphs give, the default (dynamic-shape) graph included.

The two compile tests are slow (XLA compiles the whole cpu-smoke graph: ~30 s each) and run in
``.ci/run``'s slow step."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_mrcnn.errors import ConfigError
from tests.model.engine_helpers import SceneDataset, smoke_config, synthetic_scenes

JIT = {"JIT_COMPILE": True, "ROI_ALIGN": "xla"}


def test_jit_compile_needs_the_xla_crop():
    with pytest.raises(ConfigError, match="JIT_COMPILE needs ROI_ALIGN = 'xla'"):
        smoke_config(JIT_COMPILE=True)
    assert smoke_config(**JIT).JIT_COMPILE is True


def test_predict_compiles_only_when_the_config_says(tmp_path, monkeypatch):
    """Keras' ``jit_compile="auto"`` XLA-compiles ``predict_on_batch`` wherever a GPU is
    visible, and the default graph (CropAndResize, dynamic shapes) does not compile: the model
    must carry the config's choice. Here a GPU is made to appear."""
    import tensorflow as tf

    from fashion_mrcnn.model.maskrcnn import MaskRCNN

    gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
    real = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda *a: real(*a) + [gpu])
    model = MaskRCNN("inference", smoke_config(IMAGES_PER_GPU=1), str(tmp_path))
    assert model.keras_model.jit_compile is False
    model = MaskRCNN("inference", smoke_config(IMAGES_PER_GPU=1, **JIT), str(tmp_path))
    assert model.keras_model.jit_compile is True


def _trained_one_step(config, weights, batch, jit_compile, tmp_path):
    """(logs, weights after) of one training step from ``weights`` on ``batch``, the target
    sampling deterministic so that runs compare."""
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    from fashion_mrcnn.model.training import MaskRCNNTrainer, make_optimizer

    model = MaskRCNN("training", config, str(tmp_path))
    model.set_trainable("all", verbose=0)
    model.keras_model.set_weights(weights)
    model.keras_model.get_layer("proposal_targets").deterministic = True
    trainer = MaskRCNNTrainer(model.keras_model, config)
    trainer.compile(optimizer=make_optimizer(config, 0.01, 100), jit_compile=jit_compile)
    logs = trainer.train_on_batch(batch, return_dict=True)
    return {k: float(v) for k, v in logs.items()}, model.keras_model.get_weights()


@pytest.mark.slow
def test_training_step_compiles_and_matches_the_uncompiled_graphs(tmp_path):
    import keras

    from fashion_mrcnn.data.pipeline import make_dataset
    from fashion_mrcnn.model.maskrcnn import MaskRCNN

    plain, jit = smoke_config(), smoke_config(**JIT)
    batch = next(iter(make_dataset(SceneDataset(synthetic_scenes(2), 8), jit, seed=0)))[0]
    keras.utils.set_random_seed(0)
    start = MaskRCNN("training", jit, str(tmp_path)).keras_model.get_weights()

    compiled, after = _trained_one_step(jit, start, batch, True, tmp_path)
    fixed, after_fixed = _trained_one_step(jit, start, batch, False, tmp_path)
    dynamic, _ = _trained_one_step(plain, start, batch, False, tmp_path)
    losses = [k for k in fixed if k.endswith("loss")]
    assert fixed["positive_rois"] > 0 and fixed["mrcnn_mask_loss"] > 0  # heads had work
    for key in losses + ["positive_rois"]:
        assert compiled[key] == pytest.approx(fixed[key], rel=1e-4, abs=1e-6), key
        # the default graph: mask head on the positives only, CropAndResize crops
        assert dynamic[key] == pytest.approx(fixed[key], rel=2e-3, abs=1e-5), key
    moved = [np.max(np.abs(a - s)) for a, s in zip(after, start)]
    assert max(moved) > 1e-4  # the step changed the weights
    for a, b in zip(after, after_fixed):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


@pytest.mark.slow
def test_detect_compiles_and_matches_the_default_graph(tmp_path):
    import keras

    from fashion_mrcnn.model.maskrcnn import MaskRCNN

    images = [scene[0] for scene in synthetic_scenes(2, seed=3)]
    keras.utils.set_random_seed(1)
    jit = MaskRCNN("inference", smoke_config(IMAGES_PER_GPU=1, **JIT), str(tmp_path))
    plain = MaskRCNN("inference", smoke_config(IMAGES_PER_GPU=1), str(tmp_path))
    plain.keras_model.set_weights(jit.keras_model.get_weights())
    got = jit.detect(images, min_confidence=0.0)
    want = plain.detect(images, min_confidence=0.0)
    assert sum(len(r["class_ids"]) for r in want) > 0  # random weights still detect
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g["class_ids"], w["class_ids"])
        np.testing.assert_allclose(g["scores"], w["scores"], atol=1e-4)
        assert np.abs(g["rois"] - w["rois"]).max(initial=0) <= 1
        assert np.mean(g["masks"] != w["masks"]) < 1e-3
