"""``--weights`` on a URL (``gs://bucket/run/logs/<name><time>/mask_rcnn_<name>_0004.h5``, or
the run folder ``gs://bucket/run``): copied into a local cache with the run files beside it, so
every command that reads a trained model (evaluate, predict, submit, tune-postprocess, export,
serve, index, the ensembles) and the stages that take a weights path take a URL as they take a
local checkpoint.

The rule (:func:`local_weights`, the one owner of it):

- A folder (local or URL) stands for its newest checkpoint: a run folder's ``logs/`` (or a
  ``logs/`` folder, or one log dir) is searched in ``--resume``'s order (newest log dir, then the
  highest epoch; :func:`newest_checkpoint`). No checkpoint there: WeightsError naming the folder.
- A URL checkpoint is copied to ``CACHE/weights/<key>/<its last SEARCH_DEPTH path parts>`` with
  the run files found in the folders above it on the URL (``train_config.yaml``,
  ``classes.json``, a tuned ``postprocess.yaml``: what ``rundir.find_run_file`` and
  ``stages.tuned_postprocess`` look for) copied to the same relative places, so the local copy
  is a run folder as ``rundir`` reads it. ``<key>`` is a hash of the URL, its size and (where the
  file system gives one; Cloud Storage does, ``ram://`` does not) its modification time: a second
  command with the same URL reads the cached copy, a checkpoint rewritten on the URL is copied
  again. The checkpoint arrives under a temporary name and is renamed last, so an interrupted
  copy is never taken for a cached one. A URL that does not exist: WeightsError naming it.
- A local checkpoint (or None: the starter model's case) is returned as it is.

``CACHE`` is ``$FASHION_MRCNN_CACHE`` when set, else ``~/.cache/fashion-mrcnn``
(:func:`cache_root`); delete ``CACHE/weights`` to free the space.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from fashion_mrcnn import storage
from fashion_mrcnn.constants import CHECKPOINT_GLOB
from fashion_mrcnn.errors import WeightsError
from fashion_mrcnn.workflow.rundir import CLASSES_FILE, CONFIG_FILE, LOGS_DIR, SEARCH_DEPTH

__all__ = ["CACHE_ENV", "cache_root", "local_weights", "newest_checkpoint"]

#: The environment variable naming the cache folder.
CACHE_ENV = "FASHION_MRCNN_CACHE"
#: The suffix of a checkpoint being copied into the cache.
PART_SUFFIX = ".part"


def cache_root() -> Path:
    """``$FASHION_MRCNN_CACHE`` when set (and not empty), else ``~/.cache/fashion-mrcnn``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "fashion-mrcnn")


def newest_checkpoint(folder) -> str:
    """The newest checkpoint (``mask_rcnn*.h5``) of a run folder, a ``logs/`` folder or one log
    dir (local or URL): the folder's own checkpoints, highest epoch first, else those of the log
    dirs under ``folder/logs`` (or ``folder``) in ``find_checkpoints``' order. WeightsError
    naming the folder when there is none."""
    from fashion_mrcnn.model.checkpoints import find_checkpoints

    own = storage.glob(folder, CHECKPOINT_GLOB)
    if own:
        return own[-1]
    logs = storage.join(folder, LOGS_DIR)
    found = find_checkpoints(logs if storage.is_dir(logs) else folder, "")
    if not found:
        raise WeightsError(
            f"{folder}: a folder with no checkpoint (looked for {CHECKPOINT_GLOB} in it and in "
            f"{LOGS_DIR}/*/ below it); pass a checkpoint or a training run's folder"
        )
    return found[0]


def _run_files() -> tuple[str, ...]:
    from fashion_mrcnn.inference.postprocess import POSTPROCESS_YAML

    return CONFIG_FILE, CLASSES_FILE, POSTPROCESS_YAML


def _cache_key(url: str) -> str:
    """A hash of the URL, its size and its modification time (0 where none is given)."""
    import tensorflow as tf

    stat = tf.io.gfile.stat(url)
    text = f"{url}\n{stat.length}\n{stat.mtime_nsec}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _url_folders(url: str) -> list[str]:
    """The folders above ``url``, nearest first, at most SEARCH_DEPTH, the scheme's root
    excluded (``ram://b/run/x.h5`` -> ``["ram://b/run", "ram://b"]``)."""
    scheme, rest = url.split("://", 1)
    parts = rest.strip("/").split("/")
    return [f"{scheme}://" + "/".join(parts[:j]) for j in range(len(parts) - 1, 0, -1)][
        :SEARCH_DEPTH
    ]


def _download(url: str, cache_dir: Path) -> Path:
    """The cached copy of the checkpoint ``url`` with its run files (module docstring)."""
    parts = url.split("://", 1)[1].strip("/").split("/")
    local = Path(cache_dir, "weights", _cache_key(url), *parts[-SEARCH_DEPTH:])
    if local.is_file():
        print(f"weights: {url} (cached copy {local})", flush=True)
        return local
    local.parent.mkdir(parents=True, exist_ok=True)
    for url_dir, local_dir in zip(_url_folders(url), local.parents, strict=False):
        for name in _run_files():
            source = storage.join(url_dir, name)
            if storage.is_file(source):
                storage.copy(source, local_dir / name)
    print(f"weights: copying {url} to {local}", flush=True)
    part = local.with_name(local.name + PART_SUFFIX)
    storage.copy(url, part)
    os.replace(part, local)
    return local


def local_weights(weights, cache_dir=None):
    """A local checkpoint path for a ``--weights`` value (module docstring): a URL copied into
    the cache (``cache_dir``, default :func:`cache_root`) and returned as a ``Path``; a folder's
    newest checkpoint; anything else (a local file, a missing path, None) as it is, for the
    loader to judge. WeightsError naming the URL when it does not exist or cannot be copied, or
    naming the folder when it holds no checkpoint."""
    if weights is None or not (storage.is_url(weights) or os.path.isdir(weights)):
        return weights
    if not storage.is_url(weights):
        return Path(newest_checkpoint(weights))
    import tensorflow as tf

    url = str(weights).rstrip("/")
    try:
        if not storage.exists(url):
            raise WeightsError(f"{url}: no such checkpoint or run folder")
        if storage.is_dir(url):
            url = newest_checkpoint(url)
        return _download(url, Path(cache_dir) if cache_dir else cache_root())
    except tf.errors.OpError as exc:  # the file system refused (permissions, network)
        raise WeightsError(
            f"{url}: cannot copy the weights ({type(exc).__name__}: {exc.message})"
        ) from exc
