"""Where a training run keeps its checkpoints: Matterport's log-dir and checkpoint names.

A run of a model named ``NAME`` writes into ``<model_dir>/<name><YYYYMMDDTHHMM>/`` (``name`` is
``NAME`` in lower case, ``"model"`` when unset) the checkpoints ``mask_rcnn_<name>_<epoch:04d>.h5``
(patterns in :mod:`fashion_mrcnn.constants`). No TensorFlow here for a local folder: the workflow
reads checkpoint names without loading the engine.
"""

from __future__ import annotations

import datetime
import os
import re
from pathlib import Path

from fashion_mrcnn import storage
from fashion_mrcnn.constants import (
    CHECKPOINT_GLOB,
    CHECKPOINT_NAME,
    CHECKPOINT_NAME_RE,
    CHECKPOINT_PATH_RE,
    LOG_DIR_TIME_FORMAT,
)

_PATH_RE = re.compile(CHECKPOINT_PATH_RE)
_NAME_RE = re.compile(CHECKPOINT_NAME_RE + "$")


def run_name(config_name: str | None) -> str:
    """The lower-case name log dirs and checkpoints carry (``"model"`` for a config without
    NAME)."""
    return (config_name or "model").lower()


def log_dir(model_dir: str | Path, name: str, when: datetime.datetime) -> str:
    """``model_dir/<name><YYYYMMDDTHHMM>`` for a run started at ``when``."""
    return os.path.join(str(model_dir), f"{name}{when.strftime(LOG_DIR_TIME_FORMAT)}")


def checkpoint_pattern(log_dir_path: str | Path, name: str) -> str:
    """The checkpoint path of a log dir with ``{epoch:04d}`` left to fill (``str.format``)."""
    return os.path.join(str(log_dir_path), CHECKPOINT_NAME.replace("{name}", name))


def parse_checkpoint_path(path: str | Path) -> tuple[datetime.datetime, int] | None:
    """``(log dir start time, epoch)`` of one of our checkpoint paths (resolved), else None."""
    match = _PATH_RE.match(str(Path(path).resolve()))
    if not match:
        return None
    when = datetime.datetime.strptime(match["time"], LOG_DIR_TIME_FORMAT)
    return when, int(match["epoch"])


def checkpoint_epoch(path: str | Path) -> int:
    """The epoch a checkpoint named ``mask_rcnn_<name>_<epoch:04d>.h5`` was saved at (else 0).

    Loading one of our checkpoints resumes its epoch count, and schedules are cumulative, so a
    stage continuing from it trains to ``checkpoint_epoch(path) + more_epochs``.
    """
    match = _NAME_RE.search(Path(path).name)
    return int(match["epoch"]) if match else 0


def find_checkpoints(model_dir: str | Path, name: str) -> list[str]:
    """Every checkpoint of the ``<name>*`` log dirs under ``model_dir``, newest first (newest
    log dir first, then the highest epoch). ``model_dir`` may be a URL (``gs://bucket/run/logs``,
    listed through ``tf.io.gfile``: ``workflow.run_mirror`` resumes from one)."""
    root = storage.as_path(model_dir)
    dirs = [d for d in storage.glob(root, f"{name}*") if storage.is_dir(d)]
    return [c for d in reversed(dirs) for c in storage.glob(d, CHECKPOINT_GLOB)[::-1]]


def describe_search(model_dir: str | Path, name: str) -> str:
    """Where :func:`find_checkpoints` looked, for a "no checkpoint" message."""
    return f"no checkpoint under {str(model_dir)!r} (looked for {name}*/{CHECKPOINT_GLOB})"
