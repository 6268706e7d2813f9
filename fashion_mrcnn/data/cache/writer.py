"""``pack_dataset``: write a prepared dataset into resized, checksummed TFRecord shards,
resuming from the shards a previous run completed (layout: :mod:`fashion_mrcnn.data.cache`).
``resize_instances``: the cache's resize rule (the mapping itself, both ways, is
:mod:`fashion_mrcnn.ops.transform`'s)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from fashion_mrcnn import storage
from fashion_mrcnn.data.cache.layout import (
    FORMAT_VERSION,
    MANIFEST,
    load_manifest,
    sha256,
    shard_name,
    write_manifest,
)
from fashion_mrcnn.data.formats import rle
from fashion_mrcnn.data.formats import tfrecord as tfr
from fashion_mrcnn.errors import FashionDataError
from fashion_mrcnn.ops.transform import resize_image_and_masks

__all__ = ["pack_dataset", "resize_instances"]


def resize_instances(image: np.ndarray, masks: np.ndarray, image_size: int):
    """Resize an image and its masks the way the cache stores them: aspect kept, long side
    ``image_size``, zero-padded and centred (``ops.transform.resize_image_and_masks``, mode
    "square" with ``min_dim = max_dim = image_size``).

    Args:
        image: uint8 [H, W, 3]. masks: bool [H, W, N]. image_size: side S of the result.

    Returns:
        ``(image uint8 [S, S, 3], masks bool [S, S, N], window (y1, x1, y2, x2), scale)``.
    """
    return resize_image_and_masks(
        image, masks, min_dim=image_size, max_dim=image_size, mode="square"
    )


def _jpeg(image: np.ndarray, quality: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality, subsampling=0)
    return buf.getvalue()


def _instances(dataset, i: int) -> dict:
    if hasattr(dataset, "load_instances"):
        return dataset.load_instances(i)
    masks, class_ids = dataset.load_mask(i)
    n = len(class_ids)
    return {"masks": masks, "class_ids": class_ids, "box_only": np.zeros(n, bool),
            "attribute_ids": [[] for _ in range(n)]}  # fmt: skip


def _example(dataset, i: int, image_size: int, quality: int) -> tuple[bytes, int]:
    """Serialised Example for dataset image ``i`` and the number of instances left out."""
    info = dataset.image_info[i]
    image = dataset.load_image(i)
    inst = _instances(dataset, i)
    image_r, masks_r, window, scale = resize_instances(image, inst["masks"], image_size)
    keep = np.flatnonzero(masks_r.any(axis=(0, 1))) if masks_r.shape[-1] else np.zeros(0, int)
    class_ids = np.asarray(inst["class_ids"], dtype=np.int64)
    if hasattr(dataset, "get_source_class_id"):
        category_ids = [dataset.get_source_class_id(abs(int(c)), info["source"]) for c in class_ids]
    else:
        category_ids = [abs(int(c)) for c in class_ids]
    attrs = [list(inst.get("attribute_ids", [[]] * len(class_ids))[k]) for k in keep]
    example = tfr.make_example({
        "image/encoded": tfr.bytes_feature(_jpeg(image_r, quality)),
        "image/id": tfr.bytes_feature(str(info["id"])),
        "image/path": tfr.bytes_feature(str(info.get("path", ""))),
        "image/height": tfr.int64_feature(image_r.shape[0]),
        "image/width": tfr.int64_feature(image_r.shape[1]),
        "image/original_height": tfr.int64_feature(image.shape[0]),
        "image/original_width": tfr.int64_feature(image.shape[1]),
        "image/scale": tfr.float_list_feature([scale]),
        "image/window": tfr.int64_list_feature(window),
        "instances/rle": tfr.bytes_list_feature([rle.encode(masks_r[..., k]) for k in keep]),
        "instances/class_id": tfr.int64_list_feature(class_ids[keep]),
        "instances/category_id": tfr.int64_list_feature([int(category_ids[k]) for k in keep]),
        "instances/box_only": tfr.int64_list_feature(np.asarray(inst["box_only"], bool)[keep]),
        "instances/attribute_ids": tfr.int64_list_feature([a for row in attrs for a in row]),
        "instances/attribute_count": tfr.int64_list_feature([len(row) for row in attrs]),
    })  # fmt: skip
    return example, len(class_ids) - len(keep)


def pack_dataset(
    dataset,
    out_dir: str | Path,
    image_size: int,
    shard_size: int = 500,
    resume: bool = True,
    jpeg_quality: int = 95,
    max_shards: int | None = None,
    progress: bool = False,
) -> str | Path:
    """Pack a prepared dataset into resized TFRecord shards; return the manifest path (a
    ``Path`` for a local folder, else a string).

    Args:
        dataset: a prepared ``Dataset`` / ``FashionDataset`` (``image_ids``, ``image_info``,
            ``class_names``, ``load_image``, ``load_instances`` or ``load_mask``).
        out_dir: the cache folder (created): local, ``gs://...`` or any ``tf.io.gfile`` path.
        image_size: side of the cached square images (long side scaled to it, then padded).
        shard_size: images per shard.
        resume: keep shards already listed in a compatible manifest whose sha256 matches;
            ``False`` deletes the folder's ``shard-*-of-*.tfrecord`` files and rewrites all.
        jpeg_quality: JPEG quality of the cached images (4:4:4 chroma).
        max_shards: stop after writing this many new shards (the manifest then says
            ``"complete": false``; a later call resumes). ``None``: write all.
        progress: show a tqdm bar.

    Raises:
        FashionDataError: when ``resume`` finds a manifest from a different dataset or settings.
    """
    if image_size < 8 or shard_size < 1:
        raise ValueError(
            f"need image_size >= 8 and shard_size >= 1, got {image_size}, {shard_size}"
        )
    out_dir = storage.makedirs(out_dir)
    ids = [int(i) for i in dataset.image_ids]
    image_names = [str(dataset.image_info[i]["id"]) for i in ids]
    total = max(1, math.ceil(len(ids) / shard_size))
    settings = {"format_version": FORMAT_VERSION, "image_size": int(image_size),
                "shard_size": int(shard_size), "jpeg_quality": int(jpeg_quality),
                "resize_mode": "square", "num_images": len(ids)}  # fmt: skip
    manifest = {
        **settings,
        "class_names": list(dataset.class_names),
        "categories": [dict(c) for c in getattr(dataset, "categories", [])],
        "attributes": [dict(a) for a in getattr(dataset, "attributes", [])],  # names by id
        "source": str(getattr(dataset, "source", "")),
        "complete": False,
        "shards": [],
    }
    old = load_manifest(out_dir) if resume else None
    if old is not None:
        mismatched = [k for k, v in settings.items() if old.get(k) != v]
        if mismatched or old.get("class_names") != manifest["class_names"]:
            raise FashionDataError(
                f"{storage.join(out_dir, MANIFEST)}: cache was packed with different "
                f"{mismatched or ['class_names']}; use resume=False or another folder"
            )
    kept = {}
    for shard in (old or {}).get("shards", []):
        path = storage.join(out_dir, shard["file"])
        if storage.is_file(path) and sha256(path) == shard["sha256"]:
            kept[shard["index"]] = shard
    for stale in storage.glob(out_dir, "shard-*.tmp"):
        storage.remove(stale)
    if not resume:  # a fresh pack: old shards (maybe of another shard count) must not linger
        for old_shard in storage.glob(out_dir, "shard-*-of-*.tfrecord"):
            storage.remove(old_shard)
    written = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(ids), desc=f"packing {storage.name(out_dir)}")
    for s in range(total):
        lo, hi = s * shard_size, min(len(ids), (s + 1) * shard_size)
        name = shard_name(s, total)
        prev = kept.get(s)
        if prev is not None and prev["file"] == name and prev["image_ids"] == image_names[lo:hi]:
            manifest["shards"].append(prev)
            if bar is not None:
                bar.update(hi - lo)
            continue
        if prev is not None:
            raise FashionDataError(
                f"{storage.join(out_dir, name)}: shard holds other images than the dataset's {lo}..{hi - 1}; "
                "use resume=False"
            )
        if max_shards is not None and written >= max_shards:
            continue  # later shards that are already valid are still recorded
        dropped = 0

        def examples(lo=lo, hi=hi):
            nonlocal dropped
            for i in ids[lo:hi]:
                example, n_dropped = _example(dataset, i, image_size, jpeg_quality)
                dropped += n_dropped
                if bar is not None:
                    bar.update(1)
                yield example

        tmp = storage.join(out_dir, name + ".tmp")
        tfr.write_examples(tmp, examples())
        storage.replace(tmp, storage.join(out_dir, name))
        manifest["shards"].append({"index": s, "file": name,
                                   "sha256": sha256(storage.join(out_dir, name)),
                                   "num_images": hi - lo, "image_ids": image_names[lo:hi],
                                   "empty_instances_dropped": dropped})  # fmt: skip
        written += 1
        write_manifest(out_dir, manifest)
    if bar is not None:
        bar.close()
    manifest["complete"] = len(manifest["shards"]) == total
    return write_manifest(out_dir, manifest)
