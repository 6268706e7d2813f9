"""Training that must not end in a silent wrong result: the divergence rule, an exploding learning
rate never leaving a diverged checkpoint as the newest, resume past a truncated checkpoint, the
learning-rate schedule continuing where a resumed run stopped, and an image with no instances."""

from __future__ import annotations

import json
import types
from pathlib import Path

import keras
import numpy as np
import pytest
from engine_helpers import SceneDataset, smoke_config, synthetic_scenes

from fashion_mrcnn.constants import LOSS_NAMES
from fashion_mrcnn.errors import NonFiniteLossError, TrainingDivergedError, WeightsError
from fashion_mrcnn.model.maskrcnn import MaskRCNN
from fashion_mrcnn.model.training import AtomicCheckpoint, DivergenceGuard
from fashion_mrcnn.model.weights import leaf_layers, save_checkpoint


# ----------------------------------------------------------------------------- divergence rule
def _feed(guard, batch_losses, epoch=0):
    """Feed ``guard`` one epoch of batch-end logs as Keras logs them (running means)."""
    guard.on_epoch_begin(epoch)
    total = 0.0
    for b, loss in enumerate(batch_losses):
        total += loss
        guard.on_train_batch_end(b, {"loss": total / (b + 1), "rpn_class_loss": 0.5})
        if guard.reason:
            return b
    return None


def _guard(tmp_path=None):
    guard = DivergenceGuard()
    guard.set_model(types.SimpleNamespace(stop_training=False))
    return guard


def test_divergence_rule_ceiling_relative_floor_and_non_finite():
    noisy = list(3.0 + 0.5 * np.sin(np.arange(200)))  # ordinary ups and downs
    guard = _guard()
    assert _feed(guard, noisy) is None and guard.reason is None

    guard = _guard()  # 100x the running level (about 3) at batch 8: stop there
    assert _feed(guard, [3.0, 3.2, 2.9, 3.1, 3.0, 3.05, 2.95, 400.0, 3.0]) == 7
    assert "running level" in guard.reason and "epoch 1, batch 8" in guard.reason
    assert guard.model.stop_training and not guard.non_finite

    guard = _guard()  # the ceiling applies from the first batch (no level yet)
    assert _feed(guard, [2e4]) == 0 and "ceiling" in guard.reason

    guard = _guard()  # a well-fitted model (loss 0.05) meeting a hard batch (loss 4) goes on
    assert _feed(guard, [0.05] * 20 + [4.0, 0.05]) is None

    guard = _guard()
    guard.on_epoch_begin(2)
    guard.on_train_batch_end(0, {"loss": 3.0, "mrcnn_mask_loss": float("nan")})
    assert guard.non_finite and "epoch 3, batch 1" in guard.reason

    guard = _guard()  # validation loss, checked at the epoch's end
    _feed(guard, [3.0] * 6)
    guard.on_epoch_end(0, {"loss": 3.0, "val_loss": 5e3})
    assert guard.reason.startswith("validation loss") and "after epoch 1" in guard.reason


def test_checkpoint_callback_blocked_by_guard_and_demote(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="d")])
    checkpoint = AtomicCheckpoint(model, str(tmp_path / "mask_rcnn_x_{epoch:04d}.h5"))
    guard = DivergenceGuard(checkpoint)
    guard.set_model(types.SimpleNamespace(stop_training=False))
    checkpoint.on_epoch_end(0, {"loss": 1.0})
    assert checkpoint.last_saved.endswith("_0001.h5") and checkpoint.at_checkpoint
    checkpoint.on_train_batch_end(0)
    assert not checkpoint.at_checkpoint
    model.get_layer("d").kernel.assign(np.full((2, 1), np.nan, "float32"))
    guard.on_epoch_end(1, {"loss": 1.0})  # weights went NaN: no checkpoint for epoch 2
    checkpoint.on_epoch_end(1, {"loss": 1.0})
    assert guard.non_finite and "NaN / inf weights after epoch 2" in guard.reason
    assert not (tmp_path / "mask_rcnn_x_0002.h5").exists()
    checkpoint.demote()
    assert checkpoint.last_saved is None
    assert (tmp_path / "mask_rcnn_x_0001.h5.diverged").is_file()
    assert not (tmp_path / "mask_rcnn_x_0001.h5").exists()


# ----------------------------------------------------------------------------- exploding training
def _log_dir_checkpoint(model, tmp_path, epoch):
    """Save ``model``'s weights as checkpoint ``epoch`` of a run under ``tmp_path``."""
    return save_checkpoint(
        model.keras_model, tmp_path / "test20240101T0000" / f"mask_rcnn_test_{epoch:04d}.h5"
    )


def test_exploding_learning_rate_never_leaves_a_diverged_newest_checkpoint(tmp_path, eager):
    keras.utils.set_random_seed(3)
    cfg = smoke_config()
    ds = SceneDataset(synthetic_scenes(2, seed=3), cfg.NUM_CLASSES)
    model = MaskRCNN("training", cfg, tmp_path)
    good = _log_dir_checkpoint(model, tmp_path, 1)
    model.load_weights(str(good))
    good_weights = [np.asarray(v).copy() for v in model.keras_model.weights]
    # one step per epoch: epoch 2's only update explodes the weights after its (healthy) loss,
    # so the checkpoint of epoch 2 is written from exploded weights and must be set aside
    with pytest.raises(TrainingDivergedError) as info:
        model.train(ds, None, 1e6, epochs=4, layers="heads", steps_per_epoch=1, verbose=0)
    message = str(info.value)
    assert "\n" not in message and "none written yet" not in message
    assert f"Last good checkpoint: {good}" in message
    assert model.find_last() == str(good)
    assert model.epoch == 1 and model.last_checkpoint == str(good)
    for before, after in zip(good_weights, model.keras_model.weights):  # back to the good weights
        np.testing.assert_array_equal(before, np.asarray(after))
    later = sorted(p.name for p in good.parent.iterdir() if "_000" in p.name)
    assert later == ["mask_rcnn_test_0001.h5", "mask_rcnn_test_0002.h5.diverged"], later
    assert "mask_rcnn_test_0002.h5.diverged" in message


def test_nan_stop_after_resume_names_the_resumed_checkpoint(tmp_path, eager):
    cfg = smoke_config()
    ds = SceneDataset(synthetic_scenes(2, seed=3), cfg.NUM_CLASSES)
    model = MaskRCNN("training", cfg, tmp_path)
    good = _log_dir_checkpoint(model, tmp_path, 1)
    model.load_weights(str(good))

    class Poison(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            kernel = model.keras_model.get_layer("fpn_c5p5").kernel
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))

    with pytest.raises(
        NonFiniteLossError, match=r"epoch 2, batch 1.*Last good checkpoint: .*_0001"
    ):
        model.train(
            ds, None, 0.01, 2, "heads", custom_callbacks=[Poison()], steps_per_epoch=1, verbose=0
        )
    assert model.find_last() == str(good) and not list(good.parent.glob("*.diverged"))


# ----------------------------------------------------------------------------- resume
def test_load_last_skips_truncated_and_non_finite_checkpoints(tmp_path, capsys):
    cfg = smoke_config()
    model = MaskRCNN("training", cfg, tmp_path)
    kernel = model.keras_model.get_layer("fpn_c5p5").kernel
    paths = []
    for epoch in (1, 2, 3, 4):
        kernel.assign(np.full(kernel.shape, float(epoch), "float32"))
        paths.append(_log_dir_checkpoint(model, tmp_path, epoch))
    data = paths[3].read_bytes()
    paths[3].write_bytes(data[: len(data) // 2])  # epoch 4: truncated (killed mid-copy)
    import h5py

    with h5py.File(paths[2], "r+") as f:  # epoch 3: NaN weights
        f["fpn_c5p5"]["fpn_c5p5/kernel:0"][0, 0, 0, 0] = np.nan

    fresh = MaskRCNN("training", cfg, tmp_path)
    assert fresh.load_last() == str(paths[1])
    out = capsys.readouterr().out
    assert f"skipping checkpoint {paths[3]}: cannot read" in out
    assert f"skipping checkpoint {paths[2]}: " in out and "NaN" in out
    assert fresh.epoch == 2 and fresh.last_checkpoint == str(paths[1])
    assert (np.asarray(fresh.keras_model.get_layer("fpn_c5p5").kernel) == 2.0).all()

    for p in paths[:2]:
        p.write_bytes(b"")
    with pytest.raises(WeightsError, match="none of the 4 checkpoints"):
        MaskRCNN("training", cfg, tmp_path).load_last()
    with pytest.raises(FileNotFoundError):
        MaskRCNN("training", cfg, tmp_path / "empty").load_last()


def test_stages_train_resume_continues_the_learning_rate_schedule(tmp_path, eager):
    from fashion_mrcnn.workflow import stages

    cfg = smoke_config(LR_SCHEDULE="cosine", LR_WARMUP_STEPS=2, LEARNING_RATE=0.01)
    ds = SceneDataset(synthetic_scenes(2, seed=4), cfg.NUM_CLASSES)
    schedule = [{"layers": "heads", "epochs": 1}, {"layers": "all", "epochs": 4}]
    run = dict(schedule=schedule, steps_per_epoch=1, verbose=0)
    full = stages.train(cfg, ds, None, tmp_path, **run)
    rates = full["learning_rate"]
    # stage 2 (LR / 10, epochs 1-4): warm-up over 2 steps, then cosine over its 3 steps
    assert rates == pytest.approx([0.005, 0.0005, 0.00075, 0.00025], rel=1e-5)
    assert full["status"] == "finished" and full["checkpoint"].endswith("_0004.h5")

    Path(full["checkpoint"]).unlink()  # as if the run had stopped after epoch 3
    resumed = stages.train(cfg, ds, None, tmp_path, resume=True, **run)
    assert resumed["epochs"] == 4 and resumed["learning_rate"] == pytest.approx(rates[3:])
    summary = json.loads((tmp_path / "train_summary.json").read_text())
    assert summary["status"] == "finished" and summary["start_epoch"] == 0


# ----------------------------------------------------------------------------- no instances
def test_training_step_and_detect_on_images_without_instances(tmp_path, eager):
    cfg = smoke_config()
    empty = [(s[0], s[1][:, :, :0], s[2][:0]) for s in synthetic_scenes(2, seed=5)]
    model = MaskRCNN("training", cfg, tmp_path)
    hist = model.train(
        SceneDataset(empty, cfg.NUM_CLASSES), None, 0.01, 1, "heads", steps_per_epoch=1, verbose=0
    )
    losses = {k: hist.history[k][0] for k in LOSS_NAMES}
    assert all(np.isfinite(v) for v in losses.values()), losses
    assert losses["rpn_class_loss"] > 0 and losses["mrcnn_class_loss"] > 0
    assert losses["rpn_bbox_loss"] == losses["mrcnn_bbox_loss"] == losses["mrcnn_mask_loss"] == 0
    assert all(np.isfinite(np.asarray(v)).all() for v in model.keras_model.weights)

    infer = MaskRCNN("inference", cfg.replace(IMAGES_PER_GPU=1), tmp_path)
    infer.load_weights(model.find_last())
    # a classifier sure every region is background: no instance survives, at any threshold
    logits = leaf_layers(infer.keras_model)["mrcnn_class_logits"]
    logits.kernel.assign(np.zeros(logits.kernel.shape, "float32"))
    logits.bias.assign(np.eye(1, cfg.NUM_CLASSES, 0, "float32")[0] * 50.0)
    image = empty[0][0][:100, :90]
    r = infer.detect([image], min_confidence=0.0)[0]
    assert r["rois"].shape == (0, 4) and r["rois"].dtype == np.int32
    assert r["class_ids"].shape == (0,) and r["class_ids"].dtype == np.int32
    assert r["scores"].shape == (0,) and r["scores"].dtype == np.float32
    assert r["masks"].shape == (100, 90, 0) and r["masks"].dtype == bool
