"""Reading a shard cache: ``read_cache`` (``tf.data``) and ``CachedDataset`` (numpy, Matterport
``Dataset`` API) (layout: :mod:`fashion_mrcnn.data.cache`)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from fashion_mrcnn import storage
from fashion_mrcnn.data.cache.layout import (
    MANIFEST,
    example_spec,
    load_complete,
    load_verified,
    read_verified_shard,
)
from fashion_mrcnn.data.dataset import FashionDataset
from fashion_mrcnn.data.formats import tfrecord as tfr
from fashion_mrcnn.data.formats.rle import decode_rles_tf
from fashion_mrcnn.errors import FashionDataError

__all__ = ["CachedDataset", "read_cache"]


def read_cache(cache_dir: str | Path, verify: bool = True):
    """A ``tf.data.Dataset`` over the cache, one dict per image.

    Keys: ``image`` uint8 [S, S, 3]; ``masks`` bool [S, S, N]; ``class_ids`` int32 [N];
    ``category_ids`` int32 [N]; ``box_only`` bool [N]; ``image_id`` string; ``window`` int32 [4];
    ``scale`` float32; ``original_shape`` int32 [2]. Order: shard order, images in pack order.
    """
    tf = tfr.tf_module()
    manifest = load_verified(cache_dir, verify)
    files = [storage.join(cache_dir, s["file"]) for s in manifest["shards"]]
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


class CachedDataset(FashionDataset):
    """A ``FashionDataset`` over a shard cache: the CLI, the notebooks and the training pipeline
    take it wherever they take data on disk (``data.paths.open_path`` opens a cache folder as
    one), so subsets, splits, sampling and class counts work as for the source data.

    Its records describe the cached images (``height`` / ``width`` = the cache's ``image_size``,
    masks as Kaggle RLE at that size, ``path`` = the shard file); the JPEG bytes of every image
    are held in memory from the start. Each shard is read once: with ``verify`` its bytes are
    checked against the manifest's sha256 and parsed from memory
    (``layout.read_verified_shard``, the same error naming the shard as ``verify_cache``);
    without, TensorFlow's TFRecord reader streams it (checking each record's CRC).

    ``load_image(i)`` -> uint8 [S, S, 3]; ``load_mask(i)`` -> (bool [S, S, N], int32 [N]);
    ``load_instances(i)`` -> ``FashionDataset.load_instances`` plus ``window``, ``scale`` and
    ``original_shape`` (cached image -> source image, ``ops.transform.restore_boxes``).
    Categories, class names and attribute names are those of the packed dataset. ``images_verified``: every
    shard's checksum was checked when it was opened (``verify``).
    """

    def __init__(self, cache_dir: str | Path, verify: bool = True) -> None:
        cache_dir = str(cache_dir)
        manifest = load_complete(cache_dir) if verify else load_verified(cache_dir, False)
        names = manifest["class_names"][1:]
        categories = [dict(c) for c in manifest.get("categories", [])]
        by_class_id = len(categories) != len(names)  # packed from a set without categories:
        if by_class_id:  # its internal class ids serve as category ids
            categories = [{"id": k, "name": n} for k, n in enumerate(names, start=1)]
        source = manifest.get("source") or "cache"
        records, examples = [], {}
        spec = example_spec()
        for shard in manifest["shards"]:
            path = storage.join(cache_dir, shard["file"])
            if verify:  # one read: hashed, then parsed from memory
                raws = tfr.split_records(read_verified_shard(cache_dir, shard), path)
                found = (tfr.parse_example(raw, spec) for raw in raws)
            else:
                found = tfr.read_examples(path, spec)
            for j, ex in enumerate(found):
                records.append(_record(ex, path, j, source, by_class_id))
                examples[records[-1]["image_id"]] = ex
        self._setup(cache_dir, manifest, examples, records, categories, source)
        self.images_verified = verify  # every shard's checksum matched its manifest

    images_verified = False

    def _setup(self, cache_dir, manifest, examples, records, categories, source) -> None:
        self.cache_dir, self.manifest, self._examples = cache_dir, manifest, examples
        # a cache packed before attribute names were kept has none: ids only
        attributes = manifest.get("attributes", [])
        super().__init__(records, categories, source=source, attributes=attributes)
        if self.class_names != manifest["class_names"]:
            raise FashionDataError(
                f"{storage.join(cache_dir, MANIFEST)}: categories do not match class_names; repack"
            )

    def subset(self, image_indices) -> CachedDataset:
        """A ``CachedDataset`` over the records of ``image_indices`` (the images stay shared)."""
        out = object.__new__(type(self))
        out.images_verified = self.images_verified
        out._setup(
            self.cache_dir,
            self.manifest,
            self._examples,
            [self.record(int(i)) for i in image_indices],
            self.categories,
            self.source,
        )
        return out

    def keep_categories(self, keep) -> CachedDataset:
        """A ``CachedDataset`` with only the instances and categories of source ids ``keep``."""
        wanted = {int(c) for c in keep}
        kept = [k for k, c in enumerate(self.categories) if int(c["id"]) in wanted]
        records = [
            {**r, "instances": [i for i in r["instances"] if int(i["category_id"]) in wanted]}
            for r in self.records
        ]
        out = object.__new__(type(self))
        out.images_verified = self.images_verified
        names = ["BG"] + [self.class_names[k + 1] for k in kept]
        out._setup(
            self.cache_dir,
            {**self.manifest, "class_names": names},
            self._examples,
            records,
            [self.categories[k] for k in kept],
            self.source,
        )
        return out

    def _example(self, i: int) -> dict:
        return self._examples[self.record(i)["image_id"]]

    def load_image(self, image_id: int) -> np.ndarray:
        from PIL import Image

        ex = self._example(image_id)
        return np.asarray(Image.open(io.BytesIO(ex["image/encoded"])).convert("RGB"))

    def load_instances(self, image_id: int) -> dict:
        ex = self._example(image_id)
        return {
            **super().load_instances(image_id),
            "window": tuple(int(v) for v in ex["image/window"]),
            "scale": float(ex["image/scale"]),
            "original_shape": (int(ex["image/original_height"]), int(ex["image/original_width"])),
        }

    def image_reference(self, image_id: int) -> str:
        rec = self.record(image_id)
        return f"{rec['path']} (cached image {rec['image_id']}, record {rec['record']})"


def _record(ex: dict, shard_path: str, offset: int, source: str, by_class_id: bool) -> dict:
    """The record of one cached Example (``records`` layout, docs/DESIGN.md); with
    ``by_class_id`` the instances' category ids are their internal class ids."""
    image_id = ex["image/id"].decode()
    class_ids = ex["instances/class_id"].astype(int)
    categories = np.abs(class_ids) if by_class_id else ex["instances/category_id"]
    counts = ex["instances/attribute_count"].astype(int)
    flat = ex["instances/attribute_ids"].astype(int).tolist()
    bounds = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    where = f"{shard_path} record {offset}"
    instances = [
        {
            "category_id": int(category),
            "segmentation": {"kind": "kaggle_rle", "data": code.decode()},
            "attribute_ids": flat[bounds[k] : bounds[k + 1]],
            "box_only": bool(box_only),
            "iscrowd": bool(class_ids[k] < 0),
            "origin": f"{where}, instance {k}",
        }
        for k, (category, code, box_only) in enumerate(
            zip(
                categories,
                ex["instances/rle"],
                ex["instances/box_only"],
                strict=True,
            )
        )
    ]
    size = ex["image/height"], ex["image/width"]
    return {"image_id": image_id, "path": shard_path, "height": int(size[0]),
            "width": int(size[1]), "source": source, "instances": instances,
            "record": offset}  # fmt: skip
