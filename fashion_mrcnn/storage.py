"""File operations through ``tf.io.gfile``, so a local folder, a Cloud Storage bucket
(``gs://...``, on Colab, Kaggle and Vertex AI) and TensorFlow's in-memory ``ram://`` file system
are read and written alike.

Paths are plain strings here. A path with a scheme (``gs://bucket/run``) must not go through
``pathlib``, which folds its ``//`` into one slash: :func:`join` keeps it. Local paths may be
``pathlib.Path`` objects on the way in, and go through ``os`` / ``pathlib`` (same behaviour,
and no TensorFlow import for local data); a URL imports TensorFlow on first use.
"""

from __future__ import annotations

import glob as _glob
import os
import posixpath
import shutil
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "as_path",
    "copy",
    "exists",
    "files_under",
    "glob",
    "is_dir",
    "is_file",
    "is_url",
    "join",
    "makedirs",
    "name",
    "open_file",
    "parent",
    "read_blocks",
    "read_bytes",
    "read_text",
    "remove",
    "replace",
    "write_text",
]

PathLike = str | Path


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


def is_url(path: PathLike) -> bool:
    """True for a path with a scheme (``gs://``, ``ram://``, ``s3://`` ...)."""
    return "://" in str(path)


def as_path(path: PathLike) -> PathLike:
    """A local path as a ``pathlib.Path``; a URL stays a string."""
    return str(path) if is_url(path) else Path(path)


def join(base: PathLike, *names: str) -> str:
    """``base/name/...`` as a string; ``gs://bucket`` keeps its double slash."""
    return (posixpath.join if is_url(base) else os.path.join)(str(base), *names)


def name(path: PathLike) -> str:
    """The last component of ``path`` (``gs://b/run/x.json`` -> ``x.json``)."""
    return posixpath.basename(str(path).rstrip("/")) if is_url(path) else Path(path).name


def parent(path: PathLike) -> str:
    """The folder holding ``path`` (``"."`` for a bare local file name)."""
    if is_url(path):
        return posixpath.dirname(str(path).rstrip("/"))
    return os.path.dirname(str(path)) or "."


def exists(path: PathLike) -> bool:
    return _gfile().exists(str(path)) if is_url(path) else os.path.exists(path)


def is_dir(path: PathLike) -> bool:
    return _gfile().isdir(str(path)) if is_url(path) else os.path.isdir(path)


def is_file(path: PathLike) -> bool:
    """True when ``path`` exists and is not a folder."""
    return exists(path) and not is_dir(path)


def makedirs(path: PathLike) -> str:
    """Create ``path`` and its parents (no error when it exists); return it as a string."""
    if is_url(path):
        _gfile().makedirs(str(path))
    else:
        os.makedirs(path, exist_ok=True)
    return str(path)


def glob(folder: PathLike, pattern: str) -> list[str]:
    """Sorted paths in ``folder`` whose name matches ``pattern`` (``*``, ``?``, ``[...]``)."""
    if is_url(folder):
        return sorted(_gfile().glob(join(folder, pattern)))
    return sorted(_glob.glob(join(_glob.escape(str(folder)), pattern)))


def files_under(folder: PathLike) -> list[str]:
    """Every file below ``folder`` (subfolders included) as a ``/``-separated path relative to
    it, sorted; [] when ``folder`` is not a folder. A URL is listed one folder at a time with
    :func:`glob` (``tf.io.gfile.walk`` on ``ram://`` also lists ``x/training.csv`` as
    ``x/train/ing.csv`` beside a folder ``x/train``)."""
    if not is_dir(folder):
        return []
    found = []
    if not is_url(folder):
        for here, _, files in os.walk(folder):
            rel = os.path.relpath(here, folder).replace(os.sep, "/")
            found += [f if rel == "." else f"{rel}/{f}" for f in files]
        return sorted(found)
    pending = [""]
    while pending:
        rel = pending.pop()
        for path in glob(join(folder, rel) if rel else folder, "*"):
            sub = f"{rel}/{name(path)}" if rel else name(path)
            (pending if is_dir(path) else found).append(sub)
    return sorted(found)


def copy(src: PathLike, dst: PathLike) -> None:
    """Copy the file ``src`` to ``dst``, replacing it (either may be a URL; ``dst``'s folder must
    exist). Not atomic: copy to a temporary name and :func:`replace` for that."""
    if is_url(dst) and exists(dst):  # ram:// appends to an existing file, even when overwriting
        remove(dst)
    if is_url(src) or is_url(dst):
        _gfile().copy(str(src), str(dst), overwrite=True)
    else:
        shutil.copyfile(src, dst)


def remove(path: PathLike) -> None:
    if is_url(path):
        _gfile().remove(str(path))
    else:
        os.remove(path)


def replace(src: PathLike, dst: PathLike) -> None:
    """Rename ``src`` to ``dst``, replacing ``dst``: atomic on a local disk (``os.replace``);
    a copy and a delete on object stores such as Cloud Storage."""
    if is_url(src) or is_url(dst):
        _gfile().rename(str(src), str(dst), overwrite=True)
    else:
        os.replace(src, dst)


def open_file(path: PathLike, mode: str = "r"):
    """A file object for ``path`` (``tf.io.gfile.GFile`` for a URL); ``mode`` as for ``open``
    (text modes are UTF-8)."""
    if is_url(path):
        return _gfile().GFile(str(path), mode)
    return open(path, mode, encoding=None if "b" in mode else "utf-8")


def read_text(path: PathLike) -> str:
    with open_file(path, "r") as f:
        return f.read()


def read_bytes(path: PathLike) -> bytes:
    """The whole file, read through one open."""
    with open_file(path, "rb") as f:
        return f.read()


def write_text(path: PathLike, text: str) -> None:
    with open_file(path, "w") as f:
        f.write(text)


def read_blocks(path: PathLike, size: int = 1 << 20) -> Iterator[bytes]:
    """The bytes of ``path`` in blocks of ``size`` (for checksums of large files)."""
    with open_file(path, "rb") as f:
        while block := f.read(size):
            yield block
