"""The divergence guard: when training has diverged, and which checkpoints are good.

:class:`DivergenceGuard` (a Keras callback) stops training on a NaN / inf or exploding loss;
:class:`AtomicCheckpoint` writes a checkpoint after each epoch the guard let through;
:func:`vet_checkpoints` sets aside checkpoints whose weights give a diverged loss;
:func:`stop_message` / :func:`raise_stop` report a stop in one line. A run continuing at a later
epoch arms the guard from its logged losses (:func:`logged_losses`).
"""

from __future__ import annotations

import collections
import csv
import os

import keras
import numpy as np
import tensorflow as tf

from fashion_mrcnn.errors import NonFiniteLossError, TrainingDivergedError
from fashion_mrcnn.model.weights import non_finite_layers, save_checkpoint

#: The divergence rule of :class:`DivergenceGuard` (see there).
DIVERGENCE_CEILING = 1e4
DIVERGENCE_FACTOR = 100.0
DIVERGENCE_WINDOW = 50
DIVERGENCE_WARMUP = 5


class DivergenceGuard(keras.callbacks.Callback):
    """Stop training at the first sign of divergence and keep bad weights out of checkpoints.

    The rule, applied to every training batch's total loss and to the validation loss at the end
    of each epoch: the loss has diverged when any logged loss is NaN / inf, when the total loss is
    above ``ceiling`` (1e4: a healthy Mask R-CNN loss is a sum of five losses of order 1), or,
    once the guard is armed, above ``factor`` (100) x max(level, 1). ``level`` is the lowest
    value the median of the last ``window`` (50) accepted losses has taken since the guard was
    armed: it follows a falling loss down but never rises, so a loss that grows a little every
    batch (a diverging run) cannot carry the limit up with it. The floor of 1 keeps a
    well-fitted model (loss 0.05) from stopping at an ordinary hard batch. At each epoch's end
    the weights are also checked for NaN / inf before the checkpoint is written.

    Arming: the reference holds the batch losses that passed the check. A run starting at epoch
    0 arms the relative check once ``warmup`` (5) batches have passed; its first batches face only
    the NaN / inf check and the ceiling. A run continuing at a later epoch (``--resume``, the next
    stage of a schedule, ``load_weights`` then ``train``) is armed from its first batch:
    :meth:`seed` puts the pre-resume loss level into the reference, the mean training loss of
    each of the last ``warmup`` epochs the run logged before it (:func:`logged_losses`, the
    run's CSV log) or, when the log has none, the loss of the starting weights on one batch.

    A good checkpoint: the first loss outside the guard stops training and blocks every further
    checkpoint, so an epoch's checkpoint is written, and can be named "last good", only when
    every batch loss of the epoch, its validation loss and the weights at its end were within
    the guard. After a stop ``MaskRCNN.train`` (:func:`vet_checkpoints`) also checks the loss of
    the newest checkpoint's weights and sets aside those that diverged, then restores the model
    to the newest good one: the run's last healthy epoch, else the checkpoint it resumed from.

    ``reason`` says what happened (``non_finite`` tells NaN / inf apart from an explosion).
    Keras logs a running mean per epoch; the batch loss is recovered from consecutive means.
    """

    def __init__(
        self,
        checkpoint=None,
        ceiling: float = DIVERGENCE_CEILING,
        factor: float = DIVERGENCE_FACTOR,
        window: int = DIVERGENCE_WINDOW,
        warmup: int = DIVERGENCE_WARMUP,
    ):
        super().__init__()
        self.checkpoint = checkpoint
        self.ceiling, self.factor, self.warmup = float(ceiling), float(factor), int(warmup)
        self.recent = collections.deque(maxlen=int(window))
        self.seeded = False
        self.level = float("inf")  # the lowest running median since armed (inf: not armed)
        self.reason = None
        self.non_finite = False
        self.epoch = 0
        self._mean = 0.0

    @property
    def armed(self) -> bool:
        """Whether the relative check applies: the reference was seeded or holds ``warmup``
        losses."""
        return self.seeded or len(self.recent) >= self.warmup

    def seed(self, losses) -> None:
        """Arm the relative check now with a run's loss level before this ``fit``: ``losses``
        (oldest first; e.g. per-epoch mean losses) enter the reference, the last ``warmup``
        finite ones. Nothing finite given: the guard stays as it was."""
        finite = [float(v) for v in losses if v is not None and np.isfinite(v)]
        if finite:
            self.recent.extend(finite[-self.warmup :])
            self.seeded = True
            self._lower_level()

    def _lower_level(self) -> None:
        """Take the running median as the level when armed and lower than the level."""
        if self.armed:
            self.level = min(self.level, float(np.median(self.recent)))

    def check(self, loss: float) -> str | None:
        """Why the total ``loss`` counts as diverged, or None while it is healthy."""
        if not np.isfinite(loss):
            return f"loss {loss}"
        if loss > self.ceiling:
            return f"loss {loss:.3g} is above the ceiling {self.ceiling:g}"
        if self.armed and loss > self.factor * max(self.level, 1.0):
            ratio = f"{loss / self.level:.0f}x" if self.level > 0 else "far above"
            return (
                f"loss {loss:.3g} is {ratio} its running level {self.level:.3g} "
                f"(limit {self.factor:g}x)"
            )
        return None

    def stop(self, reason: str, non_finite: bool = False) -> None:
        """Record the first ``reason``, stop training and block further checkpoints."""
        if self.reason is not None:
            return
        self.reason, self.non_finite = reason, non_finite
        if self.model is not None:
            self.model.stop_training = True
        if self.checkpoint is not None:
            self.checkpoint.blocked = True

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self._mean = 0.0

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        mean = float(logs.get("loss", 0.0))
        loss = (batch + 1) * mean - batch * self._mean  # this batch's loss from running means
        self._mean = mean
        where = f"at epoch {self.epoch + 1}, batch {batch + 1}"
        bad = {k: float(v) for k, v in logs.items() if not np.isfinite(float(v))}
        if bad:
            self.stop(f"non-finite loss {where}: {bad}", non_finite=True)
            return
        reason = self.check(loss)
        if reason:
            self.stop(f"{reason} {where}")
            return
        self.recent.append(loss)
        self._lower_level()

    def on_epoch_end(self, epoch, logs=None):
        if self.reason is not None:
            return
        logs = logs or {}
        where = f"after epoch {epoch + 1}"
        bad = {k: float(v) for k, v in logs.items() if not np.isfinite(float(v))}
        if bad:
            self.stop(f"non-finite loss {where}: {bad}", non_finite=True)
            return
        if "val_loss" in logs:
            reason = self.check(float(logs["val_loss"]))
            if reason:
                self.stop(f"validation {reason} {where}")
                return
        if self.checkpoint is not None:
            bad_layers = non_finite_layers(self.checkpoint.weights_model)
            if bad_layers:
                self.stop(f"NaN / inf weights {where} in layers {bad_layers[:5]}", True)


def _finite_number(text) -> float | None:
    """``text`` (a CSV cell) as a finite float; None for anything else (``NA``, ``nan``, "")."""
    try:
        value = float(text)
    except (TypeError, ValueError):  # not a number: the caller leaves the cell out
        return None
    return value if np.isfinite(value) else None


def logged_losses(path, epochs: int) -> list[float]:
    """The mean training loss of each of the first ``epochs`` epochs in a run's CSV log
    (``constants.TRAINING_LOG``: ``CSVLogger`` rows with a 0-based ``epoch`` and ``loss``),
    oldest first. An epoch logged twice (re-run after a resume from an earlier checkpoint)
    counts with its last row; rows without a finite loss are left out. [] without the file."""
    if not os.path.isfile(path):
        return []
    by_epoch: dict[int, float] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            epoch, loss = _finite_number(row.get("epoch")), _finite_number(row.get("loss"))
            if epoch is not None and loss is not None and 0 <= epoch < epochs:
                by_epoch[int(epoch)] = loss
    return [by_epoch[k] for k in sorted(by_epoch)]


def weights_loss(trainer, batch) -> float | None:
    """The total loss of a ``training.MaskRCNNTrainer``'s current weights on ``batch``
    (inference mode, ``batch_losses``), or None when RoI Align meets non-finite boxes (weights
    that diverged; ``model.finite``)."""
    from fashion_mrcnn.model.finite import is_non_finite_boxes

    try:
        return trainer.batch_losses(batch)["loss"]
    except tf.errors.InvalidArgumentError as exc:
        if not is_non_finite_boxes(exc):
            raise
        return None


def vet_checkpoints(model, checkpoint, guard: DivergenceGuard, train_ds) -> None:
    """Walk back from the newest checkpoint until its weights give a loss within the guard on a
    training batch, setting aside (``checkpoint.demote``) every one that does not; ``model``
    (a ``MaskRCNN`` with its ``trainer``) ends with the good checkpoint loaded (epoch and log
    dir too)."""
    batch = next(iter(train_ds.take(1)))
    while checkpoint.last_saved:
        if not checkpoint.at_checkpoint:
            model.load_weights(checkpoint.last_saved, by_name=True)
        loss = weights_loss(model.trainer, batch)
        reason = "non-finite boxes" if loss is None else guard.check(loss)
        if reason is None:
            return
        guard.stop(f"{reason} on the weights of {checkpoint.last_saved}")
        checkpoint.demote()


class AtomicCheckpoint(keras.callbacks.Callback):
    """Save ``weights_model``'s weights after every epoch to ``path_pattern.format(epoch=n)``
    (n 1-based) via a temporary file and ``os.replace``, unless ``blocked`` (set by
    :class:`DivergenceGuard`).

    ``last_saved``: the newest good checkpoint, starting from ``last_saved`` given (the one the
    weights were loaded from). ``at_checkpoint``: True while the weights are exactly those this
    callback saved last (no training step since). ``demoted``: checkpoints set aside by
    :meth:`demote`.
    """

    def __init__(self, weights_model: keras.Model, path_pattern: str, last_saved=None):
        super().__init__()
        self.weights_model = weights_model
        self.path_pattern = path_pattern
        self.saved = [str(last_saved)] if last_saved else []
        self.at_checkpoint = False
        self.blocked = False
        self.demoted: list[str] = []

    @property
    def last_saved(self) -> str | None:
        return self.saved[-1] if self.saved else None

    def demote(self) -> None:
        """Rename the newest checkpoint ``*.h5.diverged`` (its weights gave a diverged loss), so
        ``find_last`` never returns it; ``last_saved`` falls back to the one before."""
        if not self.saved:
            return
        path = self.saved.pop()
        self.at_checkpoint = False
        if os.path.isfile(path):
            os.replace(path, path + ".diverged")
            self.demoted.append(path + ".diverged")

    def on_train_batch_end(self, batch, logs=None):
        self.at_checkpoint = False

    def on_epoch_end(self, epoch, logs=None):
        if self.blocked:
            return
        path = self.path_pattern.format(epoch=epoch + 1)
        save_checkpoint(self.weights_model, path)
        self.saved.append(os.path.abspath(path))
        self.at_checkpoint = True


def stop_message(guard: DivergenceGuard, checkpoint: AtomicCheckpoint) -> str:
    """The one-line explanation of a :class:`DivergenceGuard` stop: what, where, the last good
    checkpoint, a demoted one, and what to try."""
    demoted = ""
    if checkpoint.demoted:
        demoted = f"; the checkpoint it was computed on is set aside as {checkpoint.demoted[-1]}"
    return (
        f"training stopped: {guard.reason}{demoted}. Last good checkpoint: "
        f"{checkpoint.last_saved or 'none written yet'}. Lower the learning rate, check the "
        f"data (empty or degenerate boxes) or GRADIENT_CLIP_NORM."
    )


def raise_stop(guard: DivergenceGuard, checkpoint: AtomicCheckpoint) -> None:
    """Raise NonFiniteLossError / TrainingDivergedError with :func:`stop_message`."""
    error = NonFiniteLossError if guard.non_finite else TrainingDivergedError
    raise error(stop_message(guard, checkpoint))
