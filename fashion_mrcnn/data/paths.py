"""Where things sit beside a dataset on disk: image folders and ``splits.json`` files."""

from __future__ import annotations

import json
from pathlib import Path

from fashion_mrcnn import storage
from fashion_mrcnn.data.formats.json_file import read_json_file
from fashion_mrcnn.data.splits import SPLITS_NAME
from fashion_mrcnn.errors import FashionDataError

__all__ = [
    "apply_splits",
    "find_splits",
    "images_dir_for",
    "open_path",
    "read_splits",
]


def images_dir_for(root: str | Path) -> Path:
    """The image folder of a dataset rooted at ``root``: ``train/`` or ``images/`` there (or one
    level up, as for ``coco/instances.json`` beside ``images/``), else ``root`` itself."""
    root = Path(root)
    for base in (root, root.parent):
        for name in ("train", "images"):
            if (base / name).is_dir():
                return base / name
    return root


def find_splits(path: str | Path) -> Path | str | None:
    """``splits.json`` beside ``path`` (a data directory or file) or one level up; else None.
    A URL (a shard cache on ``gs://``) is a folder: its own ``splits.json`` only."""
    if storage.is_url(path):
        candidate = storage.join(path, SPLITS_NAME)
        return candidate if storage.is_file(candidate) else None
    path = Path(path)
    base = path if path.is_dir() else path.parent
    for candidate in (base / SPLITS_NAME, base.parent / SPLITS_NAME):
        if candidate.is_file():
            return candidate
    return None


def read_splits(split_path: str | Path) -> dict[str, list[str]]:
    """``{split name: [image ids]}`` from a ``splits.json``; errors name the file."""
    if storage.is_url(split_path):
        try:
            splits = json.loads(storage.read_text(split_path))
        except json.JSONDecodeError as exc:
            raise FashionDataError(f"{split_path}: invalid JSON ({exc})") from exc
    else:
        split_path = Path(split_path)
        splits = read_json_file(split_path, SPLITS_NAME)
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


def _label_descriptions_near(csv_path: Path) -> Path | None:
    for base in (csv_path.parent, csv_path.parent.parent):
        if (base / "label_descriptions.json").is_file():
            return base / "label_descriptions.json"
    return None


def open_path(
    path: str | Path,
    categories=None,
    on_error: str = "raise",
    report_path=None,
    images_dir=None,
    check_images: bool = True,
):
    """A prepared ``FashionDataset`` for data on disk, whatever its layout.

    ``path`` is an iMaterialist directory (``train.csv`` + ``label_descriptions.json`` +
    ``train/`` or ``images/``), an iMaterialist CSV (labels beside it or one level up), a COCO /
    Fashionpedia JSON or a directory holding exactly one, or a folder of LabelImg VOC XML files.
    Images are looked for with :func:`images_dir_for` unless ``images_dir`` is given.
    ``categories`` keeps only those source category ids (iMaterialist, COCO and caches).
    A folder holding a shard cache's ``manifest.json`` (``fashion-mrcnn cache``; local or a
    ``tf.io.gfile`` URL such as ``gs://bucket/cache``) opens as a ``CachedDataset``, its
    checksums verified first.
    """
    from fashion_mrcnn.data.dataset import FashionDataset

    cache = _shard_cache(path)
    if cache is not None:
        return cache if categories is None else cache.keep_categories(categories)
    if storage.is_url(path):
        raise FashionDataError(
            f"{path}: from a URL only a shard cache can be read (pack one with "
            "`fashion-mrcnn cache DATA --out URL`); copy other data to a local disk"
        )
    path = Path(path)
    if not path.exists():
        raise FashionDataError(f"{path}: no such file or directory")
    keep = None if categories is None else [int(c) for c in categories]
    kwargs = {"on_error": on_error, "report_path": report_path}
    if path.is_dir():
        if (path / "train.csv").is_file():
            path = path / "train.csv"
        elif any(path.glob("*.xml")):
            return FashionDataset.from_voc(path, images_dir or path, **kwargs)
        else:
            skip = ("label_descriptions.json", "splits.json")
            jsons = [p for p in sorted(path.glob("*.json")) if p.name not in skip]
            if len(jsons) != 1:
                raise FashionDataError(
                    f"{path}: no train.csv, no VOC XML and not exactly one COCO JSON; "
                    "pass the CSV or JSON file"
                )
            path = jsons[0]
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return FashionDataset.from_imaterialist(
            path,
            _label_descriptions_near(path),
            images_dir or images_dir_for(path.parent),
            categories=keep,
            check_images=check_images,
            **kwargs,
        )
    if suffix == ".json":
        return FashionDataset.from_coco(
            path,
            images_dir or images_dir_for(path.parent),
            categories=keep,
            check_images=check_images,
            **kwargs,
        )
    raise FashionDataError(f"{path}: expected a directory, a .csv or a .json file")


def _shard_cache(path: str | Path):
    """A ``CachedDataset`` when ``path`` is a shard cache folder, else None."""
    from fashion_mrcnn.data.cache.layout import MANIFEST, load_manifest

    if not storage.is_file(storage.join(path, MANIFEST)):
        return None
    manifest = load_manifest(path)
    if not isinstance(manifest, dict) or "shards" not in manifest:
        return None  # another tool's manifest.json: not ours to read
    from fashion_mrcnn.data.cache.reader import CachedDataset

    return CachedDataset(path)
