"""How ``stages.train`` shares a time budget between stages and where a resumed run continues."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from fashion_mrcnn.model.schedule import BudgetClock
from fashion_mrcnn.workflow.stages.training import _budget_used, _stage_windows


def test_a_resumed_run_continues_at_its_checkpoints_budget_time(tmp_path):
    (tmp_path / "training.csv").write_text(
        "epoch,loss,budget_seconds\n0,3.0,40.5\n1,2.0,80.0\n2,1.5,120.2\n1,2.1,85.0\n"
    )
    # checkpoint 2 (epoch index 1) was written twice: the newer row counts
    assert _budget_used(SimpleNamespace(log_dir=tmp_path, epoch=2)) == pytest.approx(85.0)
    assert _budget_used(SimpleNamespace(log_dir=tmp_path, epoch=3)) == pytest.approx(120.2)
    assert _budget_used(SimpleNamespace(log_dir=tmp_path, epoch=0)) == 0.0
    (tmp_path / "training.csv").write_text("epoch,loss\n0,3.0\n")  # a run without a budget
    assert _budget_used(SimpleNamespace(log_dir=tmp_path, epoch=1)) == 0.0


def test_stages_share_the_budget_in_proportion_to_their_epochs():
    clock = BudgetClock(10.0)  # 600 s
    stages = [{"epochs": 4}, {"epochs": 12}]
    assert _stage_windows(stages, 0, clock) == [(0.0, 200.0), (200.0, 600.0)]
    # a run that starts from a checkpoint's epoch shares the budget over the epochs left
    assert _stage_windows(stages, 2, clock) == [(0.0, 120.0), (120.0, 600.0)]
