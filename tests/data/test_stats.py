"""Dataset statistics: areas from encodings, per-split tables, path handling."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from fashion_mrcnn.data.dataset import FashionDataset
from fashion_mrcnn.data.formats import coco_rle, rle
from fashion_mrcnn.data.records import instance_mask
from fashion_mrcnn.data.stats import (
    AREA_QUANTILES,
    dataset_stats,
    format_stats,
    instance_area,
    stats_for_paths,
)
from fashion_mrcnn.errors import FashionDataError

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _inst(kind, data):
    return {"category_id": 0, "segmentation": {"kind": kind, "data": data}, "origin": "t"}


def test_instance_area_every_kind():
    rng = np.random.default_rng(0)
    h, w = 23, 17
    for _ in range(20):
        m = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        coco = mask_utils.encode(np.asfortranarray(m))
        text = rle.encode(m)
        counts = coco_rle.compressed_to_counts(coco["counts"].decode())
        for inst in (
            _inst("kaggle_rle", text),
            _inst("coco_rle", {"size": [h, w], "counts": coco["counts"].decode()}),
            _inst("coco_rle", {"size": [h, w], "counts": counts}),
        ):
            assert instance_area(inst, h, w) == int(m.sum())
    poly = _inst("polygon", [[1, 1, 10, 1, 10, 8, 1, 8], [12, 12, 15, 12, 15, 20]])
    assert instance_area(poly, h, w) == int(instance_mask(poly, h, w).sum())
    box = _inst("box", [2, 3, 7, 5])
    assert instance_area(box, h, w) == int(instance_mask(box, h, w).sum()) == 10


def _dataset(records_spec):
    """records_spec: list of (h, w, [masks])."""
    records = []
    for k, (h, w, masks) in enumerate(records_spec):
        insts = [
            {
                "category_id": cat,
                "attribute_ids": [],
                "segmentation": {"kind": "kaggle_rle", "data": rle.encode(m)},
                "box_only": False,
                "origin": f"img{k} inst{j}",
            }
            for j, (cat, m) in enumerate(masks)
        ]
        records.append(
            {
                "image_id": f"img{k}",
                "path": f"/nowhere/img{k}.jpg",
                "height": h,
                "width": w,
                "source": "imaterialist",
                "instances": insts,
            }
        )
    cats = [{"id": 0, "name": "shirt, blouse"}, {"id": 23, "name": "shoe"}]
    return FashionDataset.from_records(records, cats)


def test_dataset_stats_and_format():
    m1 = np.zeros((10, 10), np.uint8)
    m1[:5, :2] = 1  # 10 % of the image
    m2 = np.zeros((10, 10), np.uint8)
    m2[:, :5] = 1  # 50 %
    m3 = np.zeros((4, 5), np.uint8)
    m3[0, 0] = 1  # 5 %
    train = _dataset([(10, 10, [(0, m1), (23, m2), (23, m1)]), (4, 5, [(23, m3)]), (4, 5, [])])
    val = _dataset([(10, 10, [(23, m2)])])
    stats = dataset_stats({"train": train, "val": val})
    assert stats["splits"] == ["train", "val"] and stats["classes"] == ["shirt", "shoe"]
    tr = stats["per_split"]["train"]
    assert (tr["images"], tr["instances"], tr["images_without_instances"]) == (3, 4, 1)
    assert tr["instances_per_image"] == {"mean": 4 / 3, "median": 1.0, "max": 3}
    assert tr["class_counts"] == {"shirt": (1, 1), "shoe": (3, 2)}
    expected = np.percentile([10.0, 50.0, 10.0, 5.0], AREA_QUANTILES)
    np.testing.assert_allclose([tr["mask_area_percent"][q] for q in AREA_QUANTILES], expected)
    assert stats["per_split"]["val"]["mask_area_percent"][50] == pytest.approx(50.0)
    text = format_stats(stats)
    shoe_row = next(line for line in text.splitlines() if line.startswith("shoe"))
    assert shoe_row.split() == ["shoe", "3", "2", "1", "1"]
    assert "train inst" in text and "val imgs" in text
    train_row = [line for line in text.splitlines() if line.startswith("train")]
    assert train_row[0].split() == ["train", "3", "1", "4", "1.33", "1.0", "3"]
    assert train_row[1].split()[3] == f"{expected[2]:.2f}"


def test_empty_dataset_stats():
    stats = dataset_stats({"empty": _dataset([])})
    p = stats["per_split"]["empty"]
    assert p["images"] == 0 and np.isnan(p["mask_area_percent"][50])
    assert "empty" in format_stats(stats)


def _write_tiny(root, build, with_splits=True):
    build.write_images(root / "images")
    build.write_labels(root / "label_descriptions.json")
    build.write_csv(root / "train.csv", build.HEADER_2019, build.good_rows_2019())
    if with_splits:
        (root / "splits.json").write_text(json.dumps({"train": ["a.png"], "val": ["b.png"]}))
    return root


def test_stats_for_paths_dir_csv_json(tmp_path, build):
    root = _write_tiny(tmp_path / "imat", build)
    text = stats_for_paths(root)
    assert "splits:" in text and "unassigned" not in text
    assert next(ln for ln in text.splitlines() if ln.startswith("cat10")).split() == [
        "cat10",
        "1",
        "1",
        "0",
        "0",
    ]
    text_csv = stats_for_paths([str(root / "train.csv")])
    assert text_csv.split("\n", 1)[1] == text.split("\n", 1)[1]
    (root / "splits.json").unlink()
    text = stats_for_paths(root)
    assert "all inst" in text
    split = tmp_path / "s.json"
    split.write_text(json.dumps({"train": ["b.png"]}))
    text = stats_for_paths(root, split_file=split)
    assert "unassigned inst" in text and "train inst" in text

    from fashion_mrcnn.data.export import write_coco
    from fashion_mrcnn.data.imaterialist import read_imaterialist

    records, labels, _ = read_imaterialist(
        root / "train.csv", root / "label_descriptions.json", root / "images"
    )
    write_coco(records, labels["categories"], tmp_path / "coco" / "instances.json")
    both = stats_for_paths([root, tmp_path / "coco" / "instances.json"])
    assert "imat:all inst" in both and "instances.json:all inst" in both
    rows = [ln.split() for ln in both.splitlines() if ln.startswith("cat23")]
    assert rows == [["cat23", "1", "1", "1", "1"]]


def test_stats_show_duplicates_and_skip_mode_counts(tmp_path, build):
    root = _write_tiny(tmp_path / "imat", build, with_splits=False)
    rows = build.good_rows_2019()
    build.write_csv(root / "train.csv", build.HEADER_2019, [*rows, rows[0], rows[0]])
    text = stats_for_paths(root)
    total = next(ln for ln in text.splitlines() if ln.startswith("total")).split()
    assert total == ["total", "4", "2"]  # not 6: the two repeats of row 1 are not counted
    assert "Skipped or dropped while reading: 2 skipped" in text
    assert "train.csv row 5, image a.png: duplicate of row 1" in text

    (root / "images" / "b.png").write_bytes(b"")  # raise mode does not open images
    rows[2][1] = "1 3 2 2"  # overlapping runs: a full decode would fail
    build.write_csv(root / "train.csv", build.HEADER_2019, rows)
    with pytest.raises(FashionDataError, match="train.csv row 3, image a.png: runs overlapping"):
        stats_for_paths(root)  # the mask areas need every run: raise mode stops there
    report = tmp_path / "out" / "skipped.csv"
    text = stats_for_paths(root, on_error="skip", report_path=report)
    assert next(ln for ln in text.splitlines() if ln.startswith("total")).split()[1:] == ["1", "1"]
    assert "Skipped or dropped while reading: 2 skipped" in text and str(report) in text
    with report.open() as f:
        lines = list(csv.reader(f))
    assert lines[0] == ["item", "reason"] and len(lines) == 3
    assert lines[1][0] == "train.csv row 3, image a.png" and "runs overlapping" in lines[1][1]
    assert lines[2][0] == "train.csv image b.png" and "cannot read image" in lines[2][1]


def test_stats_for_paths_errors(tmp_path):
    with pytest.raises(FashionDataError, match="no such file"):
        stats_for_paths(tmp_path / "missing.csv")
    with pytest.raises(FashionDataError, match="no train.csv"):
        stats_for_paths(tmp_path)
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(FashionDataError, match="expected a directory"):
        stats_for_paths(tmp_path / "x.txt")
    with pytest.raises(FashionDataError, match="no data path"):
        stats_for_paths([])


def test_stats_ccp(ccp_dir):
    text = stats_for_paths(ccp_dir)
    lines: dict[str, list[str]] = {}
    for ln in text.splitlines():
        if ln.strip():
            lines.setdefault(ln.split()[0], ln.split())  # first row per name
    assert lines["train"][1:3] == ["480", "0"] and lines["val"][1] == "119"
    shoe = lines["shoe"]
    assert int(shoe[1]) + int(shoe[3]) == 1011
