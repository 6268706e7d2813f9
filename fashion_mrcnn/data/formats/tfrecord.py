"""Generic TFRecord helpers: ``tf.train.Example`` feature builders, ``write_examples`` /
``read_examples``; ``split_records`` / ``parse_example`` for a file's bytes already in memory.

Used by the shard cache (:mod:`fashion_mrcnn.data.cache`) and the TF Object Detection API export
(:mod:`fashion_mrcnn.data.formats.voc_tfrecord`). TensorFlow is imported lazily (inside the
functions, :func:`tf_module`), so importing this module is cheap.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

from fashion_mrcnn import storage
from fashion_mrcnn.errors import FashionDataError

__all__ = [
    "bytes_feature",
    "bytes_list_feature",
    "float_list_feature",
    "int64_feature",
    "int64_list_feature",
    "make_example",
    "parse_example",
    "read_examples",
    "split_records",
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
        :func:`parse_example`'s dicts, in file order.
    """
    tf = tf_module()
    for raw in tf.data.TFRecordDataset(str(path)):
        yield parse_example(raw, spec)


def parse_example(raw, spec: dict) -> dict:
    """One serialised Example (bytes or a string tensor) -> ``{key: numpy value}`` for ``spec``
    (as in :func:`read_examples`); VarLen features come back as dense 1-D numpy arrays, bytes
    as ``bytes``."""
    tf = tf_module()
    out = {}
    for key, value in tf.io.parse_single_example(raw, spec).items():
        if isinstance(value, tf.sparse.SparseTensor):
            value = tf.sparse.to_dense(value)
        out[key] = value.numpy()
    return out


#: a record's frame: uint64 little-endian length, then the masked CRC-32C of the length (4
#: bytes); after the record, the masked CRC-32C of its data (4 bytes)
_HEADER = 12
_FOOTER = 4


def split_records(data: bytes, where: str) -> Iterator[bytes]:
    """The records of an uncompressed TFRecord file's bytes, in file order.

    data: the whole file, already read (for a file whose bytes the caller checked otherwise,
    e.g. against a sha256: the frames' CRC-32C are not recomputed here, TensorFlow's reader
    checks them); where: the file's name for errors. FashionDataError naming ``where`` and the
    record when a frame runs past the end (a truncated or garbled file).
    """
    pos, k = 0, 0
    view = memoryview(data)
    while pos < len(data):
        if pos + _HEADER > len(data):
            raise FashionDataError(f"{where}: record {k} is truncated (its header is cut off)")
        (length,) = struct.unpack_from("<Q", data, pos)
        end = pos + _HEADER + length + _FOOTER
        if end > len(data):
            raise FashionDataError(
                f"{where}: record {k} is truncated ({length} bytes announced, "
                f"{len(data) - pos - _HEADER} left)"
            )
        yield bytes(view[pos + _HEADER : end - _FOOTER])
        pos, k = end, k + 1
