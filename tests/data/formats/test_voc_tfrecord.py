"""Tests for fashion_mrcnn.data.formats.voc_tfrecord: the TF OD API export and its label map."""

import numpy as np
import pytest

from fashion_mrcnn.data import voc
from fashion_mrcnn.data.formats import voc_tfrecord as vt
from fashion_mrcnn.errors import FashionDataError


def test_label_map_round_trip(tmp_path):
    path = vt.write_label_map(["shirt", "shoe"], tmp_path / "label_map.pbtxt")
    assert path.read_text().startswith("item {\n  id: 1\n  name: 'shirt'\n}\n")
    assert vt.read_label_map(path) == {"shirt": 1, "shoe": 2}
    vt.write_label_map({"b": 2, "a": 5}, path)
    assert vt.read_label_map(path) == {"b": 2, "a": 5}
    (tmp_path / "empty.pbtxt").write_text("nothing")
    with pytest.raises(FashionDataError, match="no label map items"):
        vt.read_label_map(tmp_path / "empty.pbtxt")


def test_tfrecord_round_trip(voc_dir, tmp_path):
    xml_dir, img_dir = voc_dir
    csv_path = voc.voc_to_csv(xml_dir, tmp_path / "labels.csv")
    names = vt.write_tfrecord(csv_path, img_dir, tmp_path / "train.record")
    assert names == ["bag", "shirt", "shoe"]
    examples = vt.read_tfrecord(tmp_path / "train.record")
    assert [e["filename"] for e in examples] == ["a.jpg", "b.png", "c.jpg"]
    a, b = examples[0], examples[1]
    assert (a["height"], a["width"], a["format"], b["format"]) == (30, 40, "jpeg", "png")
    assert a["encoded"] == (img_dir / "a.jpg").read_bytes() and a["source_id"] == "a.jpg"
    np.testing.assert_allclose(
        a["boxes"], [[0, 0, 1, 1], [20 / 30, 10 / 40, 1, 20 / 40]], atol=1e-6
    )
    assert a["class_text"] == ["shirt", "shoe"] and a["class_label"].tolist() == [2, 3]
    # records and TFRecord agree on the box convention
    records, _, _ = voc.read_voc(xml_dir, img_dir)
    for rec, ex in zip(records, examples):
        px = np.array([i["segmentation"]["data"] for i in rec["instances"]], np.float64)
        np.testing.assert_allclose(ex["boxes"] * [30, 40, 30, 40], px, atol=1e-4)
    # explicit label map; a class outside it is an error naming the CSV
    vt.write_tfrecord(
        csv_path, img_dir, tmp_path / "b.record", label_map={"shirt": 1, "shoe": 2, "bag": 7}
    )
    assert vt.read_tfrecord(tmp_path / "b.record")[2]["class_label"].tolist() == [7, 1]
    with pytest.raises(FashionDataError, match="labels.csv.*not in the label map"):
        vt.write_tfrecord(csv_path, img_dir, tmp_path / "c.record", label_map=["shirt"])
    with pytest.raises(FashionDataError, match="b.png not found"):
        (img_dir / "b.png").unlink()
        vt.write_tfrecord(csv_path, img_dir, tmp_path / "d.record")
