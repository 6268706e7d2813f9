"""The ``splits.json`` file: its name and its writer (``{split name: [image ids]}``).

Reading and finding it beside a dataset is :mod:`fashion_mrcnn.data.paths`; this module imports
nothing of the package, so the loaders that write one (VOC's 4:1 split) can use it.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["SPLITS_NAME", "write_splits"]

#: The split file's name: ``train --split`` / ``evaluate --split`` find it beside the data.
SPLITS_NAME = "splits.json"


def write_splits(directory: str | Path, splits: dict[str, list[str]]) -> Path:
    """Write ``{split name: [image ids]}`` as ``directory/splits.json`` (the file
    ``data.paths.read_splits`` reads); returns its path."""
    path = Path(directory) / SPLITS_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: list(v) for k, v in splits.items()}, indent=1) + "\n")
    return path
