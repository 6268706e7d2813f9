"""A resumable, checksummed shard cache of a resized dataset (for Colab and other slow disks).

The folder may be local or any ``tf.io.gfile`` path (``gs://bucket/cache`` on Colab, Kaggle and
Vertex AI): every read and write goes through :mod:`fashion_mrcnn.storage`.

``pack_dataset`` resizes every image of a dataset once (aspect kept, long side = ``image_size``,
zero-padded and centred to ``image_size x image_size``: ``ops.image.resize_image`` "square" with
``min_dim = max_dim = image_size``) and writes TFRecord shards ``shard-00000-of-000NN.tfrecord``
plus ``manifest.json`` (the settings, class names, categories, the attribute names of the
source and each shard's sha256). Each Example holds one image:

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

Modules, one job each:

- :mod:`.layout`: the manifest, shard names, the Example feature spec, checksums,
  ``verify_cache``;
- :mod:`.writer`: ``resize_instances`` (the cache's resize rule) and ``pack_dataset``. Shards
  are written to ``<name>.tmp`` and renamed when complete; the manifest is rewritten after each
  shard with its sha256, so ``pack_dataset(..., resume=True)`` keeps every listed shard whose
  checksum still matches;
- :mod:`.reader`: ``read_cache`` (a ``tf.data.Dataset``) and ``CachedDataset`` (a Matterport-style
  dataset on the numpy path, for the training pipeline).

The names below are the cache's public API, importable from ``fashion_mrcnn.data.cache``;
``restore_boxes`` / ``restore_masks`` (cached image -> original image coordinates) are
:mod:`fashion_mrcnn.ops.transform`'s.
"""

from fashion_mrcnn.data.cache.layout import verify_cache
from fashion_mrcnn.data.cache.reader import CachedDataset, read_cache
from fashion_mrcnn.data.cache.writer import pack_dataset, resize_instances
from fashion_mrcnn.ops.transform import restore_boxes, restore_masks

__all__ = [
    "CachedDataset",
    "pack_dataset",
    "read_cache",
    "resize_instances",
    "restore_boxes",
    "restore_masks",
    "verify_cache",
]
