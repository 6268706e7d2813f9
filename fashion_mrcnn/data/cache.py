"""A resumable, checksummed shard cache of a resized dataset (for Colab and other slow disks).

``pack_dataset`` resizes every image of a dataset once (aspect kept, long side = ``image_size``,
zero-padded and centred to ``image_size x image_size``: ``ops.image.resize_image`` "square" with
``min_dim = max_dim = image_size``) and writes TFRecord shards ``shard-00000-of-000NN.tfrecord``
plus ``manifest.json``. Each Example holds one image:

==============================  ===========================================================
``image/encoded``               JPEG bytes of the resized, padded image (uint8 RGB)
``image/id``, ``image/path``    the source image id and path
``image/height``, ``/width``    the cached size (``image_size``)
``image/original_height/width`` the source size
``image/scale``, ``image/window``  resize scale; window ``(y1, x1, y2, x2)`` of the image inside
                                the padded one (original px = (cached px - (y1, x1)) / scale)
``instances/rle``               Kaggle RLE of each mask at the cached size (column-major)
``instances/class_id``          internal class ids (1..K; negative = crowd)
``instances/category_id``       source category ids
``instances/box_only``          1 when only a box is known
``instances/attribute_ids``     all attribute ids, concatenated; ``instances/attribute_count``
                                says how many belong to each instance
==============================  ===========================================================

Instances whose mask is empty after resizing are left out (counted in the manifest).

Resuming: shards are written to ``<name>.tmp`` and renamed when complete; the manifest is
rewritten after each shard with its sha256. ``pack_dataset(..., resume=True)`` keeps every
listed shard whose checksum still matches and writes the rest. ``verify_cache`` re-checks every
checksum. ``read_cache`` gives a ``tf.data.Dataset``; ``CachedDataset`` a Matterport-style dataset
(numpy path: PIL + ``rle.decode``), for the training pipeline. ``restore_boxes`` /
``restore_masks`` map results on cached images back to the original image size.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from pathlib import Path

import numpy as np

from fashion_mrcnn.data import rle
from fashion_mrcnn.data import tfrecord as tfr
from fashion_mrcnn.data.dataset import Dataset
from fashion_mrcnn.errors import FashionDataError

__all__ = [
    "CachedDataset",
    "decode_rles_np",
    "decode_rles_tf",
    "pack_dataset",
    "read_cache",
    "resize_instances",
    "restore_boxes",
    "restore_masks",
    "verify_cache",
]

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _shard_name(index: int, total: int) -> str:
    return f"shard-{index:05d}-of-{total:05d}.tfrecord"


def resize_instances(image: np.ndarray, masks: np.ndarray, image_size: int):
    """Resize an image and its masks the way the cache stores them.

    Args:
        image: uint8 [H, W, 3]. masks: bool [H, W, N]. image_size: side S of the result.

    Returns:
        ``(image uint8 [S, S, 3], masks bool [S, S, N], window (y1, x1, y2, x2), scale)``.
    """
    from fashion_mrcnn.ops.image import resize_image, resize_mask

    resized, window, scale, padding, _ = resize_image(
        image, min_dim=image_size, max_dim=image_size, mode="square"
    )
    return resized, resize_mask(masks, scale, padding), tuple(int(v) for v in window), float(scale)


def restore_boxes(boxes: np.ndarray, window, scale: float, original_shape) -> np.ndarray:
    """Map boxes from the cached image back to the original image.

    Args:
        boxes: [N, (y1, x1, y2, x2)] pixels of the cached image (y2 / x2 exclusive).
        window: ``(y1, x1, y2, x2)`` of the image inside the cached one. scale: resize scale.
        original_shape: ``(H, W)`` of the original image.

    Returns:
        float64 [N, (y1, x1, y2, x2)] original-image pixels, clipped to the image.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    shift = np.array([window[0], window[1], window[0], window[1]], dtype=np.float64)
    out = (boxes - shift) / float(scale)
    h, w = original_shape[:2]
    return np.clip(out, 0, [h, w, h, w])


def restore_masks(masks: np.ndarray, window, original_shape) -> np.ndarray:
    """Map masks from the cached image back to the original size.

    Args:
        masks: bool [S, S, N] on the cached image. window: ``(y1, x1, y2, x2)`` of the image
            inside it. original_shape: ``(H, W)``.

    Returns:
        bool [H, W, N]: the window cropped out and resized (nearest neighbour) to ``(H, W)``.
    """
    import cv2

    y1, x1, y2, x2 = (int(v) for v in window)
    crop = np.asarray(masks)[y1:y2, x1:x2].astype(np.uint8)
    h, w = (int(v) for v in original_shape[:2])
    out = np.zeros((h, w, crop.shape[-1]), dtype=bool)
    for k in range(0, crop.shape[-1], 64):  # OpenCV 5 resizes at most 128 channels at once
        chunk = np.ascontiguousarray(crop[..., k : k + 64])
        resized = cv2.resize(chunk, (w, h), interpolation=cv2.INTER_NEAREST)
        out[..., k : k + 64] = resized.reshape(h, w, -1) > 0
    return out


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


def _load_manifest(out_dir: Path) -> dict | None:
    path = out_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise FashionDataError(f"{path}: invalid manifest JSON ({exc})") from exc


def _write_manifest(out_dir: Path, manifest: dict) -> Path:
    path = out_dir / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, path)
    return path


def pack_dataset(
    dataset,
    out_dir: str | Path,
    image_size: int,
    shard_size: int = 500,
    resume: bool = True,
    jpeg_quality: int = 95,
    max_shards: int | None = None,
    progress: bool = False,
) -> Path:
    """Pack a prepared dataset into resized TFRecord shards; return the manifest path.

    Args:
        dataset: a prepared ``Dataset`` / ``FashionDataset`` (``image_ids``, ``image_info``,
            ``class_names``, ``load_image``, ``load_instances`` or ``load_mask``).
        out_dir: the cache folder (created).
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
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
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
        "source": str(getattr(dataset, "source", "")),
        "complete": False,
        "shards": [],
    }
    old = _load_manifest(out_dir) if resume else None
    if old is not None:
        mismatched = [k for k, v in settings.items() if old.get(k) != v]
        if mismatched or old.get("class_names") != manifest["class_names"]:
            raise FashionDataError(
                f"{out_dir / MANIFEST}: cache was packed with different "
                f"{mismatched or ['class_names']}; use resume=False or another folder"
            )
    kept = {}
    for shard in (old or {}).get("shards", []):
        path = out_dir / shard["file"]
        if path.is_file() and _sha256(path) == shard["sha256"]:
            kept[shard["index"]] = shard
    for stale in out_dir.glob("shard-*.tmp"):
        stale.unlink()
    if not resume:  # a fresh pack: old shards (maybe of another shard count) must not linger
        for old_shard in out_dir.glob("shard-*-of-*.tfrecord"):
            old_shard.unlink()
    written = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(ids), desc=f"packing {out_dir.name}")
    for s in range(total):
        lo, hi = s * shard_size, min(len(ids), (s + 1) * shard_size)
        name = _shard_name(s, total)
        prev = kept.get(s)
        if prev is not None and prev["file"] == name and prev["image_ids"] == image_names[lo:hi]:
            manifest["shards"].append(prev)
            if bar is not None:
                bar.update(hi - lo)
            continue
        if prev is not None:
            raise FashionDataError(
                f"{out_dir / name}: shard holds other images than the dataset's {lo}..{hi - 1}; "
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

        tmp = out_dir / (name + ".tmp")
        tfr.write_examples(tmp, examples())
        os.replace(tmp, out_dir / name)
        manifest["shards"].append({"index": s, "file": name, "sha256": _sha256(out_dir / name),
                                   "num_images": hi - lo, "image_ids": image_names[lo:hi],
                                   "empty_instances_dropped": dropped})  # fmt: skip
        written += 1
        _write_manifest(out_dir, manifest)
    if bar is not None:
        bar.close()
    manifest["complete"] = len(manifest["shards"]) == total
    return _write_manifest(out_dir, manifest)


def verify_cache(cache_dir: str | Path) -> dict:
    """Check that the cache is complete and every shard's sha256 matches; return the manifest.

    Raises:
        FashionDataError: naming the manifest or the bad shard (missing, checksum mismatch).
    """
    cache_dir = Path(cache_dir)
    manifest = _load_manifest(cache_dir)
    if manifest is None:
        raise FashionDataError(f"{cache_dir}: no {MANIFEST}; not a shard cache")
    if not manifest.get("complete"):
        raise FashionDataError(
            f"{cache_dir / MANIFEST}: cache is incomplete ({len(manifest['shards'])} shards "
            "written); run pack_dataset again to resume"
        )
    for shard in manifest["shards"]:
        path = cache_dir / shard["file"]
        if not path.is_file():
            raise FashionDataError(f"{path}: shard file missing")
        digest = _sha256(path)
        if digest != shard["sha256"]:
            raise FashionDataError(
                f"{path}: checksum mismatch (sha256 {digest[:12]}..., manifest says "
                f"{shard['sha256'][:12]}...): the shard is corrupt; repack it"
            )
    return manifest


def _spec():
    tf = tfr._tf()
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


def decode_rles_np(rles, height: int, width: int) -> np.ndarray:
    """Numpy reference: Kaggle RLE strings [N] -> bool [H, W, N] (via ``rle.decode``)."""
    masks = np.zeros((height, width, len(rles)), dtype=bool)
    for k, text in enumerate(rles):
        masks[..., k] = rle.decode(
            text.decode() if isinstance(text, bytes) else text, height, width
        )
    return masks


def decode_rles_tf(rles, height, width):
    """TensorFlow twin of :func:`decode_rles_np`: string [N] -> bool [H, W, N].

    Each run adds +1 at its first pixel and -1 one past its end in a flat column-major buffer;
    a cumulative sum gives the mask. Assumes valid encodings (as written by ``pack_dataset``).
    """
    import tensorflow as tf  # plain import: this runs inside tf.data tracing

    rles = tf.convert_to_tensor(rles, tf.string)
    height = tf.cast(height, tf.int64)
    width = tf.cast(width, tf.int64)
    n = tf.shape(rles, out_type=tf.int64)[0]
    size = height * width
    nums = tf.strings.to_number(tf.strings.split(rles), out_type=tf.int64)  # ragged [N, 2R]
    values = nums.flat_values
    rows = nums.value_rowids()
    local = tf.range(tf.size(values, out_type=tf.int64)) - tf.gather(nums.row_starts(), rows)
    is_start = tf.equal(local % 2, 0)
    starts = tf.boolean_mask(values, is_start) - 1
    ends = starts + tf.boolean_mask(values, tf.logical_not(is_start))
    run_rows = tf.boolean_mask(rows, is_start)
    idx = tf.concat([tf.stack([run_rows, starts], 1), tf.stack([run_rows, ends], 1)], 0)
    delta = tf.concat([tf.ones_like(starts, tf.int32), -tf.ones_like(ends, tf.int32)], 0)
    flat = tf.scatter_nd(idx, delta, tf.stack([n, size + 1]))
    flat = tf.cumsum(flat, axis=1)[:, :size] > 0  # [N, W*H] column-major
    return tf.transpose(tf.reshape(flat, tf.stack([n, width, height])), [2, 1, 0])


def read_cache(cache_dir: str | Path, verify: bool = True):
    """A ``tf.data.Dataset`` over the cache, one dict per image.

    Keys: ``image`` uint8 [S, S, 3]; ``masks`` bool [S, S, N]; ``class_ids`` int32 [N];
    ``category_ids`` int32 [N]; ``box_only`` bool [N]; ``image_id`` string; ``window`` int32 [4];
    ``scale`` float32; ``original_shape`` int32 [2]. Order: shard order, images in pack order.
    """
    tf = tfr._tf()
    cache_dir = Path(cache_dir)
    manifest = verify_cache(cache_dir) if verify else _load_manifest(cache_dir)
    if manifest is None:
        raise FashionDataError(f"{cache_dir}: no {MANIFEST}; not a shard cache")
    files = [str(cache_dir / s["file"]) for s in manifest["shards"]]
    spec = _spec()

    def parse(raw):
        ex = tf.io.parse_single_example(raw, spec)
        rles = tf.sparse.to_dense(ex["instances/rle"], default_value="")
        h, w = ex["image/height"], ex["image/width"]
        image = tf.io.decode_jpeg(ex["image/encoded"], channels=3, dct_method="INTEGER_ACCURATE")
        image = tf.ensure_shape(image, [None, None, 3])
        return {
            "image": image,
            "masks": decode_rles_tf(rles, h, w),
            "class_ids": tf.cast(tf.sparse.to_dense(ex["instances/class_id"]), tf.int32),
            "category_ids": tf.cast(tf.sparse.to_dense(ex["instances/category_id"]), tf.int32),
            "box_only": tf.sparse.to_dense(ex["instances/box_only"]) > 0,
            "image_id": ex["image/id"],
            "window": tf.cast(ex["image/window"], tf.int32),
            "scale": ex["image/scale"],
            "original_shape": tf.cast(
                tf.stack([ex["image/original_height"], ex["image/original_width"]]), tf.int32
            ),
        }

    return tf.data.TFRecordDataset(files).map(parse)


class CachedDataset(Dataset):
    """A prepared Matterport-style dataset reading a shard cache (numpy path, no tf.data).

    ``load_image(i)`` -> uint8 [S, S, 3]; ``load_mask(i)`` -> (bool [S, S, N], int32 [N]);
    ``load_instances(i)`` -> dict(masks, class_ids, box_only, iscrowd, attribute_ids, window,
    scale, original_shape). Class names and ids are those of the packed dataset. Shards are read
    on first use and kept in memory.
    """

    def __init__(self, cache_dir: str | Path, verify: bool = True) -> None:
        super().__init__()
        self.cache_dir = Path(cache_dir)
        manifest = verify_cache(self.cache_dir) if verify else _load_manifest(self.cache_dir)
        if manifest is None:
            raise FashionDataError(f"{self.cache_dir}: no {MANIFEST}; not a shard cache")
        self.manifest = manifest
        self.categories = manifest.get("categories", [])
        self.source = manifest.get("source") or "cache"
        names = manifest["class_names"][1:]
        if len(self.categories) == len(names):  # source ids and full names of the packed set
            classes = [(int(c["id"]), str(c["name"])) for c in self.categories]
        else:
            classes = list(enumerate(names, start=1))
        for cid, name in classes:
            self.add_class(self.source, cid, name)
        self._shards: dict[int, list[dict]] = {}
        for s, shard in enumerate(manifest["shards"]):
            for j, image_id in enumerate(shard["image_ids"]):
                path = self.cache_dir / shard["file"]
                self.add_image(self.source, image_id, str(path), shard=s, offset=j)
        self.prepare()
        if self.class_names != manifest["class_names"]:
            raise FashionDataError(
                f"{self.cache_dir / MANIFEST}: categories do not match class_names; repack"
            )

    def _example(self, i: int) -> dict:
        info = self.image_info[i]
        s = info["shard"]
        if s not in self._shards:
            path = self.cache_dir / self.manifest["shards"][s]["file"]
            self._shards[s] = list(tfr.read_examples(path, _spec()))
        return self._shards[s][info["offset"]]

    def load_image(self, image_id: int) -> np.ndarray:
        from PIL import Image

        ex = self._example(image_id)
        return np.asarray(Image.open(io.BytesIO(ex["image/encoded"])).convert("RGB"))

    def load_instances(self, image_id: int) -> dict:
        ex = self._example(image_id)
        h, w = int(ex["image/height"]), int(ex["image/width"])
        class_ids = ex["instances/class_id"].astype(np.int32)
        counts = ex["instances/attribute_count"].astype(int)
        flat = ex["instances/attribute_ids"].astype(int).tolist()
        bounds = np.concatenate([[0], np.cumsum(counts)]).astype(int)
        return {
            "masks": decode_rles_np(list(ex["instances/rle"]), h, w),
            "class_ids": class_ids,
            "box_only": ex["instances/box_only"].astype(bool),
            "iscrowd": class_ids < 0,
            "attribute_ids": [flat[bounds[k] : bounds[k + 1]] for k in range(len(counts))],
            "window": tuple(int(v) for v in ex["image/window"]),
            "scale": float(ex["image/scale"]),
            "original_shape": (int(ex["image/original_height"]), int(ex["image/original_width"])),
        }

    def load_mask(self, image_id: int) -> tuple[np.ndarray, np.ndarray]:
        out = self.load_instances(image_id)
        return out["masks"], out["class_ids"]

    def image_reference(self, image_id: int) -> str:
        info = self.image_info[image_id]
        shard = self.manifest["shards"][info["shard"]]["file"]
        return f"{self.cache_dir / shard} (cached image {info['id']}, record {info['offset']})"
