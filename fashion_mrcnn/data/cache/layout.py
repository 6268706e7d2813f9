"""The shard cache's on-disk layout: manifest, shard names, the Example spec, checksums.

Every file operation goes through :mod:`fashion_mrcnn.storage` (``tf.io.gfile``), so a cache
folder may be local, ``gs://...`` or ``ram://...``; folders are strings or local ``Path``s."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fashion_mrcnn import storage
from fashion_mrcnn.data.formats.tfrecord import tf_module
from fashion_mrcnn.errors import FashionDataError

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def sha256(path: str | Path) -> str:
    """Hex sha256 of a file (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    for block in storage.read_blocks(path):
        h.update(block)
    return h.hexdigest()


def shard_name(index: int, total: int) -> str:
    """``shard-<index:05d>-of-<total:05d>.tfrecord``."""
    return f"shard-{index:05d}-of-{total:05d}.tfrecord"


def load_manifest(out_dir: str | Path) -> dict | None:
    """The cache folder's manifest, or None when it has none; invalid JSON raises
    FashionDataError naming the file."""
    path = storage.join(out_dir, MANIFEST)
    if not storage.is_file(path):
        return None
    try:
        return json.loads(storage.read_text(path))
    except json.JSONDecodeError as exc:
        raise FashionDataError(f"{path}: invalid manifest JSON ({exc})") from exc


def write_manifest(out_dir: str | Path, manifest: dict) -> str | Path:
    """Write the manifest through a temporary file and a rename (atomic on a local disk);
    return its path (``storage.as_path``)."""
    path = storage.join(out_dir, MANIFEST)
    tmp = path + ".tmp"
    storage.write_text(tmp, json.dumps(manifest, indent=1) + "\n")
    storage.replace(tmp, path)
    return storage.as_path(path)


def load_complete(cache_dir: str | Path) -> dict:
    """The manifest of a complete cache (its shards not checked).

    Raises:
        FashionDataError: naming the folder (no manifest) or the manifest (incomplete).
    """
    manifest = load_manifest(cache_dir)
    if manifest is None:
        raise FashionDataError(f"{cache_dir}: no {MANIFEST}; not a shard cache")
    if not manifest.get("complete"):
        raise FashionDataError(
            f"{storage.join(cache_dir, MANIFEST)}: cache is incomplete ({len(manifest['shards'])} shards "
            "written); run pack_dataset again to resume"
        )
    return manifest


def verify_cache(cache_dir: str | Path) -> dict:
    """Check that the cache is complete and every shard's sha256 matches; return the manifest.
    Each shard is read in blocks (:func:`sha256`), never held whole.

    Raises:
        FashionDataError: naming the manifest or the bad shard (missing, checksum mismatch).
    """
    manifest = load_complete(cache_dir)
    for shard in manifest["shards"]:
        path = _existing_shard(cache_dir, shard)
        _check_digest(path, sha256(path), shard)
    return manifest


def read_verified_shard(cache_dir: str | Path, shard: dict) -> bytes:
    """The bytes of one shard (``shard``: its manifest entry), read once and checked against
    the manifest's sha256: the shard's only read when it is both verified and parsed
    (``reader.CachedDataset``). The whole shard is held in memory while its caller parses it.

    Raises:
        FashionDataError: naming the shard (missing, checksum mismatch), as :func:`verify_cache`.
    """
    path = _existing_shard(cache_dir, shard)
    data = storage.read_bytes(path)
    _check_digest(path, hashlib.sha256(data).hexdigest(), shard)
    return data


def _existing_shard(cache_dir: str | Path, shard: dict) -> str:
    """The path of the manifest entry ``shard``; FashionDataError naming it when it is missing."""
    path = storage.join(cache_dir, shard["file"])
    if not storage.is_file(path):
        raise FashionDataError(f"{path}: shard file missing")
    return path


def _check_digest(path: str, found: str, shard: dict) -> None:
    """FashionDataError naming ``path`` when ``found`` (its hex sha256) is not the manifest
    entry ``shard``'s."""
    if found != shard["sha256"]:
        raise FashionDataError(
            f"{path}: checksum mismatch (sha256 {found[:12]}..., manifest says "
            f"{shard['sha256'][:12]}...): the shard is corrupt; repack it"
        )


def load_verified(cache_dir: str | Path, verify: bool) -> dict:
    """The manifest of a cache (every checksum checked first when ``verify``); FashionDataError
    when there is none."""
    manifest = verify_cache(cache_dir) if verify else load_manifest(cache_dir)
    if manifest is None:
        raise FashionDataError(f"{cache_dir}: no {MANIFEST}; not a shard cache")
    return manifest


def example_spec():
    """The ``tf.io.parse_single_example`` spec of a cached Example (see the package docstring)."""
    tf = tf_module()
    fixed = {
        "image/encoded": tf.string, "image/id": tf.string, "image/path": tf.string,
        "image/height": tf.int64, "image/width": tf.int64, "image/original_height": tf.int64,
        "image/original_width": tf.int64, "image/scale": tf.float32,
    }  # fmt: skip
    spec = {k: tf.io.FixedLenFeature([], t) for k, t in fixed.items()}
    spec["image/window"] = tf.io.FixedLenFeature([4], tf.int64)
    for key, t in (("rle", tf.string), ("class_id", tf.int64), ("category_id", tf.int64),
                   ("box_only", tf.int64), ("attribute_ids", tf.int64),
                   ("attribute_count", tf.int64)):  # fmt: skip
        spec[f"instances/{key}"] = tf.io.VarLenFeature(t)
    return spec
