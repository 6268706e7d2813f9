"""COCO JSON files for the data tests (reader and exporters)."""

import json

import numpy as np
from pycocotools import mask as mask_utils

from fashion_mrcnn.data.records import instance_mask

H, W = 8, 6  # a.png


def write_coco_json(tmp_path, build, annotations, images=None, name="inst.json", extra=None):
    """A COCO JSON over the tiny images a.png, b.png, c.png (written by ``build``) with
    ``annotations`` and the top-level entries of ``extra`` (e.g. Fashionpedia's
    ``attributes``): (json path, images dir)."""
    build.write_images(tmp_path / "images")
    data = {
        "images": images
        if images is not None
        else [
            {"id": 1, "file_name": "a.png", "height": 8, "width": 6},
            {"id": 2, "file_name": "b.png", "height": 5, "width": 7},
            {"id": 7, "file_name": "c.png", "height": 6, "width": 6},
        ],
        "annotations": annotations,
        "categories": [{"id": i, "name": f"cat{i}", "supercategory": "s"} for i in range(1, 5)],
    }
    data.update(extra or {})
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path, tmp_path / "images"


def all_kinds(build):
    """One annotation of every kind: polygon, compressed and uncompressed RLE (a crowd), bbox only
    (without and with an empty segmentation)."""
    m = build.box_mask(H, W, 1, 1, 4, 3)
    compressed = mask_utils.encode(np.asfortranarray(m))
    uncompressed = {"size": [H, W], "counts": [9, 3, 5, 3, 28]}  # column-major runs
    return [
        {"id": 10, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 4, 1, 4, 5, 1, 5]]},
        {
            "id": 11,
            "image_id": 1,
            "category_id": 2,
            "segmentation": {"size": [H, W], "counts": compressed["counts"].decode()},
            "attribute_ids": [3, 4],
        },
        {"id": 12, "image_id": 1, "category_id": 3, "segmentation": uncompressed, "iscrowd": 1},
        {"id": 13, "image_id": 2, "category_id": 4, "bbox": [1, 2, 3, 2]},
        {"id": 14, "image_id": 2, "category_id": 4, "segmentation": [], "bbox": [0, 0, 7, 5]},
    ]


def record_masks(records):
    """``{image_id: [mask of each instance]}`` of records."""
    return {
        r["image_id"]: [instance_mask(i, r["height"], r["width"]) for i in r["instances"]]
        for r in records
    }
