"""Small helpers the stage modules share: make an output folder, write a JSON artifact, turn a
NaN metric into ``None``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def mkdir(path) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def finite_or_none(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")
    return path
