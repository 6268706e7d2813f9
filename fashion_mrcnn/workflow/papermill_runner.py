"""Run one staged notebook headless with papermill.

The notebooks (``notebooks/00_explore_data.ipynb`` ... ``05_submission.ipynb``, :data:`STAGES`)
hold narrative, parameters and plots; every computation in them is a call into
:mod:`fashion_mrcnn.workflow.stages`. :func:`run_notebook` executes one with injected parameters
(checked against its cell tagged ``parameters``) and keeps the executed copy; a failing cell
raises :class:`NotebookError` naming the notebook, the cell and the error. The kernel is this
interpreter (:mod:`fashion_mrcnn.workflow.kernelspec`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.workflow.kernelspec import current_kernel_name, ensure_kernelspec, jupyter_path

STAGES = (
    "00_explore_data",
    "01_subset_tuning",
    "02_full_training",
    "03_minority_oversampling",
    "04_error_analysis",
    "05_submission",
)


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


def stage_name(name_or_number: str) -> str | None:
    """The stage a name or number (``"02"``, ``"02_full_training"``) names, else None."""
    matches = [s for s in STAGES if name_or_number in (s, s.split("_", 1)[0])]
    return matches[0] if matches else None


def resolve_notebook(name_or_path: str | Path) -> Path:
    """A notebook path from a path, a stage name (``"02_full_training"``) or its number (``"02"``)."""
    path = Path(name_or_path)
    if path.suffix == ".ipynb" or path.is_file():
        if not path.is_file():
            raise FileNotFoundError(f"notebook {path} does not exist")
        return path
    stage = stage_name(str(name_or_path))
    if stage is None:
        raise ConfigError(
            f"unknown notebook {str(name_or_path)!r}; give a path or one of {list(STAGES)}"
        )
    return notebooks_dir() / f"{stage}.ipynb"


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
            stack.enter_context(jupyter_path(root))
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
