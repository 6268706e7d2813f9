"""Where things sit beside a dataset on disk: image folders and ``splits.json`` files."""

from __future__ import annotations

import json
from pathlib import Path

from fashion_mrcnn.errors import FashionDataError

__all__ = ["apply_splits", "find_splits", "images_dir_for", "read_splits"]


def images_dir_for(root: str | Path) -> Path:
    """The image folder of a dataset rooted at ``root``: ``train/`` or ``images/`` there (or one
    level up, as for ``coco/instances.json`` beside ``images/``), else ``root`` itself."""
    root = Path(root)
    for base in (root, root.parent):
        for name in ("train", "images"):
            if (base / name).is_dir():
                return base / name
    return root


def find_splits(path: str | Path) -> Path | None:
    """``splits.json`` beside ``path`` (a data directory or file) or one level up; else None."""
    path = Path(path)
    base = path if path.is_dir() else path.parent
    for candidate in (base / "splits.json", base.parent / "splits.json"):
        if candidate.is_file():
            return candidate
    return None


def read_splits(split_path: str | Path) -> dict[str, list[str]]:
    """``{split name: [image ids]}`` from a ``splits.json``; errors name the file."""
    split_path = Path(split_path)
    try:
        splits = json.loads(split_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise FashionDataError(f"{split_path}: cannot read splits ({exc})") from exc
    if not isinstance(splits, dict) or not all(isinstance(v, list) for v in splits.values()):
        raise FashionDataError(f"{split_path}: expected {{split name: [image ids]}}")
    return {str(k): [str(i) for i in v] for k, v in splits.items()}


def apply_splits(dataset, split_path: str | Path) -> dict:
    """Split a ``FashionDataset`` by a ``splits.json``: ``{split name: subset}``; images named in
    no split form ``"unassigned"``; ids in the file that the dataset lacks are ignored."""
    index = {str(info["id"]): i for i, info in enumerate(dataset.image_info)}
    out, used = {}, set()
    for name, ids in read_splits(split_path).items():
        rows = [index[i] for i in ids if i in index]
        used.update(rows)
        out[name] = dataset.subset(rows)
    rest = [i for i in range(dataset.num_images) if i not in used]
    if rest:
        out["unassigned"] = dataset.subset(rest)
    return out
