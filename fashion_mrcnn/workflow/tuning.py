"""Hyperparameter tuning: one short trial per grid point, the trials ranked, the best recorded.

One tuner, two ways to run a trial:

- :func:`tune` trains and evaluates each trial in this process (notebook ``01_subset_tuning``
  calls it); grid keys are Config attribute names (``LEARNING_RATE``, ``LOSS_WEIGHTS`` ...).
- :func:`run_tune` runs notebook ``01_subset_tuning`` once per point of a grid YAML with
  papermill (``fashion-mrcnn tune``); grid keys are the notebook's parameters
  (``learning_rate``, ``gradient_clip_norm`` ...), see :mod:`fashion_mrcnn.workflow.grid`.

Both go through :func:`run_trials` and so share one vocabulary. Each grid point gets a folder
``out_dir/trial_000`` ... whose hand-off (:mod:`fashion_mrcnn.workflow.handoff`) records its
``config`` YAML and ``metrics`` JSON. A trial's row in the table: ``trial`` (its folder name),
``label`` (``name=value,...``), the point's values (dicts and lists as JSON), the trial's numeric
metrics, ``seconds`` and ``config``; :func:`rank_trials` puts the best first (by
:data:`RANK_METRICS`) and numbers them in ``rank``. Written into ``out_dir``: ``ranked.csv``,
``best_config.yaml`` (the best trial's config), ``metrics.json`` (its metrics) and the hand-off
naming both, so ``out_dir`` can be stage 02's ``previous_stage_dir``.
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fashion_mrcnn.workflow.grid import load_grid, point_label, validate_grid
from fashion_mrcnn.workflow.handoff import read_handoff, write_handoff
from fashion_mrcnn.workflow.rundir import BEST_CONFIG_FILE, METRICS_FILE, RANKED_FILE

#: What trials are ranked by (higher is better), in order of precedence.
RANK_METRICS = ("mask_map50", "segm_AP", "bbox_AP")
#: The notebook :func:`run_tune` runs once per grid point.
TUNE_NOTEBOOK = "01_subset_tuning"


def trial_dirname(index: int, count: int) -> str:
    """``trial_000`` ...: the folder of trial ``index`` of ``count`` (zero-padded to 3+)."""
    return f"trial_{index:0{max(3, len(str(count - 1)))}d}"


def rank_trials(rows: list[dict[str, Any]]):
    """A DataFrame of trials sorted best first by the :data:`RANK_METRICS` columns present (in
    that order of precedence); rows whose metric is missing or NaN go last. Adds a 1-based
    ``rank`` column. ValueError when no row has any of them."""
    import pandas as pd

    table = pd.DataFrame(rows)
    by = [m for m in RANK_METRICS if m in table.columns]
    if not by:
        raise ValueError(f"no trial reported any of {RANK_METRICS}; cannot rank")
    table = table.sort_values(by, ascending=False, na_position="last", kind="stable")
    table.insert(0, "rank", range(1, len(table) + 1))
    return table.reset_index(drop=True)


def run_trials(
    points: Sequence[Mapping[str, Any]],
    run_trial: Callable[[dict[str, Any], Path], Mapping[str, float] | None],
    out_dir: str | Path,
):
    """Run ``run_trial(point, trial_dir)`` for every point and rank the trials.

    ``run_trial`` leaves the trial's config YAML and metrics JSON recorded in ``trial_dir``'s
    hand-off and may return extra numeric columns for its row. The table (see the module
    docstring) is written to ``out_dir/ranked.csv`` even when a trial fails (its error then
    propagates); afterwards the best trial is recorded (:func:`record_tuning`). Returns the
    ranked DataFrame.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    try:
        for i, point in enumerate(points):
            trial_dir = out_dir / trial_dirname(i, len(points))
            start = time.perf_counter()
            extra = run_trial(dict(point), trial_dir) or {}
            row = {"trial": trial_dir.name, "label": point_label(point), **point}
            row.update({k: v for k, v in _trial_metrics(trial_dir).items() if _is_number(v)})
            row.update(extra)
            row["seconds"] = round(time.perf_counter() - start, 2)
            row["config"] = read_handoff(trial_dir, "config", default="")
            rows.append(row)
    finally:
        if rows:
            table = rank_trials(_flatten_rows(rows))
            table.to_csv(out_dir / RANKED_FILE, index=False)
    best_config = table.loc[0, "config"]
    if not best_config or not Path(best_config).is_file():
        raise FileNotFoundError(
            f"best trial {table.loc[0, 'trial']} recorded no config YAML in its hand-off"
        )
    shutil.copyfile(best_config, out_dir / BEST_CONFIG_FILE)
    record_tuning(table, out_dir)
    return table


def record_tuning(ranked, out_dir: str | Path) -> dict[str, Any]:
    """Record a tuning run's outcome for the next stage; return the best row.

    ``ranked``: a ranked table (best trial first, with at least one of RANK_METRICS among its
    columns and the trial's ``config`` YAML path); ``out_dir`` must hold its
    ``best_config.yaml``. Writes ``out_dir/metrics.json``: the best trial's own ``metrics.json``
    (beside its config) when present, else the row's finite numeric columns. Records ``config``
    (best_config.yaml) and ``metrics`` in the hand-off. Raises ValueError for an empty or
    metric-less table, FileNotFoundError when best_config.yaml is missing.
    """
    out_dir = Path(out_dir)
    if len(ranked) == 0:
        raise ValueError("the tuning table is empty: no trial finished")
    if not any(m in ranked.columns for m in RANK_METRICS):
        raise ValueError(
            f"the tuning table has none of {RANK_METRICS}; columns: {list(ranked.columns)}"
        )
    best = ranked.iloc[0].to_dict()
    config = out_dir / BEST_CONFIG_FILE
    if not config.is_file():
        raise FileNotFoundError(f"{config} is missing: the tuner should have written it")
    trial_metrics = Path(str(best.get("config") or "")).parent / METRICS_FILE
    if best.get("config") and trial_metrics.is_file():
        metrics = json.loads(trial_metrics.read_text())
    else:
        metrics = {k: v for k, v in best.items() if isinstance(k, str) and _is_number(v)}
    path = out_dir / METRICS_FILE
    path.write_text(json.dumps(metrics, indent=1, default=float) + "\n")
    write_handoff(out_dir, config=config.resolve(), metrics=path.resolve())
    return best


# ------------------------------------------------------------------------- in this process
def tune(
    train_ds,
    val_ds,
    grid: Mapping[str, Sequence],
    base_config,
    out_dir,
    schedule=None,
    steps_per_epoch: int | None = None,
    validation_steps: int | None = None,
    seed: int = 0,
    epochs: int | None = None,
    strategy="auto",
):
    """One short training + evaluation per grid point, in this process; the ranked table.

    ``schedule`` None: each trial trains with its own config's recipe over ``epochs``, so a
    grid over LEARNING_RATE reaches the stages; a stage's ``learning_rate`` None means the
    trial's LEARNING_RATE too (``stages.train``).

    ``grid`` maps Config attribute names (``LEARNING_RATE``, ``GRADIENT_CLIP_NORM``,
    ``DETECTION_MIN_CONFIDENCE``, ``DETECTION_MAX_INSTANCES``, ``LOSS_WEIGHTS`` ...; any case)
    to lists of values; trials follow the names in sorted order, the last varying fastest. An
    empty grid is one trial of ``base_config``. Each trial trains with ``workflow.stages.train``
    and is evaluated on ``val_ds``; its row also holds ``final_loss`` (the last epoch's training
    loss). ``strategy``: a name or a built ``model.distribute.Distribution``, built once for
    every trial (``stages.train``'s batch rule). Outputs as :func:`run_trials`.
    """
    from fashion_mrcnn.model import distribute
    from fashion_mrcnn.workflow import stages

    if not isinstance(strategy, distribute.Distribution):
        strategy = distribute.build(strategy)

    grid = {str(k).upper(): v for k, v in grid.items()}
    if grid:
        grid = validate_grid(grid, allowed=base_config.setting_names(), where="tune grid")
    keys = sorted(grid)
    points = [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]

    def run_trial(point, trial_dir):
        config = base_config.replace(**point)
        trained = stages.train(
            config,
            train_ds,
            val_ds,
            trial_dir,
            schedule=schedule,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps,
            seed=seed,
            verbose=0,
            strategy=strategy,
        )
        stages.evaluate(config, trained["checkpoint"], val_ds, trial_dir)
        write_handoff(
            trial_dir, config=Path(trained["config"]), metrics=Path(trial_dir) / METRICS_FILE
        )
        return {"final_loss": (trained["history"].get("loss") or [float("nan")])[-1]}

    return run_trials(points, run_trial, out_dir)


# ------------------------------------------------------------------------ one notebook each
def run_tune(
    grid_yaml: str | Path,
    out_dir: str | Path,
    base_parameters: Mapping[str, Any] | None = None,
    smoke: bool = False,
):
    """Run ``01_subset_tuning`` once per grid point (papermill); the ranked table.

    ``grid_yaml``: names of 01's parameters mapped to lists of values (``grid.load_grid``; an
    unknown name fails before anything runs); each point is injected on top of
    ``base_parameters`` (and the smoke settings with ``smoke``) into a run in
    ``out_dir/trial_000`` ..., with the notebook's own ``grid`` emptied so each run is one trial.
    Every trial reads the same data (``out_dir/synthetic`` by default). Outputs as
    :func:`run_trials`; a failing trial raises NotebookError after the finished trials are
    written to ``ranked.csv``.
    """
    from fashion_mrcnn.workflow.papermill_runner import (
        notebook_parameters,
        resolve_notebook,
        run_notebook,
    )
    from fashion_mrcnn.workflow.pipeline import stage_parameters

    notebook = resolve_notebook(TUNE_NOTEBOOK)
    declared = notebook_parameters(notebook)
    tunable = set(declared) - {"output_dir", "previous_stage_dir", "grid"}
    points = load_grid(grid_yaml, allowed=tunable)
    base = stage_parameters(TUNE_NOTEBOOK, declared, smoke, dict(base_parameters or {}))
    out_dir = Path(out_dir).resolve()
    if "synthetic_dir" in declared:
        base.setdefault("synthetic_dir", str(out_dir / "synthetic"))

    def run_trial(point, trial_dir):
        params = {**base, **point}
        if "grid" in declared:  # the notebook's own grid would multiply the trials
            params["grid"] = {}
        run_notebook(notebook, trial_dir, params)

    return run_trials(points, run_trial, out_dir)


# ---------------------------------------------------------------------------------- helpers
def _trial_metrics(trial_dir: Path) -> dict[str, Any]:
    """The metrics a trial recorded (the ``metrics`` JSON named in its hand-off)."""
    path = Path(read_handoff(trial_dir, "metrics", default=str(trial_dir / METRICS_FILE)))
    if not path.is_file():
        raise FileNotFoundError(f"tuning trial {trial_dir} wrote no metrics JSON ({path})")
    metrics = json.loads(path.read_text())
    if not isinstance(metrics, dict):
        raise ValueError(f"{path}: expected a JSON object of metrics, got {type(metrics).__name__}")
    return metrics


def _is_number(value: Any) -> bool:
    """A finite int / float (numpy scalars included), not a bool."""
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _flatten_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dict- or list-valued grid values (e.g. loss_weights) become JSON strings so the CSV stays
    flat."""
    return [
        {
            k: json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v
            for k, v in r.items()
        }
        for r in rows
    ]
