"""Hand-offs between stages: ``handoff.json`` in a stage's output folder names the artifacts
(``checkpoint``, ``config``, ``metrics``, ...) the next stage continues from.

A stage records with :func:`write_handoff`; the next reads with :func:`read_handoff` through its
``previous_stage_dir``, or takes the config and checkpoint with :func:`stage_config` /
:func:`stage_weights` (explicit paths win over the recorded ones).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HANDOFF = "handoff.json"


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
