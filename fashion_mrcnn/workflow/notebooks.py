"""Run the staged notebooks headless with papermill: one stage, the whole pipeline, or a tuning grid.

The notebooks (``notebooks/00_explore_data.ipynb`` ... ``05_submission.ipynb``) hold narrative,
parameters and plots; every computation in them is a call into :mod:`fashion_mrcnn.workflow.stages`.
This module executes them:

- :func:`run_notebook` runs one notebook with injected parameters and saves the executed copy;
  a failing cell raises :class:`NotebookError` naming the notebook, the cell and the error.
- :func:`run_pipeline` runs the stages 00..05 in order, each in ``out_dir/<stage>``, handing
  ``previous_stage_dir`` from one to the next, and stops at the first failure.
- :func:`run_tune` runs ``01_subset_tuning`` once per point of a grid YAML (see
  :mod:`fashion_mrcnn.workflow.grid`) and ranks the trials.

Stages hand artifacts on through ``handoff.json`` in their output directory (written with
:func:`write_handoff`, read with :func:`read_handoff`): e.g. 02 records its checkpoint and config,
03 reads them.

The kernel is always the interpreter running this code (``sys.executable``): a kernelspec for it
is written to a private directory put on ``JUPYTER_PATH`` for the duration of the run, so a fresh
virtualenv or a CI runner needs no ``ipykernel install`` step.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.model.checkpoints import checkpoint_epoch  # noqa: F401 - notebooks import it here

STAGES = (
    "00_explore_data",
    "01_subset_tuning",
    "02_full_training",
    "03_minority_oversampling",
    "04_error_analysis",
    "05_submission",
)
HANDOFF = "handoff.json"
TUNE_NOTEBOOK = "01_subset_tuning"
# What a tuning trial is ranked by (higher is better), in order of preference.
RANK_METRICS = ("mask_map50", "segm_AP", "bbox_AP")

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


class NotebookError(RuntimeError):
    """A cell of an executed notebook raised.

    Attributes: ``notebook`` (source path), ``cell_index`` (index of the failing cell in the
    source notebook, 0-based, counting markdown cells), ``ename`` / ``evalue`` (the exception's
    type name and message), ``output`` (the executed notebook saved with the traceback).
    """

    def __init__(
        self, notebook: Path, cell_index: int, ename: str, evalue: str, output: Path, source=""
    ):
        self.notebook = Path(notebook)
        self.cell_index = cell_index
        self.ename = ename
        self.evalue = evalue
        self.output = Path(output)
        self.source = source
        first = next((ln for ln in source.splitlines() if ln.strip()), "")
        super().__init__(
            f"{self.notebook.name}: cell {cell_index} failed with {ename}: {evalue}"
            + (f"\n  cell starts: {first.strip()[:100]}" if first else "")
            + f"\n  executed notebook with the traceback: {self.output}"
        )


# ---------------------------------------------------------------------------- locating notebooks
def notebooks_dir() -> Path:
    """The folder holding the staged notebooks.

    ``$FASHION_MRCNN_NOTEBOOKS`` if set, else ``notebooks/`` of the source checkout this package
    is imported from (an editable install or a Colab clone). Raises FileNotFoundError otherwise.
    """
    env = os.environ.get("FASHION_MRCNN_NOTEBOOKS")
    candidate = Path(env) if env else Path(__file__).resolve().parents[2] / "notebooks"
    if not (candidate / f"{STAGES[0]}.ipynb").is_file():
        raise FileNotFoundError(
            f"staged notebooks not found in {candidate}; run from a source checkout "
            "(pip install -e .) or set FASHION_MRCNN_NOTEBOOKS to the notebooks folder"
        )
    return candidate


def resolve_notebook(name_or_path: str | Path) -> Path:
    """A notebook path from a path, a stage name (``"02_full_training"``) or its number (``"02"``)."""
    path = Path(name_or_path)
    if path.suffix == ".ipynb" or path.is_file():
        if not path.is_file():
            raise FileNotFoundError(f"notebook {path} does not exist")
        return path
    name = str(name_or_path)
    matches = [s for s in STAGES if s == name or s.split("_", 1)[0] == name]
    if not matches:
        raise ValueError(f"unknown notebook {name!r}; give a path or one of {list(STAGES)}")
    return notebooks_dir() / f"{matches[0]}.ipynb"


# ---------------------------------------------------------------------------------- the kernel
def _kernel_root() -> Path:
    """Private Jupyter data dir for this interpreter's kernelspec (per user, per interpreter)."""
    digest = hashlib.sha1(sys.executable.encode()).hexdigest()[:10]
    user = os.environ.get("USER") or str(os.getuid() if hasattr(os, "getuid") else "user")
    return Path(tempfile.gettempdir()) / f"fashion-mrcnn-jupyter-{user}" / digest


def current_kernel_name() -> str:
    """Name of the kernelspec that runs ``sys.executable``."""
    return "fashion-mrcnn-" + hashlib.sha1(sys.executable.encode()).hexdigest()[:10]


def ensure_kernelspec() -> Path:
    """Write (idempotently) a kernelspec for ``sys.executable``; return the Jupyter data dir.

    The spec runs ``sys.executable -m ipykernel_launcher`` with TensorFlow's C++ logging quieted
    and matplotlib's inline backend, so figures land in the executed notebook.
    """
    root = _kernel_root()
    spec_dir = root / "kernels" / current_kernel_name()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"fashion-mrcnn ({sys.executable})",
        "language": "python",
        "env": {
            "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "PYTHONUNBUFFERED": "1",
        },
        "metadata": {"debugger": False},
    }
    text = json.dumps(spec, indent=1)
    path = spec_dir / "kernel.json"
    if not path.is_file() or path.read_text() != text:
        spec_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return root


@contextlib.contextmanager
def _jupyter_path(extra: Path) -> Iterator[None]:
    """Put ``extra`` first on JUPYTER_PATH inside the block (restored afterwards)."""
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(extra)] + ([old] if old else []))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old


# ------------------------------------------------------------------------------- one notebook
def notebook_parameters(path: str | Path) -> dict[str, str]:
    """The names a notebook assigns in its cell tagged ``parameters``: ``{name: default source}``.

    Raises ValueError when the notebook has no such cell or the cell is not valid Python.
    """
    import ast

    import nbformat

    path = Path(path)
    nb = nbformat.read(str(path), as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise ValueError(f"{path}: no cell tagged 'parameters' (papermill needs one)")
    source = cells[0].source
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"{path}: the parameters cell is not valid Python ({exc})") from exc
    found: dict[str, str] = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                found[target.id] = ast.get_source_segment(source, node.value) or ""
    return found


def _jsonable(name: str, value: Any) -> Any:
    """Paths become strings; anything papermill cannot write as a literal raises ConfigError."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(name, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(name, v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    raise ConfigError(f"parameter {name!r}: cannot inject a {type(value).__name__} ({value!r})")


def _failure(exc, notebook: Path, output: Path) -> NotebookError:
    """Translate papermill's execution error into a NotebookError with the source cell index.

    papermill's ``cell_index`` counts the executed notebook's cells, which include the injected
    parameters cell; the error-marker cells it adds to the saved copy afterwards are not counted.
    """
    index = exc.cell_index
    try:
        cells = json.loads(output.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        cells = None  # the saved copy is unreadable: report papermill's own index
    if cells is not None:
        tags = [c.get("metadata", {}).get("tags", []) for c in cells]
        executed = [t for t in tags if "papermill-error-cell-tag" not in t][:index]
        index -= sum("injected-parameters" in t for t in executed)
    return NotebookError(notebook, index, exc.ename, exc.evalue, output, exc.source or "")


def run_notebook(
    name_or_path: str | Path,
    out_dir: str | Path,
    parameters: Mapping[str, Any] | None = None,
    kernel_name: str | None = None,
    timeout: float | None = None,
) -> Path:
    """Execute one notebook with papermill; return the executed copy ``out_dir/<name>.ipynb``.

    ``name_or_path``: a path or a stage name / number (``"01_subset_tuning"``, ``"01"``).
    ``parameters``: values injected after the ``parameters`` cell; every name must be declared
    there (a typo raises ConfigError listing the declared ones). ``output_dir`` defaults to
    ``out_dir`` when the notebook declares it. ``kernel_name``: a Jupyter kernel to use instead
    of this interpreter. ``timeout``: seconds per cell (None: no limit).
    Raises NotebookError when a cell fails (the executed copy, with the traceback, is kept).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook = resolve_notebook(name_or_path)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    declared = notebook_parameters(notebook)
    params = {k: _jsonable(k, v) for k, v in dict(parameters or {}).items()}
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise ConfigError(
            f"{notebook.name}: unknown parameter(s) {unknown}; it declares {sorted(declared)}"
        )
    if "output_dir" in declared:
        params.setdefault("output_dir", str(out_dir))
    output = out_dir / notebook.name
    root = None if kernel_name else ensure_kernelspec()
    kernel = kernel_name or current_kernel_name()
    with contextlib.ExitStack() as stack:
        if root is not None:
            stack.enter_context(_jupyter_path(root))
        try:
            papermill.execute_notebook(
                str(notebook),
                str(output),
                parameters=params,
                kernel_name=kernel,
                language="python",
                progress_bar=False,
                cwd=str(out_dir),
                execution_timeout=timeout,
            )
        except PapermillExecutionError as exc:
            raise _failure(exc, notebook, output) from None
    return output


# --------------------------------------------------------------------------------- hand-offs
def write_handoff(out_dir: str | Path, **items: Any) -> Path:
    """Record artifacts for the next stage in ``out_dir/handoff.json`` (merged with earlier ones).

    Typical keys: ``checkpoint`` (weights path), ``config`` (YAML path), ``metrics`` (JSON path).
    Paths are stored absolute.
    """
    path = Path(out_dir) / HANDOFF
    data = json.loads(path.read_text()) if path.is_file() else {}
    for key, value in items.items():
        data[key] = str(Path(value).resolve()) if isinstance(value, Path) else value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


def read_handoff(previous_stage_dir: str | Path | None, key: str, default: Any = ...) -> Any:
    """An artifact recorded by the previous stage (see :func:`write_handoff`).

    Returns ``default`` when ``previous_stage_dir`` is empty / None or lacks the key; without a
    default, raises FileNotFoundError naming the stage directory and the missing key.
    """
    path = Path(previous_stage_dir) / HANDOFF if previous_stage_dir else None
    data = json.loads(path.read_text()) if path is not None and path.is_file() else {}
    if key in data:
        return data[key]
    if default is not ...:
        return default
    where = path if path is not None else "no previous_stage_dir given"
    raise FileNotFoundError(
        f"{key!r} not recorded by the previous stage ({where}); run that stage first "
        f"or pass the artifact explicitly"
    )


def stage_config(
    previous_stage_dir: str | Path | None, config_path: str | Path = "", base=None, **overrides
):
    """The Config a stage continues from, with the non-None ``overrides`` applied.

    Source, first found: ``config_path`` (a YAML written by ``Config.to_yaml``); the ``config``
    the previous stage recorded in its hand-off; ``base`` (a Config, e.g. from
    ``stages.make_config``). Overrides use Config names (``DETECTION_MIN_CONFIDENCE=0.6``); a
    None value keeps the loaded setting. Raises FileNotFoundError when no source exists,
    ConfigError for a bad YAML or override.
    """
    from fashion_mrcnn.config import Config

    recorded = read_handoff(previous_stage_dir, "config", default="")
    if config_path or recorded or base is None:
        path = Path(config_path or read_handoff(previous_stage_dir, "config"))
        if not path.is_file():
            raise FileNotFoundError(f"config YAML {path} does not exist")
        config = Config.from_yaml(path)
    else:
        config = base
    changes = {k: v for k, v in overrides.items() if v is not None}
    return config.replace(**changes) if changes else config


def stage_weights(previous_stage_dir: str | Path | None, weights: str | Path = "") -> str:
    """The checkpoint a stage continues from: ``weights`` if given, else the previous stage's.

    Raises FileNotFoundError when the file is missing or nothing was recorded.
    """
    path = Path(weights) if weights else Path(read_handoff(previous_stage_dir, "checkpoint"))
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    return str(path)


def record_tuning(ranked, out_dir: str | Path) -> dict[str, Any]:
    """Record a tuning run's outcome for the next stage and for ``run_tune``; return the best row.

    ``ranked``: the DataFrame ``stages.tune`` returned (best trial first, with at least one of
    RANK_METRICS among its columns and the trial's ``config`` YAML path); ``out_dir`` must hold
    the ``best_config.yaml`` it wrote. Writes ``out_dir/metrics.json``: the best trial's own
    ``metrics.json`` (beside its config) when present, else the row's finite numeric columns.
    Records ``config`` (best_config.yaml) and ``metrics`` in the hand-off. Raises ValueError for
    an empty or metric-less table, FileNotFoundError when best_config.yaml is missing.
    """
    out_dir = Path(out_dir)
    if len(ranked) == 0:
        raise ValueError("the tuning table is empty: no trial finished")
    if not any(m in ranked.columns for m in RANK_METRICS):
        raise ValueError(
            f"the tuning table has none of {RANK_METRICS}; columns: {list(ranked.columns)}"
        )
    best = ranked.iloc[0].to_dict()
    config = out_dir / "best_config.yaml"
    if not config.is_file():
        raise FileNotFoundError(f"{config} is missing: stages.tune should have written it")
    trial_metrics = Path(str(best.get("config") or "")).parent / "metrics.json"
    if best.get("config") and trial_metrics.is_file():
        metrics = json.loads(trial_metrics.read_text())
    else:
        metrics = {k: v for k, v in best.items() if isinstance(k, str) and _is_number(v)}
    path = out_dir / "metrics.json"
    path.write_text(json.dumps(metrics, indent=1, default=float) + "\n")
    write_handoff(out_dir, config=config.resolve(), metrics=path.resolve())
    return best


def show_artifacts(
    paths: Iterable[str | Path], suffixes: tuple[str, ...] = (".png",)
) -> list[Path]:
    """Display the image files among ``paths`` inline (in a notebook); return those shown.

    Missing files raise FileNotFoundError: an artifact a stage reported must exist.
    """
    from IPython.display import Image, display

    shown = []
    for path in map(Path, paths):
        if path.suffix.lower() not in suffixes:
            continue
        if not path.is_file():
            raise FileNotFoundError(f"artifact {path} was reported but does not exist")
        display(Image(filename=str(path)))
        shown.append(path)
    return shown


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Parameters from command-line ``NAME=VALUE`` / ``STAGE.NAME=VALUE`` strings.

    Values are read as YAML (``1e-3`` is a float, ``[1, 2]`` a list, ``cpu-small`` a string);
    ``STAGE`` is a stage name or number (``02.heads_epochs=3``) and nests the value under that
    stage, the form ``run_pipeline`` takes. Raises ConfigError naming the malformed item.
    """
    import yaml

    from fashion_mrcnn.workflow.grid import parse_value

    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"parameter {item!r}: expected NAME=VALUE or STAGE.NAME=VALUE")
        try:
            value = parse_value(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"parameter {item!r}: value is not valid YAML ({exc})") from exc
        stage, dot, key = name.rpartition(".")
        if dot:
            matches = [s for s in STAGES if stage in (s, s.split("_", 1)[0])]
            if not matches:
                raise ConfigError(f"parameter {item!r}: unknown stage {stage!r}")
            if not key.isidentifier():
                raise ConfigError(f"parameter {item!r}: {key!r} is not a parameter name")
            out.setdefault(matches[0], {})[key] = value
        elif not name.isidentifier():
            raise ConfigError(f"parameter {item!r}: {name!r} is not a parameter name")
        else:
            out[name] = value
    return out


# ---------------------------------------------------------------------------------- pipeline
def _stage_parameters(
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
        raise ValueError(f"not pipeline stages: {strangers}; choose from {list(STAGES)}")
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
        stage_params = _stage_parameters(stage, declared, smoke, params)
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


# ---------------------------------------------------------------------------------- tuning
def _trial_metrics(trial_dir: Path) -> dict[str, Any]:
    """The metrics a tuning trial recorded (``metrics.json`` named in its handoff)."""
    path = Path(read_handoff(trial_dir, "metrics", default=str(trial_dir / "metrics.json")))
    if not path.is_file():
        raise FileNotFoundError(f"tuning trial {trial_dir} wrote no metrics JSON ({path})")
    metrics = json.loads(path.read_text())
    if not isinstance(metrics, dict):
        raise ValueError(f"{path}: expected a JSON object of metrics, got {type(metrics).__name__}")
    return metrics


def rank_trials(rows: list[dict[str, Any]]):
    """A DataFrame of trials sorted best first by the first RANK_METRICS column present.

    Rows whose ranking metric is missing or NaN go last. Adds a 1-based ``rank`` column.
    """
    import pandas as pd

    table = pd.DataFrame(rows)
    metric = next((m for m in RANK_METRICS if m in table.columns), None)
    if metric is None:
        raise ValueError(f"no trial reported any of {RANK_METRICS}; cannot rank")
    table = table.sort_values(metric, ascending=False, na_position="last", kind="stable")
    table.insert(0, "rank", range(1, len(table) + 1))
    return table.reset_index(drop=True)


def run_tune(
    grid_yaml: str | Path,
    out_dir: str | Path,
    base_parameters: Mapping[str, Any] | None = None,
    smoke: bool = False,
):
    """Run ``01_subset_tuning`` once per grid point; return the ranked trials as a DataFrame.

    ``grid_yaml``: names of 01's parameters mapped to lists of values (see ``grid.load_grid``);
    each point is injected on top of ``base_parameters`` (and the smoke settings with ``smoke``)
    into a run in ``out_dir/trial_000`` ..., with the notebook's own ``grid`` emptied so each run
    is one trial. Each trial's metrics JSON is collected into ``out_dir/ranked.csv`` (best first,
    ranked by mask_map50); the best trial's ``best_config.yaml`` and metrics are copied to
    ``out_dir`` and recorded in its hand-off, so ``out_dir`` can be stage 02's
    ``previous_stage_dir``. A failing trial raises NotebookError after the finished trials
    are written to ``ranked.csv``.
    """
    import shutil

    from fashion_mrcnn.workflow.grid import load_grid, point_label

    notebook = resolve_notebook(TUNE_NOTEBOOK)
    declared = notebook_parameters(notebook)
    tunable = set(declared) - {"output_dir", "previous_stage_dir", "grid"}
    points = load_grid(grid_yaml, allowed=tunable)
    base = _stage_parameters(TUNE_NOTEBOOK, declared, smoke, dict(base_parameters or {}))
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    if "synthetic_dir" in declared:  # every trial reads the same generated data
        base.setdefault("synthetic_dir", str(out_dir / "synthetic"))
    rows: list[dict[str, Any]] = []
    width = max(3, len(str(len(points) - 1)))
    try:
        for i, point in enumerate(points):
            trial_dir = out_dir / f"trial_{i:0{width}d}"
            params = {**base, **point}
            if "grid" in declared:  # the notebook's own grid would multiply the trials
                params["grid"] = {}
            start = time.perf_counter()
            run_notebook(notebook, trial_dir, params)
            metrics = _trial_metrics(trial_dir)
            row = {"trial": trial_dir.name, "label": point_label(point), **point}
            row.update({k: v for k, v in metrics.items() if _is_number(v)})
            row["seconds"] = round(time.perf_counter() - start, 2)
            row["config"] = read_handoff(trial_dir, "config", default="")
            rows.append(row)
    finally:
        if rows:
            table = rank_trials(_flatten_rows(rows))
            table.to_csv(out_dir / "ranked.csv", index=False)
    best_config = table.loc[0, "config"]
    if not best_config or not Path(best_config).is_file():
        raise FileNotFoundError(
            f"best trial {table.loc[0, 'trial']} recorded no config YAML in its {HANDOFF}"
        )
    shutil.copyfile(best_config, out_dir / "best_config.yaml")
    best_metrics = _trial_metrics(out_dir / str(table.loc[0, "trial"]))
    (out_dir / "metrics.json").write_text(json.dumps(best_metrics, indent=1) + "\n")
    # the tune folder can stand in for stage 01: 02_full_training reads this hand-off
    write_handoff(out_dir, config=out_dir / "best_config.yaml", metrics=out_dir / "metrics.json")
    return table


def _is_number(value: Any) -> bool:
    """A finite int / float (numpy scalars included), not a bool."""
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _flatten_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dict-valued grid values (e.g. loss_weights) become JSON strings so the CSV stays flat."""
    return [
        {
            k: json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v
            for k, v in r.items()
        }
        for r in rows
    ]
