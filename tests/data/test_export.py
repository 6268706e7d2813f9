"""Records written as COCO JSON and Kaggle CSV, read back (round trips)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fashion_mrcnn.data.coco import read_coco
from fashion_mrcnn.data.export import records_to_kaggle_csv, write_coco
from fashion_mrcnn.data.imaterialist import read_imaterialist
from tests.data.coco_files import all_kinds as _all_kinds
from tests.data.coco_files import record_masks
from tests.data.coco_files import write_coco_json as _coco

# pycocotools.decode trips a numpy-2 DeprecationWarning about the copy keyword.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def test_write_coco_round_trip(tmp_path, build):
    path, images = _coco(tmp_path, build, _all_kinds(build))
    records, cats, _, _ = read_coco(path, images)
    out = write_coco(records, cats, tmp_path / "out" / "again.json")
    again, cats2, _, _ = read_coco(out, images)
    assert cats2 == cats
    assert [r["image_id"] for r in again] == [r["image_id"] for r in records]
    before, after = record_masks(records), record_masks(again)
    for key in before:
        for m1, m2 in zip(before[key], after[key], strict=True):
            np.testing.assert_array_equal(m1, m2)
    for r1, r2 in zip(records, again, strict=True):
        for i1, i2 in zip(r1["instances"], r2["instances"], strict=True):
            for k in ("category_id", "attribute_ids", "box_only", "iscrowd"):
                assert i1.get(k) == i2.get(k)
    data = json.loads(out.read_text())
    ann = data["annotations"][1]
    assert ann["bbox"] == [1.0, 1.0, 2.0, 3.0] and ann["area"] == 6


@pytest.mark.parametrize("layout", [2019, 2020])
def test_kaggle_csv_round_trip(tmp_path, build, layout):
    anns = [a for a in _all_kinds(build) if "segmentation" in a and a["segmentation"]]
    path, images = _coco(tmp_path, build, anns)
    records, _, _, _ = read_coco(path, images)
    csv_path = records_to_kaggle_csv(records, tmp_path / "k" / "train.csv", layout=layout)
    labels = build.write_labels(tmp_path / "labels.json", n_categories=5)
    again, _, _ = read_imaterialist(csv_path, labels, images)
    kept = [r for r in records if r["instances"]]
    assert [r["image_id"] for r in again] == [r["image_id"] for r in kept]
    for r1, r2 in zip(kept, again, strict=True):
        assert [i["category_id"] for i in r1["instances"]] == [
            i["category_id"] for i in r2["instances"]
        ]
        assert [i["attribute_ids"] for i in r1["instances"]] == [
            i["attribute_ids"] for i in r2["instances"]
        ]
    before, after = record_masks(kept), record_masks(again)
    for key in before:
        for m1, m2 in zip(before[key], after[key], strict=True):
            np.testing.assert_array_equal(m1, m2)
    with pytest.raises(ValueError, match="layout"):
        records_to_kaggle_csv(records, tmp_path / "x.csv", layout=2021)
