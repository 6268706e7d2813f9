"""Generic TFRecord helpers: ``tf.train.Example`` feature builders, ``write_examples`` /
``read_examples``.

Used by the shard cache (:mod:`fashion_mrcnn.data.cache`) and the TF Object Detection API export
(:mod:`fashion_mrcnn.data.formats.voc_tfrecord`). TensorFlow is imported lazily (inside the
functions, :func:`tf_module`), so importing this module is cheap.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from fashion_mrcnn import storage

__all__ = [
    "bytes_feature",
    "bytes_list_feature",
    "float_list_feature",
    "int64_feature",
    "int64_list_feature",
    "make_example",
    "read_examples",
    "tf_module",
    "write_examples",
]


def tf_module():
    """TensorFlow, imported on first use (with its C++ log quieted unless the caller set it)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf


def _as_bytes(value) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def bytes_feature(value: bytes | str):
    """A Feature holding one bytes value (str is UTF-8 encoded)."""
    tf = tf_module()
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[_as_bytes(value)]))


def bytes_list_feature(values: Iterable[bytes | str]):
    """A Feature holding a list of bytes values (str items are UTF-8 encoded)."""
    tf = tf_module()
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[_as_bytes(v) for v in values]))


def int64_feature(value: int):
    """A Feature holding one int64."""
    tf = tf_module()
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def int64_list_feature(values: Iterable[int]):
    """A Feature holding a list of int64."""
    tf = tf_module()
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def float_list_feature(values: Iterable[float]):
    """A Feature holding a list of float32."""
    tf = tf_module()
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


def make_example(features: dict) -> bytes:
    """Serialise ``{key: Feature}`` into a ``tf.train.Example`` byte string."""
    tf = tf_module()
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def write_examples(path: str | Path, examples: Iterable[bytes]) -> int:
    """Write serialised Examples to a TFRecord file (uncompressed); return how many."""
    tf = tf_module()
    path = str(path)
    storage.makedirs(storage.parent(path))
    n = 0
    with tf.io.TFRecordWriter(path) as writer:
        for example in examples:
            writer.write(example)
            n += 1
    return n


def read_examples(path: str | Path, spec: dict) -> Iterator[dict]:
    """Parse every Example of a TFRecord file with a feature spec.

    Args:
        path: the TFRecord file.
        spec: ``{key: tf.io.FixedLenFeature | tf.io.VarLenFeature}``.

    Yields:
        ``{key: numpy value}``; VarLen features come back as dense 1-D numpy arrays, bytes as
        ``bytes``.
    """
    tf = tf_module()
    for raw in tf.data.TFRecordDataset(str(path)):
        parsed = tf.io.parse_single_example(raw, spec)
        out = {}
        for key, value in parsed.items():
            if isinstance(value, tf.sparse.SparseTensor):
                value = tf.sparse.to_dense(value)
            out[key] = value.numpy()
        yield out
