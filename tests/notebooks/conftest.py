"""One smoke run of the six staged notebooks, shared by every test in this folder.

Each stage runs through ``run_pipeline(..., smoke=True, stages=[stage])`` in order, into one
session directory, so stage N reads stage N-1's artifacts exactly as a full pipeline run does; a
failing stage is recorded (not raised) so the other stages' tests still report on their own.
Training happens once per session: the whole run takes a few minutes on a 2-core CPU.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fashion_mrcnn.workflow import papermill_runner, pipeline


class SmokeRun:
    """Where the smoke pipeline ran and how each stage ended."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.errors: dict[str, Exception] = {}
        self.seconds: dict[str, float] = {}

    def stage_dir(self, stage: str) -> Path:
        """The output directory of ``stage``; fails the test when that stage failed."""
        if stage in self.errors:
            pytest.fail(f"smoke run of {stage} failed: {self.errors[stage]}", pytrace=False)
        return self.root / stage

    def executed(self, stage: str) -> dict:
        """The executed notebook of ``stage`` as JSON."""
        return json.loads((self.stage_dir(stage) / f"{stage}.ipynb").read_text())


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> SmokeRun:
    run = SmokeRun(tmp_path_factory.mktemp("smoke_pipeline"))
    for stage in papermill_runner.STAGES:
        start = time.perf_counter()
        try:
            pipeline.run_pipeline(run.root, smoke=True, stages=[stage])
        except Exception as exc:  # recorded and reported by the stage's own tests
            run.errors[stage] = exc
        run.seconds[stage] = round(time.perf_counter() - start, 1)
    print("smoke pipeline seconds per stage:", run.seconds)
    return run
