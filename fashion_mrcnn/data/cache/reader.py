"""Reading a shard cache: ``read_cache`` (``tf.data``) and ``CachedDataset`` (numpy, Matterport
``Dataset`` API) (layout: :mod:`fashion_mrcnn.data.cache`)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from fashion_mrcnn.data.cache.layout import MANIFEST, example_spec, load_verified
from fashion_mrcnn.data.dataset import Dataset
from fashion_mrcnn.data.formats import tfrecord as tfr
from fashion_mrcnn.data.formats.rle import decode_rles_np, decode_rles_tf
from fashion_mrcnn.errors import FashionDataError

__all__ = ["CachedDataset", "read_cache"]


def read_cache(cache_dir: str | Path, verify: bool = True):
    """A ``tf.data.Dataset`` over the cache, one dict per image.

    Keys: ``image`` uint8 [S, S, 3]; ``masks`` bool [S, S, N]; ``class_ids`` int32 [N];
    ``category_ids`` int32 [N]; ``box_only`` bool [N]; ``image_id`` string; ``window`` int32 [4];
    ``scale`` float32; ``original_shape`` int32 [2]. Order: shard order, images in pack order.
    """
    tf = tfr.tf_module()
    cache_dir = Path(cache_dir)
    manifest = load_verified(cache_dir, verify)
    files = [str(cache_dir / s["file"]) for s in manifest["shards"]]
    spec = example_spec()

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
    scale, original_shape); ``load_attributes(i)`` -> (class ids, attribute id lists). Class names and ids are those of the packed dataset. Shards are read
    on first use and kept in memory.
    """

    def __init__(self, cache_dir: str | Path, verify: bool = True) -> None:
        super().__init__()
        self.cache_dir = Path(cache_dir)
        manifest = load_verified(self.cache_dir, verify)
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
            self._shards[s] = list(tfr.read_examples(path, example_spec()))
        return self._shards[s][info["offset"]]

    def load_image(self, image_id: int) -> np.ndarray:
        from PIL import Image

        ex = self._example(image_id)
        return np.asarray(Image.open(io.BytesIO(ex["image/encoded"])).convert("RGB"))

    def load_attributes(self, image_id: int) -> tuple[list[int], list[list[int]]]:
        """``(internal class ids [N] (crowds positive), attribute id lists [N])`` of one image,
        without decoding its masks (``data.attributes`` scans a training set with it)."""
        ex = self._example(image_id)
        counts = ex["instances/attribute_count"].astype(int)
        flat = ex["instances/attribute_ids"].astype(int).tolist()
        bounds = np.concatenate([[0], np.cumsum(counts)]).astype(int)
        attrs = [flat[bounds[k] : bounds[k + 1]] for k in range(len(counts))]
        return [abs(int(c)) for c in ex["instances/class_id"]], attrs

    def load_instances(self, image_id: int) -> dict:
        ex = self._example(image_id)
        h, w = int(ex["image/height"]), int(ex["image/width"])
        class_ids = ex["instances/class_id"].astype(np.int32)
        _, attrs = self.load_attributes(image_id)
        return {
            "masks": decode_rles_np(list(ex["instances/rle"]), h, w),
            "class_ids": class_ids,
            "box_only": ex["instances/box_only"].astype(bool),
            "iscrowd": class_ids < 0,
            "attribute_ids": attrs,
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
