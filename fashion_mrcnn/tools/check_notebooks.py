"""Fail when a committed notebook carries outputs or execution counts.

Usage: ``python -m fashion_mrcnn.tools.check_notebooks notebooks/``. Notebooks are committed clean so
diffs stay readable and papermill runs start from a known state; a dirty notebook is named with the
cells that need clearing (``jupyter nbconvert --clear-output --inplace NOTEBOOK`` fixes it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def notebook_problems(path: Path) -> list[str]:
    """Return one message per cell of ``path`` that has outputs or an execution count."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return [f"{path}: not a readable notebook ({exc})"]
    problems = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"{path}: cell {index} has outputs")
        if cell.get("execution_count") is not None:
            problems.append(f"{path}: cell {index} has an execution count")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    roots = [Path(a) for a in (args or ["notebooks"])]
    paths = []
    for root in roots:
        paths += sorted(root.glob("*.ipynb")) if root.is_dir() else [root]
    problems = [p for path in paths for p in notebook_problems(path)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(
            "clear them with: jupyter nbconvert --clear-output --inplace <notebook>",
            file=sys.stderr,
        )
        return 1
    print(f"{len(paths)} notebook(s) clean")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
