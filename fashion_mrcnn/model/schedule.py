"""The learning-rate schedule and the wall-time budget that can drive it.

:class:`LearningRateSchedule` maps an optimizer step to a rate: a linear warm-up, then
"constant", "cosine" or "step" decay over the schedule's length. The length is counted in steps
(``total_steps``) or, for a run with a time budget, in wall time: :class:`TimeBudget` feeds the
fraction of the budget already spent into the schedule before every step, and the schedule takes
whichever of the two fractions is further along. So a run limited by ``--minutes`` ends its
schedule (cosine at zero) when its budget ends, however fast or slow the machine is; a run whose
epochs end first ends it by steps, as before.

:class:`BudgetClock` is the run's clock: seconds spent training in this run plus those spent
before a resume, so a resumed run continues the schedule where its checkpoint left it.
"""

from __future__ import annotations

import math
import time

import keras
import tensorflow as tf

from fashion_mrcnn.constants import LR_SCHEDULES


def schedule_fraction(step: float, total_steps: float, time_fraction: float = 0.0) -> float:
    """Numpy/Python twin of the schedule's position: ``max(step / total_steps, time_fraction)``
    clipped to [0, 1]."""
    return min(max(step / max(total_steps, 1.0), time_fraction, 0.0), 1.0)


def learning_rate_at(
    base_lr: float, kind: str, fraction: float, step: float, warmup_steps: int = 0
) -> float:
    """Python twin of :meth:`LearningRateSchedule.__call__`: the rate at ``fraction`` of the
    schedule (0..1) and optimizer ``step`` (for the warm-up)."""
    if kind == "cosine":
        lr = 0.5 * base_lr * (1.0 + math.cos(math.pi * fraction))
    elif kind == "step":
        lr = base_lr * (0.01 if fraction >= 0.9 else 0.1 if fraction >= 0.7 else 1.0)
    else:
        lr = base_lr
    if warmup_steps > 0:
        lr *= min(1.0, (step + 1.0) / float(warmup_steps))
    return lr


class LearningRateSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``kind`` "constant" | "cosine" (to 0 at the end) | "step" (x0.1 at 70% and x0.01 at 90%),
    after a linear warm-up from 0 over ``warmup_steps`` optimizer steps.

    The position in the schedule is ``max(s / total_steps, progress)`` (clipped to 1), where
    ``s = start_step + step``: ``step`` is the optimizer's iteration count (it restarts at 0 with
    every ``MaskRCNN.train`` call), ``start_step`` the steps of this schedule done before the call
    (a resumed run), and ``progress`` an optional scalar ``tf.Variable`` holding the fraction of
    the run's time budget already spent (:class:`TimeBudget` updates it before every step). With
    no budget the schedule is step-based, and a resumed run gets the uninterrupted run's rate at
    every step.
    """

    def __init__(
        self,
        base_lr: float,
        total_steps: int,
        kind: str = "constant",
        warmup_steps=0,
        start_step: int = 0,
        progress: tf.Variable | None = None,
    ):
        self.base_lr = float(base_lr)
        self.total_steps = max(int(total_steps), 1)
        self.kind = kind
        self.warmup_steps = int(warmup_steps)
        self.start_step = int(start_step)
        self.progress = progress
        if kind not in LR_SCHEDULES:
            raise ValueError(f"LR_SCHEDULE must be one of {LR_SCHEDULES}, got {kind!r}")

    def __call__(self, step):
        step = tf.cast(step, tf.float32) + float(self.start_step)
        frac = tf.minimum(step / float(self.total_steps), 1.0)
        if self.progress is not None:
            frac = tf.clip_by_value(tf.maximum(frac, tf.cast(self.progress, tf.float32)), 0.0, 1.0)
        if self.kind == "cosine":
            lr = 0.5 * self.base_lr * (1.0 + tf.cos(math.pi * frac))
        elif self.kind == "step":
            lr = self.base_lr * tf.where(frac >= 0.9, 0.01, tf.where(frac >= 0.7, 0.1, 1.0))
        else:
            lr = tf.constant(self.base_lr, tf.float32)
        if self.warmup_steps > 0:
            lr = lr * tf.minimum(1.0, (step + 1.0) / float(self.warmup_steps))
        return lr

    def get_config(self):
        return {
            "base_lr": self.base_lr,
            "total_steps": self.total_steps,
            "kind": self.kind,
            "warmup_steps": self.warmup_steps,
            "start_step": self.start_step,
        }


class BudgetClock:
    """Seconds a run has spent training: ``used_seconds`` before this process (a resumed run)
    plus the wall time since this clock was made. ``clock`` is the time source (tests pass a
    fake one)."""

    def __init__(self, minutes: float, used_seconds: float = 0.0, clock=time.monotonic):
        if not minutes > 0:
            raise ValueError(f"the time budget must be positive, got {minutes!r} minutes")
        self.total = 60.0 * float(minutes)
        self._clock = clock
        self._zero = clock() - float(used_seconds)

    def seconds(self) -> float:
        return self._clock() - self._zero


class TimeBudget(keras.callbacks.Callback):
    """Stop training when the clock reaches ``end`` seconds, and drive a schedule's position.

    The rule: over the window ``[begin, end]`` of the run's :class:`BudgetClock` (default: the
    whole budget), ``progress`` = (clock - begin) / (end - begin), clipped to [0, 1], is written
    into :attr:`variable` before every training batch; a :class:`LearningRateSchedule` given
    that variable reaches its end (cosine at 0) when the window does. Training stops after the
    first batch that ends past ``end``. Each epoch's logs get ``budget_seconds`` (the clock) and
    ``schedule_progress``, so the CSV log records where a resumed run must continue.
    ``stopped`` says whether the budget stopped training.
    """

    def __init__(self, clock: BudgetClock, begin: float = 0.0, end: float | None = None):
        super().__init__()
        self.clock = clock
        self.begin = float(begin)
        self.end = float(clock.total if end is None else end)
        self.stopped = False
        self._variable = None

    @property
    def variable(self) -> tf.Variable:
        """The scalar float32 ``tf.Variable`` the schedule reads (made on first use: create it
        inside the distribution strategy's scope)."""
        if self._variable is None:
            self._variable = tf.Variable(
                self.fraction(), trainable=False, dtype=tf.float32, name="budget_progress"
            )
        return self._variable

    def fraction(self) -> float:
        span = max(self.end - self.begin, 1e-9)
        return min(max((self.clock.seconds() - self.begin) / span, 0.0), 1.0)

    def on_train_batch_begin(self, batch, logs=None):
        if self._variable is not None:
            self._variable.assign(self.fraction())

    def on_train_batch_end(self, batch, logs=None):
        if self.clock.seconds() >= self.end:
            self.stopped = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["budget_seconds"] = round(self.clock.seconds(), 2)
            logs["schedule_progress"] = round(self.fraction(), 4)
