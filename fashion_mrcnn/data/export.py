"""Records -> files: a COCO instances JSON (:func:`write_coco`) or an iMaterialist Kaggle CSV
(:func:`records_to_kaggle_csv`, columns and ``ClassId`` grammar of :mod:`.formats.kaggle_csv`);
the readers are :mod:`.coco` and :mod:`.imaterialist`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from fashion_mrcnn.data.formats import coco_rle, rle
from fashion_mrcnn.data.formats.kaggle_csv import (
    LAYOUTS,
    format_attribute_ids,
    format_class_id,
    gt_columns,
)
from fashion_mrcnn.data.records import instance_mask
from fashion_mrcnn.errors import FashionDataError

__all__ = ["records_to_kaggle_csv", "write_coco"]


def _coco_rle_of(inst: dict, height: int, width: int) -> dict | None:
    """Compressed COCO RLE (counts as bytes) of an instance; None for box-only instances."""
    from pycocotools import mask as mask_utils

    seg = inst["segmentation"]
    kind, data = seg["kind"], seg["data"]
    where = inst.get("origin", "instance")
    if kind == "box":
        return None
    if kind == "kaggle_rle":
        return coco_rle.to_coco_rle(data, height, width, context=where)
    if kind == "coco_rle" and isinstance(data.get("counts"), str | bytes):
        if [int(v) for v in data["size"]] != [height, width]:
            raise FashionDataError(f"{where}: COCO RLE size {data['size']} != {height}x{width}")
        counts = data["counts"]
        return {
            "size": [height, width],
            "counts": counts.encode() if isinstance(counts, str) else counts,
        }
    mask = instance_mask(inst, height, width)
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))


def write_coco(records: list[dict], categories: list[dict], path: str | Path) -> Path:
    """Write records as a COCO instances JSON (image ids 1..N, annotation ids 1..M).

    Masks are written as compressed RLE (``counts`` str) except polygons, which stay polygons;
    box-only instances get ``bbox`` and no ``segmentation``. ``bbox`` is ``[x, y, w, h]`` and
    ``area`` the mask pixel count (box area for box-only). ``attribute_ids`` and ``iscrowd`` are
    kept. The image ``file_name`` is the record's ``image_id``.
    """
    from pycocotools import mask as mask_utils

    images, annotations = [], []
    for img_id, rec in enumerate(records, start=1):
        h, w = int(rec["height"]), int(rec["width"])
        images.append({"id": img_id, "file_name": rec["image_id"], "height": h, "width": w})
        for inst in rec["instances"]:
            ann = {
                "id": len(annotations) + 1,
                "image_id": img_id,
                "category_id": int(inst["category_id"]),
                "iscrowd": int(bool(inst.get("iscrowd", False))),
                "attribute_ids": [int(a) for a in inst.get("attribute_ids", [])],
            }
            coded = _coco_rle_of(inst, h, w)
            if coded is None:
                y1, x1, y2, x2 = (float(v) for v in inst["segmentation"]["data"])
                ann["bbox"] = [x1, y1, x2 - x1, y2 - y1]
                ann["area"] = (x2 - x1) * (y2 - y1)
            else:
                ann["bbox"] = [float(v) for v in mask_utils.toBbox(coded)]
                ann["area"] = int(mask_utils.area(coded))
                if inst["segmentation"]["kind"] == "polygon":
                    ann["segmentation"] = inst["segmentation"]["data"]
                else:
                    ann["segmentation"] = {
                        "size": [h, w],
                        "counts": coded["counts"].decode("ascii"),
                    }
            annotations.append(ann)
    out = {
        "info": {"description": "written by fashion_mrcnn.data.export.write_coco"},
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": int(c["id"]), "name": c["name"], "supercategory": c.get("supercategory", "")}
            for c in categories
        ],
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        json.dump(out, f)
    return path


def _kaggle_rle_of(inst: dict, height: int, width: int) -> str:
    seg = inst["segmentation"]
    if seg["kind"] == "kaggle_rle":
        return str(seg["data"]).strip()
    if seg["kind"] == "coco_rle":
        return coco_rle.from_coco(seg["data"], context=inst.get("origin"))
    return rle.encode(instance_mask(inst, height, width))


def records_to_kaggle_csv(
    records: list[dict], path: str | Path, layout: int = 2019, *, lineterminator: str = "\r\n"
) -> Path:
    """Write records as an iMaterialist ``train.csv`` (one row per instance).

    ``layout=2019``: ``ImageId,EncodedPixels,Height,Width,ClassId`` with attributes appended to
    ClassId (``"10_1_2"``, in the record's order); ``layout=2020`` adds ``AttributesIds``
    (``"1,2"``). Every segmentation kind is converted to Kaggle RLE (a box-only instance becomes
    its filled box; the crowd flag has no column and is not written). ``lineterminator``: the
    ``csv`` module's, CRLF by default (the synthetic set writes LF).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be 2019 or 2020, got {layout!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator=lineterminator)
        writer.writerow(gt_columns(layout))
        for rec in records:
            h, w = int(rec["height"]), int(rec["width"])
            for inst in rec["instances"]:
                attrs = [int(a) for a in inst.get("attribute_ids", [])]
                cat = int(inst["category_id"])
                row = [rec["image_id"], _kaggle_rle_of(inst, h, w), h, w]
                if layout == 2019:
                    row.append(format_class_id(cat, attrs))
                else:
                    row += [cat, format_attribute_ids(attrs)]
                writer.writerow(row)
    return path
