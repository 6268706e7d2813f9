"""The run-folder contract: what a training run leaves beside its checkpoints, and how a later
command finds it from the checkpoint alone.

A run folder (``fashion-mrcnn train --out RUN``, ``stages.train(..., out_dir=RUN)``, notebook 02's
``output_dir``, the demo's ``train/``) holds:

- ``train_config.yaml``: the Config (:data:`CONFIG_FILE`, ``Config.to_yaml``);
- ``classes.json``: the kept categories, ``[{"id", "name", "supercategory"}]`` in internal class
  id order (:data:`CLASSES_FILE`);
- ``train_summary.json``: the run's summary (:data:`SUMMARY_FILE`);
- ``logs/<name><time>/mask_rcnn_<name>_<epoch:04d>.h5``: the checkpoints (:data:`LOGS_DIR`,
  names owned by :mod:`fashion_mrcnn.model.checkpoints`).

So ``--weights RUN/logs/.../mask_rcnn_*.h5`` alone is enough for evaluate / predict / submit:
:func:`read_run` finds the config and classes in the folders above the checkpoint. (``--weights
RUN``, and a URL of either, are turned into such a local checkpoint first by
:mod:`workflow.remote_weights`.)

A training run folder may be a URL (``gs://bucket/run``): the run is written into a local
staging folder with this layout and copied there file by file (:mod:`workflow.run_mirror`
states the rule), so the functions here always work on local folders.

The names of the files the later stages write into their output folders are owned here too:
``metrics.json`` (:data:`METRICS_FILE`, evaluate and the tuner), ``per_class.csv``
(:data:`PER_CLASS_FILE`, evaluate), ``ranked.csv`` and ``best_config.yaml`` (:data:`RANKED_FILE`,
:data:`BEST_CONFIG_FILE`, the tuner) and ``detections/`` (:data:`DETECTIONS_DIR`, the
detections cache of tune-postprocess).

The starter model shipped in the repository (``weights/starter/``, :data:`STARTER_WEIGHTS`) is
laid out as such a run folder; :func:`weights_or_starter` picks it when no weights are given.
"""

from __future__ import annotations

import json
from pathlib import Path

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.model.checkpoints import checkpoint_epoch

__all__ = [
    "BEST_CONFIG_FILE",
    "CLASSES_FILE",
    "CONFIG_FILE",
    "DETECTIONS_DIR",
    "LOGS_DIR",
    "METRICS_FILE",
    "PER_CLASS_FILE",
    "RANKED_FILE",
    "SUMMARY_FILE",
    "STARTER_WEIGHTS",
    "checkpoint_epoch",
    "find_run_file",
    "read_run",
    "write_classes",
    "weights_or_starter",
    "write_config",
]

CONFIG_FILE = "train_config.yaml"
CLASSES_FILE = "classes.json"
SUMMARY_FILE = "train_summary.json"
LOGS_DIR = "logs"
#: An evaluation's (and a tuning run's best trial's) metrics.
METRICS_FILE = "metrics.json"
#: An evaluation's per-class table.
PER_CLASS_FILE = "per_class.csv"
#: A tuning run's trials, best first, and the best trial's config.
RANKED_FILE = "ranked.csv"
BEST_CONFIG_FILE = "best_config.yaml"
#: The cached detections of tune-postprocess.
DETECTIONS_DIR = "detections"
#: How many folders above a checkpoint :func:`find_run_file` looks in.
SEARCH_DEPTH = 4
#: The real-photo starter model of a checkout (its card: ``MODEL_CARD.md`` beside it).
STARTER_WEIGHTS = (
    Path(__file__).resolve().parents[2] / "weights" / "starter" / "mask_rcnn_starter.h5"
)


def weights_or_starter(weights=None) -> Path:
    """``weights`` when given (a local path: a URL or a folder goes through
    ``remote_weights.local_weights`` first); else the starter model, saying so on stdout.
    ConfigError when neither is there (a pip-installed package has no starter model: it ships
    with a checkout)."""
    if weights:
        return Path(weights)
    if not STARTER_WEIGHTS.is_file():
        raise ConfigError(
            f"no --weights given, and no starter model at {STARTER_WEIGHTS} (it ships with a "
            "checkout of the repository): pass --weights RUN/logs/.../mask_rcnn_*.h5"
        )
    card = STARTER_WEIGHTS.parent / "MODEL_CARD.md"
    print(f"no --weights: using the starter model {STARTER_WEIGHTS} (see {card})", flush=True)
    return STARTER_WEIGHTS


def write_config(config, run_dir: str | Path) -> Path:
    """Write ``run_dir/train_config.yaml``; return its path."""
    return config.to_yaml(Path(run_dir) / CONFIG_FILE)


def write_classes(categories, run_dir: str | Path) -> Path:
    """Write ``run_dir/classes.json`` (the kept categories, internal id order); return its path."""
    path = Path(run_dir) / CLASSES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(list(categories), indent=1) + "\n")
    return path


def find_run_file(weights, name: str) -> Path | None:
    """``name`` (e.g. ``train_config.yaml``) in the folders above a checkpoint, else None."""
    for parent in Path(weights).resolve().parents[:SEARCH_DEPTH]:
        if (parent / name).is_file():
            return parent / name
    return None


def read_run(weights, config_path=None, classes_path=None):
    """``(Config, categories or None)`` of the run a checkpoint belongs to.

    ``config_path`` / ``classes_path`` override the files found above ``weights``. ConfigError
    when no config is given or found; categories are None when no ``classes.json`` is found.
    """
    from fashion_mrcnn.config import Config

    config_path = config_path or find_run_file(weights, CONFIG_FILE)
    if config_path is None:
        raise ConfigError(f"no --config given and no {CONFIG_FILE} found above {weights}")
    classes_path = classes_path or find_run_file(weights, CLASSES_FILE)
    categories = json.loads(Path(classes_path).read_text()) if classes_path else None
    return Config.from_yaml(config_path), categories
