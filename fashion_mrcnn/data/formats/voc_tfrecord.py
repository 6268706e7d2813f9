"""TF Object Detection API export of a VOC CSV (:func:`fashion_mrcnn.data.voc.voc_to_csv`).

- ``write_tfrecord`` / ``read_tfrecord``: the CSV and its images as TF OD API Examples;
- ``write_label_map`` / ``read_label_map``: the ``label_map.pbtxt``.

Box convention: VOC values are 1-based inclusive pixels (see :mod:`fashion_mrcnn.data.voc`);
the record holds ``xmin_norm = (xmin - 1) / width``, ``xmax_norm = xmax / width`` (likewise y).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from fashion_mrcnn.data.formats.tfrecord import (
    bytes_feature,
    bytes_list_feature,
    float_list_feature,
    int64_feature,
    int64_list_feature,
    make_example,
    read_examples,
    tf_module,
    write_examples,
)
from fashion_mrcnn.data.voc import read_csv_rows
from fashion_mrcnn.errors import FashionDataError

__all__ = ["read_label_map", "read_tfrecord", "write_label_map", "write_tfrecord"]


def write_label_map(class_names, path: str | Path) -> Path:
    """Write a TF OD API label map: ``item { id: 1 name: 'shirt' }`` per class, ids from 1.

    Args:
        class_names: names in id order (list), or ``{name: id}``.
    """
    items = (
        sorted(class_names.items(), key=lambda kv: kv[1])
        if isinstance(class_names, dict)
        else [(name, i + 1) for i, name in enumerate(class_names)]
    )
    lines = []
    for name, i in items:
        if "'" in name or "\n" in name:
            raise FashionDataError(f"class name {name!r} cannot be written to a label map")
        lines.append(f"item {{\n  id: {int(i)}\n  name: '{name}'\n}}\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return path


def read_label_map(path: str | Path) -> dict[str, int]:
    """Read a label map written by :func:`write_label_map` (or the TF OD API): ``{name: id}``."""
    text = Path(path).read_text()
    out = {}
    for k, block in enumerate(re.findall(r"item\s*\{(.*?)\}", text, flags=re.S)):
        m_id = re.search(r"\bid:\s*(\d+)", block)
        m_name = re.search(r"\bname:\s*['\"]([^'\"]*)['\"]", block)
        if not m_id or not m_name:
            raise FashionDataError(f"{path}: item {k} needs an id and a name")
        out[m_name.group(1)] = int(m_id.group(1))
    if not out:
        raise FashionDataError(f"{path}: no label map items found")
    return out


def _resolve_label_map(label_map, rows) -> dict[str, int]:
    if label_map is None:
        return {name: i + 1 for i, name in enumerate(sorted({r["class"] for r in rows}))}
    if isinstance(label_map, (str, Path)):
        return read_label_map(label_map)
    if isinstance(label_map, dict):
        return {str(k): int(v) for k, v in label_map.items()}
    return {str(name): i + 1 for i, name in enumerate(label_map)}


def write_tfrecord(csv_path, images_dir, out_path, label_map=None) -> list[str]:
    """Write a VOC CSV and its images as a TFRecord with TF Object Detection API feature keys.

    Keys: ``image/height``, ``image/width``, ``image/filename``, ``image/source_id``,
    ``image/encoded`` (the file's bytes), ``image/format`` (``jpeg`` / ``png``),
    ``image/object/bbox/{xmin,xmax,ymin,ymax}`` (floats in [0, 1]: ``(xmin - 1) / width``,
    ``xmax / width``, the same for y; VOC values are 1-based inclusive, see ``data.voc``),
    ``image/object/class/text``, ``image/object/class/label`` (1-based ids).

    Args:
        csv_path: a ``voc.voc_to_csv`` CSV. images_dir: the image folder. out_path: the record.
        label_map: class names in id order, ``{name: id}``, a ``.pbtxt`` path, or ``None`` (the
            sorted class names of the CSV).

    Returns:
        The class names in id order (id 1 first), for :func:`write_label_map`.

    Raises:
        FashionDataError: naming the CSV row / image: missing image, class not in the label map.
    """
    rows = read_csv_rows(csv_path)
    ids = _resolve_label_map(label_map, rows)
    unknown = sorted({r["class"] for r in rows} - set(ids))
    if unknown:
        raise FashionDataError(f"{csv_path}: classes {unknown} are not in the label map")
    by_image: dict[str, list[dict]] = {}
    for row in rows:
        by_image.setdefault(row["filename"], []).append(row)
    images_dir = Path(images_dir)

    def examples():
        for filename, objs in by_image.items():
            path = images_dir / filename
            if not path.is_file():
                raise FashionDataError(f"{csv_path}: image {filename} not found at {path}")
            fmt = "png" if path.suffix.lower() == ".png" else "jpeg"
            w, h = objs[0]["width"], objs[0]["height"]
            x1 = [max(o["xmin"] - 1, 0) / w for o in objs]  # 1-based inclusive -> [0, 1]
            y1 = [max(o["ymin"] - 1, 0) / h for o in objs]
            yield make_example({
                "image/height": int64_feature(h),
                "image/width": int64_feature(w),
                "image/filename": bytes_feature(filename),
                "image/source_id": bytes_feature(filename),
                "image/encoded": bytes_feature(path.read_bytes()),
                "image/format": bytes_feature(fmt),
                "image/object/bbox/xmin": float_list_feature(x1),
                "image/object/bbox/xmax": float_list_feature([o["xmax"] / w for o in objs]),
                "image/object/bbox/ymin": float_list_feature(y1),
                "image/object/bbox/ymax": float_list_feature([o["ymax"] / h for o in objs]),
                "image/object/class/text": bytes_list_feature([o["class"] for o in objs]),
                "image/object/class/label": int64_list_feature([ids[o["class"]] for o in objs]),
            })  # fmt: skip

    write_examples(out_path, examples())
    return [name for name, _ in sorted(ids.items(), key=lambda kv: kv[1])]


def read_tfrecord(path: str | Path) -> list[dict]:
    """Read a :func:`write_tfrecord` file back.

    Returns:
        One dict per image: ``height``, ``width`` (int), ``filename``, ``source_id``, ``format``
        (str), ``encoded`` (bytes), ``boxes`` float32 [N, (ymin, xmin, ymax, xmax)] normalised,
        ``class_text`` list[str], ``class_label`` int64 [N].
    """
    tf = tf_module()
    spec = {
        "image/height": tf.io.FixedLenFeature([], tf.int64),
        "image/width": tf.io.FixedLenFeature([], tf.int64),
        "image/filename": tf.io.FixedLenFeature([], tf.string),
        "image/source_id": tf.io.FixedLenFeature([], tf.string),
        "image/encoded": tf.io.FixedLenFeature([], tf.string),
        "image/format": tf.io.FixedLenFeature([], tf.string),
        "image/object/class/text": tf.io.VarLenFeature(tf.string),
        "image/object/class/label": tf.io.VarLenFeature(tf.int64),
    }
    for key in ("xmin", "xmax", "ymin", "ymax"):
        spec[f"image/object/bbox/{key}"] = tf.io.VarLenFeature(tf.float32)
    out = []
    for ex in read_examples(path, spec):
        boxes = np.stack(
            [ex[f"image/object/bbox/{k}"] for k in ("ymin", "xmin", "ymax", "xmax")], axis=1
        )
        out.append({
            "height": int(ex["image/height"]),
            "width": int(ex["image/width"]),
            "filename": ex["image/filename"].decode(),
            "source_id": ex["image/source_id"].decode(),
            "format": ex["image/format"].decode(),
            "encoded": bytes(ex["image/encoded"]),
            "boxes": boxes.astype(np.float32),
            "class_text": [t.decode() for t in ex["image/object/class/text"]],
            "class_label": ex["image/object/class/label"].astype(np.int64),
        })  # fmt: skip
    return out
