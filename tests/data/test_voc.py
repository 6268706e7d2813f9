"""Tests for fashion_mrcnn.data.voc: LabelImg XML -> records / CSV / split."""

import csv
import re

import numpy as np
import pytest
from PIL import Image

from fashion_mrcnn.data import voc
from fashion_mrcnn.errors import FashionDataError, SkipReport
from tests.voc_files import voc_xml as _xml
from tests.voc_files import write_text as _write


def test_read_voc_records_and_coordinates(voc_dir):
    xml_dir, img_dir = voc_dir
    records, categories, report = voc.read_voc(xml_dir, img_dir)
    assert len(report) == 0
    assert [c["name"] for c in categories] == ["bag", "shirt", "shoe"]
    assert [c["id"] for c in categories] == [0, 1, 2]
    a = records[0]
    assert a["image_id"] == "a.jpg" and a["source"] == "voc"
    assert (a["height"], a["width"]) == (30, 40)
    assert a["path"] == str((img_dir / "a.jpg").resolve())
    boxes = [inst["segmentation"]["data"] for inst in a["instances"]]
    assert boxes == [[0, 0, 30, 40], [20, 10, 30, 20]]  # 1-based inclusive -> 0-based exclusive
    assert all(
        inst["box_only"] and inst["segmentation"]["kind"] == "box" for inst in a["instances"]
    )
    assert [inst["category_id"] for inst in a["instances"]] == [1, 2]
    assert a["instances"][1]["origin"] == "a.xml object 1"
    assert records[2]["instances"][0]["segmentation"]["data"] == [2, 1, 13, 12]  # float text ok
    # class_names fixes the ids
    records, categories, _ = voc.read_voc(
        xml_dir, img_dir, class_names=["shoe", "shirt", "bag", "hat"]
    )
    assert [c["name"] for c in categories] == ["shoe", "shirt", "bag", "hat"]
    assert [i["category_id"] for i in records[0]["instances"]] == [1, 0]


def test_images_found_beside_xml(tmp_path):
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "x.jpg")
    _write(tmp_path, "x.xml", _xml("x.jpg", 10, 10, [("hat", 1, 1, 5, 5)]))
    records, _, _ = voc.read_voc(tmp_path)
    assert records[0]["path"] == str((tmp_path / "x.jpg").resolve())


@pytest.mark.parametrize(
    "text, message",
    [
        ("<annotation><filename>a.jpg</filename", "invalid XML"),
        (_xml("a.jpg", 40, 30, [("shirt", 1, 1, 5, 5)], size=False), "missing <size>"),
        (_xml("a.jpg", 40, 30, [("shirt", 1, 1, 5, 5), ("shirt", 1, 1, 41, 5)]),
         "object 1.*outside"),
        (_xml("a.jpg", 40, 30, [("shirt", 7, 1, 7, 5)]), "object 0.*xmin < xmax"),
        (_xml("a.jpg", 40, 30, [("shirt", 1, 9, 5, 3)]), "object 0.*empty box"),
        (_xml("a.jpg", 40, 30, [("hat", 1, 1, 5, 5)]), "object 0.*unknown class 'hat'"),
        (_xml("missing.jpg", 40, 30, [("shirt", 1, 1, 5, 5)]), "missing.jpg not found"),
        ("<?xml version='1.0'?><!DOCTYPE a [<!ENTITY e 'boom'>]><annotation>&e;</annotation>",
         "invalid XML"),
    ],
)  # fmt: skip
def test_bad_files_raise_naming_file_and_object(voc_dir, text, message):
    xml_dir, img_dir = voc_dir
    _write(xml_dir, "zz_bad.xml", text)
    with pytest.raises(FashionDataError, match=f"zz_bad.xml.*{message}"):
        voc.read_voc(xml_dir, img_dir, class_names=["shirt", "shoe", "bag"])


def test_skip_mode_reports_and_keeps_good_objects(voc_dir):
    xml_dir, img_dir = voc_dir
    _write(xml_dir, "d.xml", _xml("a.jpg", 40, 30, [("shirt", 1, 1, 5, 5), ("shirt", 9, 1, 3, 5)]))
    _write(xml_dir, "e.xml", "not xml at all")
    _write(xml_dir, "f.xml", _xml("nope.jpg", 40, 30, [("shirt", 1, 1, 5, 5)]))
    report = SkipReport("test")
    records, _, out = voc.read_voc(xml_dir, img_dir, on_error="skip", report=report)
    assert out is report and len(report) == 3
    items = [item for item, _ in report]
    assert any(item.endswith("d.xml object 1") for item in items)
    assert any(item.endswith("e.xml") for item in items) and any(i.endswith("f.xml") for i in items)
    d = [r for r in records if r["instances"] and r["instances"][0]["origin"].startswith("d.xml")]
    assert len(d) == 1 and len(d[0]["instances"]) == 1
    assert len(records) == 4
    with pytest.raises(ValueError, match="on_error"):
        voc.read_voc(xml_dir, img_dir, on_error="ignore")


def test_skip_mode_opens_every_image_and_checks_its_size(voc_dir):
    xml_dir, img_dir = voc_dir
    Image.new("RGB", (30, 40)).save(img_dir / "b.png")  # 40x30 (HxW) where the XML says 30x40
    data = (img_dir / "c.jpg").read_bytes()
    (img_dir / "c.jpg").write_bytes(data[: len(data) // 2])
    records, _, report = voc.read_voc(xml_dir, img_dir, on_error="skip")
    assert [r["image_id"] for r in records] == ["a.jpg"]
    (b_item, b_reason), (c_item, c_reason) = report
    assert b_item == "ann image b.png" and "file is 40x30 (HxW) but the annotation says 30x40" in (
        b_reason
    )
    assert c_item == "ann image c.jpg" and re.search(
        r"c\.jpg: cannot (read|decode) image", c_reason
    )
    records, _, report = voc.read_voc(xml_dir, img_dir)  # raise mode: images not opened
    assert len(records) == 3 and len(report) == 0


def test_voc_to_csv(voc_dir, tmp_path):
    xml_dir, _ = voc_dir
    path = voc.voc_to_csv(xml_dir, tmp_path / "out" / "labels.csv")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax"]
    assert rows[1] == ["a.jpg", "40", "30", "shirt", "1", "1", "40", "30"]
    assert len(rows) == 6
    parsed = voc.read_csv_rows(path)
    assert parsed[3] == {"filename": "c.jpg", "class": "bag", "width": 40, "height": 30,
                         "xmin": 2, "ymin": 3, "xmax": 12, "ymax": 13}  # fmt: skip


def _many_images_csv(path, n=50):
    rng = np.random.default_rng(0)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(voc.CSV_COLUMNS)
        for i in range(n):
            classes = ["shirt"] * int(rng.integers(1, 3))
            if i % 5 == 0:
                classes.append("shoe")
            if i in (3, 17, 33):
                classes.append("tie")
            for c in classes:
                w.writerow([f"img{i:03d}.jpg", 40, 30, c, 1, 1, 20, 20])


def test_split_csv_by_image_and_stratified(tmp_path, capsys):
    src = tmp_path / "all.csv"
    _many_images_csv(src)
    train, test, table = voc.split_csv(src, tmp_path / "split", seed=3, return_table=True)
    tr, te = voc.read_csv_rows(train), voc.read_csv_rows(test)
    tr_imgs, te_imgs = {r["filename"] for r in tr}, {r["filename"] for r in te}
    assert not tr_imgs & te_imgs and len(tr_imgs) + len(te_imgs) == 50
    assert len(te_imgs) == 10  # 4:1
    assert len(tr) + len(te) == len(voc.read_csv_rows(src))
    for cls in ("shirt", "shoe", "tie"):
        assert any(r["class"] == cls for r in tr) and any(r["class"] == cls for r in te)
    assert "tie" in table and "test_images" in table and table in capsys.readouterr().out
    again = voc.split_csv(src, tmp_path / "again", seed=3)
    assert len(again) == 2 and again[1].read_bytes() == test.read_bytes()


def test_fashion_dataset_from_voc(voc_dir):
    from fashion_mrcnn.data.dataset import FashionDataset

    xml_dir, img_dir = voc_dir
    ds = FashionDataset.from_voc(xml_dir, img_dir)
    assert ds.class_names[1:] == ["bag", "shirt", "shoe"]
    inst = ds.load_instances(0)
    assert inst["box_only"].all() and inst["masks"].shape == (30, 40, 2)
    assert inst["masks"][..., 1].sum() == 10 * 10  # xmin 11..20, ymin 21..30 inclusive
    assert inst["masks"][20:30, 10:20, 1].all()


def test_filename_without_suffix_and_path_fallback(tmp_path):
    ann, elsewhere = tmp_path / "ann", tmp_path / "elsewhere"
    ann.mkdir()
    elsewhere.mkdir()
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(ann / "noext.png")
    _write(ann, "noext.xml", _xml("noext", 10, 10, [("hat", 1, 1, 5, 5)]))
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(elsewhere / "far.jpg")
    text = _xml("far.jpg", 10, 10, []).replace("/nowhere/far.jpg", str(elsewhere / "far.jpg"))
    _write(ann, "far.xml", text)
    records, _, _ = voc.read_voc(ann)
    assert [r["image_id"] for r in records] == ["far.jpg", "noext.png"]
    assert records[0]["path"] == str((elsewhere / "far.jpg").resolve())
    assert records[0]["instances"] == []
