"""Hyperparameter grids for ``fashion-mrcnn tune``: a YAML mapping expanded to its cartesian product.

A grid file maps a parameter name to the list of values to try::

    # grid.yaml: 2 x 2 x 1 = 4 trials
    learning_rate: [0.001, 0.0005]
    gradient_clip_norm: [5.0, 1.0]
    detection_min_confidence: [0.7]

The names are parameters of the ``01_subset_tuning`` notebook (its cell tagged ``parameters``), so
each grid point can be injected into one papermill run. A value may be any YAML scalar, a list or
a mapping (``loss_weights: [{mrcnn_mask_loss: 1.0}, {mrcnn_mask_loss: 2.0}]``). The optional
top-level ``grid:`` key nests the mapping, so a file can also carry comments or other sections::

    grid:
      learning_rate: [0.001, 0.0005]

``load_grid`` validates the file and raises :class:`ConfigError` naming the file and the bad key.
"""

from __future__ import annotations

import itertools
import keyword
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from fashion_mrcnn.errors import ConfigError

# A grid this large is almost always a typo (a list where a scalar was meant).
MAX_POINTS = 1000


class _GridLoader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float (YAML 1.1 wants ``1.0e-3``)."""


_GridLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def _check_value(where: str, key: str, index: int, value: Any) -> None:
    """Reject values papermill cannot inject (anything that is not plain JSON-like data)."""
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{where}: key {key!r}, value {index}: {value!r} is not finite")
        return
    if isinstance(value, list):
        for item in value:
            _check_value(where, key, index, item)
        return
    if isinstance(value, dict):
        for sub_key, item in value.items():
            if not isinstance(sub_key, str):
                raise ConfigError(
                    f"{where}: key {key!r}, value {index}: mapping keys must be strings, "
                    f"got {sub_key!r}"
                )
            _check_value(where, key, index, item)
        return
    raise ConfigError(
        f"{where}: key {key!r}, value {index}: unsupported type {type(value).__name__} ({value!r})"
    )


def validate_grid(
    grid: Mapping[str, Any], allowed: Iterable[str] | None = None, where: str = "grid"
) -> dict[str, list]:
    """Check a ``{name: [values]}`` mapping and return it with every value list copied.

    ``allowed``: the accepted names (e.g. a notebook's parameters); None accepts any identifier.
    Raises ConfigError naming ``where`` and the bad key: a name that is not a Python identifier or
    not allowed, a value that is not a non-empty list, duplicate values, unsupported value types,
    or more than ``MAX_POINTS`` points in total.
    """
    if not isinstance(grid, Mapping):
        raise ConfigError(
            f"{where}: expected a mapping of parameter name -> list of values, "
            f"got {type(grid).__name__}"
        )
    if not grid:
        raise ConfigError(
            f"{where}: the grid is empty (give at least one parameter and its values)"
        )
    allowed_set = None if allowed is None else set(allowed)
    checked: dict[str, list] = {}
    for key, values in grid.items():
        if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
            raise ConfigError(f"{where}: key {key!r} is not a valid parameter name")
        if allowed_set is not None and key not in allowed_set:
            raise ConfigError(
                f"{where}: unknown key {key!r}; the parameters that can be tuned are "
                f"{sorted(allowed_set)}"
            )
        if not isinstance(values, list):
            raise ConfigError(
                f"{where}: key {key!r}: expected a list of values, got {type(values).__name__} "
                f"{values!r} (write [{values!r}] for a single value)"
            )
        if not values:
            raise ConfigError(f"{where}: key {key!r}: the list of values is empty")
        seen = []
        for index, value in enumerate(values):
            _check_value(where, key, index, value)
            if value in seen:
                raise ConfigError(f"{where}: key {key!r}: value {value!r} is listed twice")
            seen.append(value)
        checked[key] = list(values)
    n_points = math.prod(len(v) for v in checked.values())
    if n_points > MAX_POINTS:
        sizes = " x ".join(f"{k}={len(v)}" for k, v in checked.items())
        raise ConfigError(
            f"{where}: {n_points} grid points ({sizes}) exceed the limit {MAX_POINTS}"
        )
    return checked


def expand_grid(grid: Mapping[str, list]) -> list[dict[str, Any]]:
    """The cartesian product of a validated grid, in file order (the last key varies fastest)."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def parse_value(text: str) -> Any:
    """One YAML value the way grid files read it (``1e-3`` is a float). Raises yaml.YAMLError."""
    return yaml.load(text, Loader=_GridLoader)  # noqa: S506 (a SafeLoader)


def read_grid(path: str | Path) -> dict[str, Any]:
    """Parse the grid mapping from a YAML file (unwrapping a top-level ``grid:`` key)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the grid file ({exc})") from exc
    try:
        data = yaml.load(text, Loader=_GridLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({_one_line(exc)})") from exc
    if data is None:
        raise ConfigError(f"{path}: the grid file is empty")
    if isinstance(data, dict) and set(data) == {"grid"}:
        data = data["grid"]
    return data


def load_grid(path: str | Path, allowed: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Read a grid YAML file and return its points, one ``{name: value}`` dict per trial.

    ``allowed``: accepted parameter names (None: any identifier). Raises ConfigError naming the
    file and the offending key when the file is unreadable, not a mapping of lists, or too large.
    """
    grid = validate_grid(read_grid(path), allowed=allowed, where=str(path))
    return expand_grid(grid)


def point_label(point: Mapping[str, Any]) -> str:
    """A short human-readable label for one grid point: ``learning_rate=0.001,seed=1``."""
    return ",".join(f"{k}={v}" for k, v in point.items())


def _one_line(exc: Exception) -> str:
    """A YAML error's message on one line (PyYAML's spans several, with a caret marker)."""
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip("^ "))
