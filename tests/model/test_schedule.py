"""The learning-rate schedule fitted to a time budget (``model.schedule``)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fashion_mrcnn.model.schedule import (
    BudgetClock,
    LearningRateSchedule,
    TimeBudget,
    learning_rate_at,
    schedule_fraction,
)


class FakeClock:
    """A clock that advances only when told (seconds)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Tick(keras.callbacks.Callback):
    """Each training step takes ``seconds`` on the fake clock; records the rate every step ran
    at (read after the budget, first in the callback list, updated its progress)."""

    def __init__(self, clock, seconds, optimizer):
        super().__init__()
        self.clock, self.seconds, self.optimizer = clock, seconds, optimizer
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.optimizer.learning_rate)))
        self.clock.now += self.seconds


def _budgeted_run(step_seconds, minutes=1.0, used_seconds=0.0, epochs=1000):
    """Train a one-weight model under a ``minutes`` budget where a step takes ``step_seconds``;
    returns (rates per step, the TimeBudget)."""
    clock = FakeClock()
    budget = TimeBudget(BudgetClock(minutes, used_seconds, clock=clock))
    schedule = LearningRateSchedule(0.1, 10**6, "cosine", warmup_steps=5, progress=budget.variable)
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    tick = Tick(clock, step_seconds, optimizer)
    x = np.ones((4, 1), np.float32)
    model.fit(x, x, batch_size=4, epochs=epochs, verbose=0, callbacks=[budget, tick])
    return tick.rates, budget


def test_schedule_matches_its_python_twin():
    rng = np.random.default_rng(0)
    for kind in ("constant", "cosine", "step"):
        for _ in range(20):
            total, step = int(rng.integers(1, 500)), float(rng.integers(0, 600))
            progress = keras.Variable(float(rng.uniform(0, 1.2)), trainable=False)
            tf_rate = LearningRateSchedule(0.05, total, kind, warmup_steps=7, progress=progress)
            frac = schedule_fraction(step, total, float(progress.numpy()))
            want = learning_rate_at(0.05, kind, frac, step, warmup_steps=7)
            assert float(tf_rate(step)) == pytest.approx(want, rel=1e-5, abs=1e-9)


def test_a_budgeted_schedule_ends_at_the_budget_on_a_fast_and_a_slow_machine():
    fast, fast_budget = _budgeted_run(step_seconds=1.0)
    slow, slow_budget = _budgeted_run(step_seconds=2.0)
    assert fast_budget.stopped and slow_budget.stopped
    # the slow machine trains about half the steps ...
    assert len(fast) == 60 and len(slow) == 30
    for rates in (fast, slow):
        # ... and both warm up, peak, then decay to (near) zero when the budget ends
        assert rates[0] == pytest.approx(0.1 / 5, rel=1e-4)
        assert max(rates) > 0.09
        assert rates[-1] < 0.001 * 2
        assert rates[-1] < rates[len(rates) // 2] < max(rates)


def test_epochs_that_end_first_end_the_schedule_by_steps():
    rates, budget = _budgeted_run(step_seconds=1.0, minutes=100.0, epochs=10)
    assert not budget.stopped and len(rates) == 10  # the step-based position stays behind


def test_a_resumed_budget_continues_where_its_checkpoint_was():
    rates, budget = _budgeted_run(step_seconds=1.0, used_seconds=45.0)
    assert len(rates) == 15  # what is left of the minute
    # the first step after warm-up is already past three quarters of the schedule
    assert rates[5] == pytest.approx(learning_rate_at(0.1, "cosine", 50 / 60, 5, 5), rel=1e-4)


def test_budget_clock_refuses_a_budget_that_is_not_positive():
    with pytest.raises(ValueError, match="time budget must be positive"):
        BudgetClock(0)


def test_budget_logs_where_the_run_is_for_a_resume():
    logs = {}
    clock = FakeClock()
    budget = TimeBudget(BudgetClock(1.0, clock=clock), begin=0.0, end=30.0)
    clock.now += 15.0
    budget.on_epoch_end(0, logs)
    assert logs == {"budget_seconds": 15.0, "schedule_progress": 0.5}
