"""Builders for tiny iMaterialist / COCO datasets written into tmp_path."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashion_mrcnn.data.formats import rle

# Three small images: name -> (height, width).
TINY_IMAGES = {"a.png": (8, 6), "b.png": (5, 7), "c.png": (6, 6)}


def box_mask(h: int, w: int, y1: int, x1: int, y2: int, x2: int) -> np.ndarray:
    """uint8 [h, w] with a filled rectangle rows y1:y2, columns x1:x2."""
    m = np.zeros((h, w), np.uint8)
    m[y1:y2, x1:x2] = 1
    return m


def write_images(images_dir: Path, images: dict[str, tuple[int, int]] = TINY_IMAGES) -> Path:
    images_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, (h, w) in images.items():
        Image.fromarray(rng.integers(0, 256, (h, w, 3), np.uint8)).save(images_dir / name)
    return images_dir


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_labels(path: Path, n_categories: int = 46, attributes: list[dict] | None = None) -> Path:
    cats = [{"id": i, "name": f"cat{i}, long", "supercategory": "s"} for i in range(n_categories)]
    path.write_text(json.dumps({"info": {}, "categories": cats, "attributes": attributes or []}))
    return path


HEADER_2019 = ["ImageId", "EncodedPixels", "Height", "Width", "ClassId"]


def good_rows_2019() -> list[list]:
    """Four valid rows over images a.png (2 rows, split by b.png) and b.png; masks are boxes."""
    return [
        ["a.png", rle.encode(box_mask(8, 6, 1, 1, 4, 3)), 8, 6, "10_1_2"],
        ["b.png", rle.encode(box_mask(5, 7, 0, 0, 5, 7)), 5, 7, "3"],
        ["a.png", rle.encode(box_mask(8, 6, 5, 2, 8, 6)), 8, 6, "23"],
        ["b.png", rle.encode(box_mask(5, 7, 2, 3, 3, 4)), 5, 7, "0_5"],
    ]


@pytest.fixture
def tiny_imat(tmp_path):
    """(csv_path, labels_path, images_dir) of a valid 2019-layout dataset."""
    images = write_images(tmp_path / "images")
    labels = write_labels(tmp_path / "label_descriptions.json")
    csv_path = write_csv(tmp_path / "train.csv", HEADER_2019, good_rows_2019())
    return csv_path, labels, images


@pytest.fixture
def build():
    """The builder functions of this conftest (test modules cannot import conftest directly)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        box_mask=box_mask,
        write_images=write_images,
        write_csv=write_csv,
        write_labels=write_labels,
        good_rows_2019=good_rows_2019,
        HEADER_2019=HEADER_2019,
        TINY_IMAGES=TINY_IMAGES,
    )


@pytest.fixture
def voc_dir(tmp_path):
    """Three LabelImg files with their images (``voc_files.write_voc_dir``): (xml_dir, img_dir)."""
    from tests.voc_files import write_voc_dir

    return write_voc_dir(tmp_path)
