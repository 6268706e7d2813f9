"""Training that must not end in a silent wrong result: the divergence rule (armed from the first
batch after a resume), a checkpoint good only when its epoch stayed within the guard, an exploding
learning rate never leaving a diverged checkpoint as the newest, resume past a truncated
checkpoint, the learning-rate schedule continuing where a resumed run stopped, and an image with
no instances."""

from __future__ import annotations

import json
import types
from pathlib import Path

import keras
import numpy as np
import pytest

from fashion_mrcnn.constants import LOSS_NAMES, TRAINING_LOG
from fashion_mrcnn.errors import NonFiniteLossError, TrainingDivergedError, WeightsError
from fashion_mrcnn.model.guard import (
    AtomicCheckpoint,
    DivergenceGuard,
    logged_losses,
    stop_message,
)
from fashion_mrcnn.model.maskrcnn import MaskRCNN
from fashion_mrcnn.model.weights import leaf_layers, save_checkpoint
from tests.model.engine_helpers import SceneDataset, smoke_config, synthetic_scenes


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


#: The issue's run: epochs 1-6 went 6.7 -> 2.7 (mean loss per epoch), then ``--resume --lr 0.5``.
BEFORE_RESUME = [6.7, 5.0, 4.1, 3.4, 3.0, 2.7]


def test_guard_is_armed_from_the_first_batch_after_a_resume():
    exploding = [3.0, 40.0, 600.0, 5000.0, 8000.0, 9000.0]  # mean 3774, every loss < 1e4
    fresh = _guard()  # a run from epoch 0 has no level yet: only NaN / inf and the ceiling
    assert not fresh.armed and _feed(fresh, exploding[:5]) is None

    resumed = _guard()
    resumed.seed(BEFORE_RESUME)  # the last 5 logged epochs: level 3.4, limit 340
    assert resumed.armed and list(resumed.recent) == BEFORE_RESUME[1:]
    assert resumed.level == 3.4
    assert _feed(resumed, exploding, epoch=6) == 2  # batch 1 (3.0) lowered the level to 3.2
    assert "loss 600 is 188x its running level 3.2" in resumed.reason
    assert "epoch 7, batch 3" in resumed.reason

    healthy = _guard()  # an ordinary resumed epoch (loss a little up after the restart) goes on
    healthy.seed(BEFORE_RESUME)
    assert _feed(healthy, [3.5, 2.9, 4.0, 2.6, 3.1, 2.8], epoch=6) is None

    growing = _guard()  # x1.2 a batch: a running median would follow it up to the ceiling;
    growing.seed([3.0])  # the level does not rise, so the limit stays 300
    assert _feed(growing, [3.0 * 1.2**k for k in range(60)], epoch=6) == 26
    assert "loss 343 is 114x its running level 3" in growing.reason

    nothing = _guard()  # nothing finite to seed from: stays as a fresh run
    nothing.seed([float("nan"), None, float("inf")])
    assert not nothing.armed and not nothing.recent


def test_logged_losses_are_the_resumed_epochs_of_the_csv_log(tmp_path):
    log = tmp_path / TRAINING_LOG
    log.write_text(
        "epoch,learning_rate,loss\n"
        "0,0.01,6.7\n1,0.01,5.0\n2,0.01,9.9\n"
        "2,0.01,4.1\n"  # epoch 3 again (resumed from epoch 2): its last row counts
        "3,0.01,NA\n4,0.01,nan\n"  # no usable loss: left out
        "5,0.01,2.7\n6,0.5,792.0\n"  # epoch 7: after the checkpoint resumed from
    )
    assert logged_losses(log, 6) == [6.7, 5.0, 4.1, 2.7]
    assert logged_losses(log, 0) == []
    assert logged_losses(tmp_path / "none.csv", 6) == []


def _run_epoch(guard, checkpoint, epoch, losses):
    """One epoch of fake batch losses through the guard and the checkpoint callback, in the
    order ``MaskRCNN.train`` registers them (guard first)."""
    _feed(guard, losses, epoch)
    checkpoint.on_train_batch_end(0)
    guard.on_epoch_end(epoch, {"loss": float(np.mean(losses))})
    checkpoint.on_epoch_end(epoch, {"loss": float(np.mean(losses))})


def _weights_model():
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="d")])


def test_a_checkpoint_is_good_only_if_its_epoch_stayed_within_the_guard(tmp_path):
    pattern = str(tmp_path / "mask_rcnn_x_{epoch:04d}.h5")
    checkpoint = AtomicCheckpoint(_weights_model(), pattern)
    guard = DivergenceGuard(checkpoint)
    guard.set_model(types.SimpleNamespace(stop_training=False))
    for epoch in range(6):  # a healthy run: a checkpoint per epoch
        _run_epoch(guard, checkpoint, epoch, [3.0, 3.1, 2.9])
    _run_epoch(guard, checkpoint, 6, [3.0, 500.0, 3.0])  # epoch 7 leaves the guard at batch 2
    assert guard.reason and "epoch 7, batch 2" in guard.reason
    assert not (tmp_path / "mask_rcnn_x_0007.h5").exists()
    assert checkpoint.last_saved == str(tmp_path / "mask_rcnn_x_0006.h5")
    message = stop_message(guard, checkpoint)
    assert f"Last good checkpoint: {tmp_path / 'mask_rcnn_x_0006.h5'}." in message
    assert "\n" not in message


def test_first_epoch_after_a_resume_outside_the_guard_names_the_resumed_checkpoint(tmp_path):
    resumed = tmp_path / "mask_rcnn_x_0006.h5"
    model = _weights_model()
    save_checkpoint(model, resumed)
    checkpoint = AtomicCheckpoint(model, str(tmp_path / "mask_rcnn_x_{epoch:04d}.h5"), resumed)
    guard = DivergenceGuard(checkpoint)
    guard.set_model(types.SimpleNamespace(stop_training=False))
    guard.seed(BEFORE_RESUME)
    # the epoch 7 (mean loss 792): every loss under the ceiling, most far above 3.4
    _run_epoch(guard, checkpoint, 6, [4.0, 60.0, 900.0, 1500.0, 1600.0, 688.0])
    assert "epoch 7, batch 3" in guard.reason
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask_rcnn_x_0006.h5"]
    assert f"Last good checkpoint: {resumed}." in stop_message(guard, checkpoint)

    fresh = AtomicCheckpoint(model, str(tmp_path / "run2_{epoch:04d}.h5"))  # nothing to name
    guard = DivergenceGuard(fresh)
    guard.set_model(types.SimpleNamespace(stop_training=False))
    _run_epoch(guard, fresh, 0, [3.0, float("nan")])
    assert "Last good checkpoint: none written yet." in stop_message(guard, fresh)
    assert not list(tmp_path.glob("run2_*"))


def test_vetting_sets_aside_a_checkpoint_whose_weights_give_non_finite_boxes(tmp_path):
    import tensorflow as tf

    from fashion_mrcnn.model.guard import vet_checkpoints
    from fashion_mrcnn.ops.roi_align import NON_FINITE_BOXES

    weights = _weights_model()
    paths = [save_checkpoint(weights, tmp_path / f"mask_rcnn_x_{e:04d}.h5") for e in (1, 2)]
    checkpoint = AtomicCheckpoint(weights, str(tmp_path / "mask_rcnn_x_{epoch:04d}.h5"))
    checkpoint.saved = [str(p) for p in paths]
    guard = DivergenceGuard(checkpoint)
    guard.seed([3.0])

    class Model:  # what vet_checkpoints uses of a MaskRCNN: load_weights and the trainer
        loaded = None

        def load_weights(self, path, by_name=False):
            self.loaded = path

        @property
        def trainer(self):
            return self

        def batch_losses(self, batch):
            if self.loaded == str(paths[1]):  # RoI Align refusing the boxes, inside the graph
                raise tf.errors.InvalidArgumentError(None, None, f"{NON_FINITE_BOXES} : NaN")
            return {"loss": 3.2}

    model = Model()
    vet_checkpoints(model, checkpoint, guard, tf.data.Dataset.from_tensors(0))
    assert model.loaded == str(paths[0]) and checkpoint.last_saved == str(paths[0])
    assert guard.reason == f"non-finite boxes on the weights of {paths[1]}"
    assert checkpoint.demoted == [f"{paths[1]}.diverged"] and not paths[1].exists()


# ----------------------------------------------------------------------------- exploding training
def _log_dir_checkpoint(model, tmp_path, epoch):
    """Save ``model``'s weights as checkpoint ``epoch`` of a run under ``tmp_path``."""
    return save_checkpoint(
        model.keras_model, tmp_path / "test20240101T0000" / f"mask_rcnn_test_{epoch:04d}.h5"
    )


def _resumed_after_epoch_1(tmp_path):
    """A cpu-smoke model continuing a run from its epoch-1 checkpoint: (model, 2 scenes, the
    checkpoint's path)."""
    cfg = smoke_config()
    ds = SceneDataset(synthetic_scenes(2, seed=3), cfg.NUM_CLASSES)
    model = MaskRCNN("training", cfg, tmp_path)
    good = _log_dir_checkpoint(model, tmp_path, 1)
    model.load_weights(str(good))
    return model, ds, good


def test_exploding_learning_rate_never_leaves_a_diverged_newest_checkpoint(tmp_path, eager):
    keras.utils.set_random_seed(3)
    model, ds, good = _resumed_after_epoch_1(tmp_path)
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
    model, ds, good = _resumed_after_epoch_1(tmp_path)

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


def test_non_finite_boxes_in_a_training_step_are_a_guard_stop(tmp_path, eager):
    """A step whose proposals overflow (RoI Align refuses NaN / inf boxes inside the graph, before
    any loss exists) ends like any divergence: one line naming the last good checkpoint, not a
    TensorFlow traceback (issue 22, item 1)."""
    import tensorflow as tf

    from fashion_mrcnn.ops.roi_align import NON_FINITE_BOXES

    model, ds, good = _resumed_after_epoch_1(tmp_path)

    class Overflow(keras.callbacks.Callback):
        """RoI Align's error, as the graph raises it when a step's proposals hold NaN / inf
        (raised from the fit loop: weights that overflow in the graph end in a non-finite
        loss first as often as in this error, so the error itself is what is planted)."""

        def on_train_batch_begin(self, batch, logs=None):
            raise tf.errors.InvalidArgumentError(None, None, f"{NON_FINITE_BOXES} : Inf")

    with pytest.raises(NonFiniteLossError) as info:
        model.train(
            ds, None, 0.01, 2, "heads", custom_callbacks=[Overflow()], steps_per_epoch=1, verbose=0
        )
    message = str(info.value)
    assert "\n" not in message and "non-finite boxes in a training step at epoch 2" in message
    assert f"Last good checkpoint: {good}" in message
    assert model.find_last() == str(good)


def test_train_continuing_a_run_seeds_the_guard_from_its_log(tmp_path, monkeypatch):
    """The wiring of the arming: ``train`` from a checkpoint of epoch 3 seeds the guard with the
    losses its CSV log holds for epochs 1-3 or, without a log, with its weights' loss."""
    cfg = smoke_config()
    ds = SceneDataset(synthetic_scenes(2, seed=3), cfg.NUM_CLASSES)
    model = MaskRCNN("training", cfg, tmp_path)
    good = _log_dir_checkpoint(model, tmp_path, 3)
    log = good.parent / TRAINING_LOG
    log.write_text("epoch,loss\n0,6.7\n1,9.9\n1,4.1\n2,2.7\n3,792\n")
    seeds = []

    class Seeded(Exception):
        pass

    def spy(guard, losses):
        seeds.append(list(losses))
        raise Seeded  # before fit: the wiring is what this test checks

    monkeypatch.setattr(DivergenceGuard, "seed", spy)
    for _ in range(2):
        model.load_weights(str(good))
        with pytest.raises(Seeded):
            model.train(ds, None, 0.01, 4, "heads", steps_per_epoch=1, verbose=0)
        log.unlink(missing_ok=True)
    assert seeds[0] == [6.7, 4.1, 2.7]
    assert len(seeds[1]) == 1 and 0 < seeds[1][0] < 1e3  # the checkpoint's own loss


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
