"""A stand-in for ``workflow.stages.train``'s result, for CLI tests that stop before training."""

from __future__ import annotations


def no_steps_summary(out_dir) -> dict:
    """What ``stages.train`` returns for a run that took no step (the keys ``cmd_train`` reads)."""
    return {
        "checkpoint": "none",
        "log_dir": str(out_dir),
        "steps": 0,
        "epochs": 0,
        "final_learning_rate": None,
        "stopped_by_budget": False,
    }
