"""Run the staged notebooks 00..05 in order with papermill (``fashion-mrcnn pipeline``).

Each stage runs in ``out_dir/<stage>`` with ``previous_stage_dir`` set to the stage before it, so
artifacts flow through the hand-offs (:mod:`fashion_mrcnn.workflow.handoff`); the first failure
stops the run. ``smoke=True`` starts from settings (:data:`SMOKE_COMMON`, :data:`SMOKE_STAGES`)
that run every stage in minutes on a CPU.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.workflow.papermill_runner import (
    STAGES,
    NotebookError,
    notebook_parameters,
    resolve_notebook,
    run_notebook,
)

# Parameters that make every stage run headless in well under two minutes on a laptop CPU:
# 24 synthetic 128 px images, the cpu-smoke model, one epoch of a few steps.
SMOKE_COMMON: dict[str, Any] = {
    "preset": "cpu-smoke",
    "image_size": 128,
    "synthetic_images": 24,
    "seed": 0,
}
SMOKE_STAGES: dict[str, dict[str, Any]] = {
    "00_explore_data": {"n_examples": 2},
    "01_subset_tuning": {
        "subset_size": 16,
        "val_size": 4,
        "epochs": 1,
        "steps_per_epoch": 2,
        "validation_steps": 1,
        # an untrained model's scores are low: keep every detection so evaluation has work
        "detection_min_confidence": 0.0,
        "detection_max_instances": 20,
        "grid": {"LEARNING_RATE": [0.001, 0.0005]},
    },
    "02_full_training": {
        "subset_size": 16,
        "val_size": 4,
        "heads_epochs": 1,
        "all_epochs": 1,
        "steps_per_epoch": 2,
        "validation_steps": 1,
    },
    "03_minority_oversampling": {
        "subset_size": 16,
        "val_size": 4,
        "threshold": 0.3,  # 16 images: repeat the classes found in fewer than 30% of them
        "epochs": 1,
        "steps_per_epoch": 2,
        "validation_steps": 1,
    },
    "04_error_analysis": {"val_size": 4},
    "05_submission": {"test_images": 3},
}


def stage_parameters(
    stage: str, declared: Iterable[str], smoke: bool, parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """Smoke defaults, then common user parameters the stage declares, then per-stage ones."""
    declared = set(declared)
    merged: dict[str, Any] = {}
    if smoke:
        merged.update({k: v for k, v in SMOKE_COMMON.items() if k in declared})
        merged.update(SMOKE_STAGES.get(stage, {}))
    merged.update({k: v for k, v in parameters.items() if k not in STAGES and k in declared})
    stage_specific = parameters.get(stage, {})
    if not isinstance(stage_specific, Mapping):
        raise ConfigError(f"parameters[{stage!r}] must be a mapping, got {stage_specific!r}")
    merged.update(stage_specific)
    return merged


def run_pipeline(
    out_dir: str | Path,
    smoke: bool = False,
    parameters: Mapping[str, Any] | None = None,
    stages: Iterable[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run the staged notebooks in order, each in ``out_dir/<stage>``; return a summary per stage.

    ``parameters``: values for every stage that declares them (``{"seed": 1}``) and per-stage
    overrides keyed by stage name (``{"02_full_training": {"heads_epochs": 3}}``).
    ``smoke``: start from tiny settings (SMOKE_COMMON / SMOKE_STAGES) that run in minutes on a CPU.
    ``stages``: names or numbers of the stages to run (default all six); a stage's
    ``previous_stage_dir`` is always ``out_dir/<the stage before it>``, so a later stage can be
    rerun alone over an earlier run. All stages share one synthetic dataset in
    ``out_dir/synthetic`` unless ``parameters`` name other data. The summary (stage -> notebook,
    output_dir, seconds) is also written to ``out_dir/pipeline.json``. Stops at the first failure
    by raising NotebookError (the summary so far is written, with the failure).
    """
    out_dir = Path(out_dir).resolve()
    params = dict(parameters or {})
    wanted = list(STAGES) if stages is None else [resolve_notebook(s).stem for s in stages]
    strangers = [w for w in wanted if w not in STAGES]
    if strangers:
        raise ConfigError(f"not pipeline stages: {strangers}; choose from {list(STAGES)}")
    declared_by = {stage: notebook_parameters(resolve_notebook(stage)) for stage in wanted}
    every_declared = set().union(*declared_by.values())
    unknown = sorted(k for k in params if k not in STAGES and k not in every_declared)
    if unknown:
        raise ConfigError(
            f"parameter(s) {unknown} are declared by none of the stages {wanted}; "
            f"known: {sorted(every_declared)}"
        )
    for stage in wanted:  # per-stage values are checked before anything runs
        own = params.get(stage, {})
        if not isinstance(own, Mapping):
            raise ConfigError(f"parameters[{stage!r}] must be a mapping, got {own!r}")
        bad = sorted(set(own) - set(declared_by[stage]))
        if bad:
            raise ConfigError(
                f"{stage}: unknown parameter(s) {bad}; it declares {sorted(declared_by[stage])}"
            )
    summary: dict[str, dict[str, Any]] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for stage in STAGES:
        if stage not in wanted:
            continue
        notebook = resolve_notebook(stage)
        declared = declared_by[stage]
        stage_params = stage_parameters(stage, declared, smoke, params)
        index = STAGES.index(stage)
        if index > 0 and "previous_stage_dir" in declared:
            stage_params.setdefault("previous_stage_dir", str(out_dir / STAGES[index - 1]))
        if "synthetic_dir" in declared:
            stage_params.setdefault("synthetic_dir", str(out_dir / "synthetic"))
        stage_dir = out_dir / stage
        start = time.perf_counter()
        entry: dict[str, Any] = {"output_dir": str(stage_dir), "parameters": stage_params}
        summary[stage] = entry
        try:
            entry["notebook"] = str(run_notebook(notebook, stage_dir, stage_params))
        except NotebookError as exc:
            entry["error"] = str(exc)
            raise
        finally:
            entry["seconds"] = round(time.perf_counter() - start, 2)
            (out_dir / "pipeline.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary
