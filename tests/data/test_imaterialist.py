"""iMaterialist CSV indexing: layouts, grouping, every bad-input case, skip reports."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from fashion_mrcnn.data.formats import rle
from fashion_mrcnn.data.imaterialist import read_imaterialist, rle_cheap_problem
from fashion_mrcnn.data.records import instance_mask
from fashion_mrcnn.errors import FashionDataError, SkipReport

HEADER_2019 = ["ImageId", "EncodedPixels", "Height", "Width", "ClassId"]


def box_mask(h, w, y1, x1, y2, x2):
    m = np.zeros((h, w), np.uint8)
    m[y1:y2, x1:x2] = 1
    return m


def test_2019_layout_records(tiny_imat):
    csv_path, labels, images = tiny_imat
    records, descr, report = read_imaterialist(csv_path, labels, images)
    assert len(report) == 0 and len(descr["categories"]) == 46
    assert [r["image_id"] for r in records] == ["a.png", "b.png"]
    a, b = records
    assert (a["height"], a["width"], a["source"]) == (8, 6, "imaterialist")
    assert a["path"] == str(images / "a.png")
    assert [i["category_id"] for i in a["instances"]] == [10, 23]
    assert [i["attribute_ids"] for i in a["instances"]] == [[1, 2], []]
    assert [i["attribute_ids"] for i in b["instances"]] == [[], [5]]
    assert a["instances"][1]["origin"] == "train.csv row 3, image a.png"
    assert a["instances"][0]["segmentation"]["kind"] == "kaggle_rle"
    np.testing.assert_array_equal(
        instance_mask(a["instances"][1], 8, 6), box_mask(8, 6, 5, 2, 8, 6).astype(bool)
    )


def test_2020_layout_and_extensionless_ids(tmp_path, build):
    images = tmp_path / "train"
    images.mkdir()
    from PIL import Image

    Image.new("RGB", (6, 8)).save(images / "abc.jpg")
    labels = build.write_labels(tmp_path / "labels.json")
    text = rle.encode(box_mask(8, 6, 0, 0, 2, 2))
    csv_path = build.write_csv(
        tmp_path / "train.csv",
        [*HEADER_2019, "AttributesIds"],
        [["abc", text, 8, 6, "4", "1,2, 3"], ["abc", text, 8, 6, "5", ""]],
    )
    records, _, _ = read_imaterialist(csv_path, labels, images)
    (rec,) = records
    assert rec["path"] == str(images / "abc.jpg")
    assert [i["category_id"] for i in rec["instances"]] == [4, 5]
    assert [i["attribute_ids"] for i in rec["instances"]] == [[1, 2, 3], []]
    bad = build.write_csv(
        tmp_path / "bad.csv", [*HEADER_2019, "AttributesIds"], [["abc", text, 8, 6, "4_1", ""]]
    )
    with pytest.raises(FashionDataError, match="row 1, image abc: ClassId '4_1' is not a bare"):
        read_imaterialist(bad, labels, images)
    bad = build.write_csv(
        tmp_path / "bad.csv", [*HEADER_2019, "AttributesIds"], [["abc", text, 8, 6, "4", "1;2"]]
    )
    with pytest.raises(FashionDataError, match="AttributesIds '1;2' is not comma-separated"):
        read_imaterialist(bad, labels, images)


def test_attribute_drop_and_category_keep(tiny_imat):
    csv_path, labels, images = tiny_imat
    records, _, _ = read_imaterialist(csv_path, labels, images, attributes="drop")
    assert all(i["attribute_ids"] == [] for r in records for i in r["instances"])
    records, _, _ = read_imaterialist(csv_path, labels, images, categories=[10, 0])
    assert [[i["category_id"] for i in r["instances"]] for r in records] == [[10], [0]]
    with pytest.raises(FashionDataError, match=r"\[99\]"):
        read_imaterialist(csv_path, labels, images, categories=[99])
    with pytest.raises(ValueError, match="attributes"):
        read_imaterialist(csv_path, labels, images, attributes="maybe")


def test_default_label_descriptions(tiny_imat):
    csv_path, _, images = tiny_imat
    records, descr, _ = read_imaterialist(csv_path, None, images)
    assert descr["categories"][0]["name"] == "shirt, blouse"
    assert len(records) == 2


def _bad_case(tmp_path, build, row_index: int, new_row: list) -> tuple:
    rows = build.good_rows_2019()
    rows[row_index] = new_row
    images = build.write_images(tmp_path / "images")
    labels = build.write_labels(tmp_path / "labels.json", n_categories=30)
    return build.write_csv(tmp_path / "train.csv", HEADER_2019, rows), labels, images


GOOD = rle.encode(box_mask(5, 7, 0, 0, 5, 7))
BAD_ROWS = [
    (["b.png", "1 2 3", 5, 7, "3"], "row 2, image b.png: EncodedPixels has an odd number"),
    (["b.png", "1 x", 5, 7, "3"], "row 2, image b.png: EncodedPixels token 2 ('x')"),
    (["b.png", "30 10", 5, 7, "3"], "row 2, image b.png: EncodedPixels last run ends at pixel 39"),
    (["b.png", "0 3", 5, 7, "3"], "row 2, image b.png: EncodedPixels first start 0 < 1"),
    (["b.png", "", 5, 7, "3"], "row 2, image b.png: empty EncodedPixels"),
    (["b.png", GOOD, 5, 7, "33"], "row 2, image b.png: category id 33 not in label"),
    (["b.png", GOOD, 5, 7, "x_1"], "row 2, image b.png: ClassId 'x_1' is not '<category>[_<attr"),
    (["b.png", GOOD, 0, 7, "3"], "row 2, image b.png: Height '0' is not a positive integer"),
    (["b.png", GOOD, 5, "7.5", "3"], "row 2, image b.png: Width '7.5' is not a positive"),
    (["b.png", GOOD, 7, 5, "3"], "row 2, image b.png: Height/Width differ between rows"),
    (["zz.png", GOOD, 5, 7, "3"], "row 2, image zz.png: image file"),
]


@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
def test_bad_rows_raise(tmp_path, build, row, message):
    csv_path, labels, images = _bad_case(tmp_path, build, 1, row)
    with pytest.raises(FashionDataError, match=re.escape(message)) as info:
        read_imaterialist(csv_path, labels, images)
    assert str(csv_path) in str(info.value)


@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
def test_bad_rows_skip(tmp_path, build, row, message):
    csv_path, labels, images = _bad_case(tmp_path, build, 1, row)
    records, _, report = read_imaterialist(csv_path, labels, images, on_error="skip")
    assert len(report) == 1
    item, reason = next(iter(report))
    image_level = "differ" in message or "image file" in message
    if image_level:  # the whole image is dropped and reported once
        assert item == f"train.csv image {row[0]}"
        assert [r["image_id"] for r in records] == ["a.png"] + (
            ["b.png"] if row[0] != "b.png" else []
        )
    else:
        assert item == "train.csv row 2, image b.png"
        b = [r for r in records if r["image_id"] == "b.png"][0]
        assert [i["origin"] for i in b["instances"]] == ["train.csv row 4, image b.png"]
    assert sum(len(r["instances"]) for r in records) in (2, 3)


def test_skip_report_lists_every_item(tmp_path, build):
    rows = build.good_rows_2019() + [
        ["a.png", "1 2 3", 8, 6, "1"],
        ["c.png", GOOD, 6, 6, "99"],
        ["missing.png", GOOD, 5, 7, "1"],
        ["missing.png", GOOD, 5, 7, "2"],
    ]
    images = build.write_images(tmp_path / "images")
    labels = build.write_labels(tmp_path / "labels.json")
    csv_path = build.write_csv(tmp_path / "train.csv", HEADER_2019, rows)
    report = SkipReport("mine")
    records, _, out = read_imaterialist(csv_path, labels, images, on_error="skip", report=report)
    assert out is report
    items = [item for item, _ in report]
    assert items == [
        "train.csv row 5, image a.png",
        "train.csv row 6, image c.png",
        "train.csv image missing.png",
    ]
    assert [r["image_id"] for r in records] == ["a.png", "b.png"]
    path = report.write(tmp_path / "skipped.csv")
    with path.open() as f:
        lines = list(csv.reader(f))
    assert lines[0] == ["item", "reason"] and len(lines) == 4
    assert "odd number" in lines[1][1] and "category id 99" in lines[2][1]


def test_check_images_off_defers_to_load(tmp_path, build):
    csv_path, labels, images = _bad_case(
        tmp_path, build, 1, ["zz.png", rle.encode(box_mask(5, 7, 0, 0, 1, 1)), 5, 7, "3"]
    )
    records, _, report = read_imaterialist(csv_path, labels, images, check_images=False)
    assert len(report) == 0 and records[1]["path"].endswith("zz.png")


def test_file_level_errors(tmp_path, build):
    labels = build.write_labels(tmp_path / "labels.json")
    with pytest.raises(FashionDataError, match="not found"):
        read_imaterialist(tmp_path / "none.csv", labels, tmp_path)
    bad = build.write_csv(tmp_path / "x.csv", ["ImageId", "EncodedPixels"], [["a", "1 1"]])
    with pytest.raises(FashionDataError, match=r"missing column\(s\) \['Height'"):
        read_imaterialist(bad, labels, tmp_path)
    header_only = build.write_csv(tmp_path / "header.csv", HEADER_2019, [])
    for mode in ("raise", "skip"):  # an empty table is never what was meant
        with pytest.raises(FashionDataError, match=r"header\.csv: no data rows, only a header"):
            read_imaterialist(header_only, labels, tmp_path, on_error=mode)
    ok = build.write_csv(tmp_path / "ok.csv", HEADER_2019, build.good_rows_2019()[:1])
    with pytest.raises(FashionDataError, match="images directory not found"):
        read_imaterialist(ok, labels, tmp_path / "nowhere")
    with pytest.raises(ValueError, match="on_error"):
        read_imaterialist(ok, labels, tmp_path, on_error="ignore")


def test_unknown_attribute_when_names_known(tmp_path, build):
    images = build.write_images(tmp_path / "images")
    labels = build.write_labels(tmp_path / "l.json", attributes=[{"id": 1, "name": "x"}])
    csv_path = build.write_csv(
        tmp_path / "t.csv",
        HEADER_2019,
        [["a.png", "1 2", 8, 6, "1_1"], ["a.png", "1 2", 8, 6, "1_7"]],
    )
    with pytest.raises(FashionDataError, match=r"row 2, image a.png: attribute id\(s\) \[7\]"):
        read_imaterialist(csv_path, labels, images)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("1 2", None),
        ("1 2 ", None),
        ("1\t2  5 1", None),
        ("7 1", "last run ends at pixel 7"),
        ("1 2 3", "odd number"),
        ("a b", "token 1"),
        ("-1 2", "token 1"),
        ("", "empty"),
        ("   ", "empty"),
    ],
)
def test_rle_cheap_problem(text, problem):
    out = rle_cheap_problem(text, 6)
    if problem is None:
        assert out is None
    else:
        assert problem in out


def test_ccp_index(ccp_dir):
    records, descr, report = read_imaterialist(
        ccp_dir / "train.csv", ccp_dir / "label_descriptions.json", ccp_dir / "images"
    )
    assert len(records) == 599  # one of the 600 images has no instance, so no CSV row
    assert sum(len(r["instances"]) for r in records) == 3469 and len(report) == 0


def test_shipped_label_descriptions():
    from fashion_mrcnn.data.categories import (
        ATTRIBUTE_CATEGORIES,
        MAIN_GARMENTS,
        category_names,
        default_categories,
        load_label_descriptions,
    )

    data = load_label_descriptions()
    assert set(data) >= {"info", "categories", "attributes"} and data["attributes"] == []
    cats = default_categories()
    assert [c["id"] for c in cats] == list(range(46))
    names = category_names(cats)
    assert names[0] == "shirt, blouse" and names[23] == "shoe" and names[45] == "tassel"
    assert {c["supercategory"] for c in cats if c["id"] >= 27} == {
        "garment parts",
        "closures",
        "decorations",
    }
    assert list(MAIN_GARMENTS) == list(range(27))
    assert ATTRIBUTE_CATEGORIES == {*range(13), 27, 28, 33}
    cats[0]["name"] = "changed"  # copies: the next call is unaffected
    assert default_categories()[0]["name"] == "shirt, blouse"


def test_shipped_categories_match_ccp(ccp_dir):
    from fashion_mrcnn.data.categories import default_categories, load_label_descriptions

    ccp = load_label_descriptions(ccp_dir / "label_descriptions.json")["categories"]
    ours = default_categories()
    assert [(c["id"], c["name"], c["supercategory"]) for c in ours] == [
        (c["id"], c["name"], c["supercategory"]) for c in ccp
    ]


def test_label_descriptions_errors(tmp_path):
    from fashion_mrcnn.data.categories import load_label_descriptions

    with pytest.raises(FashionDataError, match="not found"):
        load_label_descriptions(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(FashionDataError, match="invalid JSON"):
        load_label_descriptions(bad)
    bad.write_text('{"info": {}}')
    with pytest.raises(FashionDataError, match="'categories'"):
        load_label_descriptions(bad)
    bad.write_text('{"categories": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]}')
    with pytest.raises(FashionDataError, match=r"categories\[1\] repeats id 1"):
        load_label_descriptions(bad)
    bad.write_text('{"categories": [{"id": "1", "name": "a"}]}')
    with pytest.raises(FashionDataError, match="id must be an int"):
        load_label_descriptions(bad)
    bad.write_text('{"categories": [{"id": 1, "name": "a"}]}')
    data = load_label_descriptions(bad)
    assert data["attributes"] == [] and data["categories"][0]["supercategory"] == ""


def _truncate(path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def _wrong_size(images_dir) -> None:
    from PIL import Image

    Image.new("RGB", (7, 6)).save(images_dir / "b.png")  # 6x7, annotated 5x7


# (how to break image b.png or its row 2 of good_rows_2019, report item, reason excerpt)
SKIP_AT_INDEX = [
    ("truncated image", lambda d: _truncate(d / "b.png", 60), "train.csv image b.png",
     "b.png: cannot (read|decode) image"),
    ("zero-byte image", lambda d: _truncate(d / "b.png", 0), "train.csv image b.png",
     "b.png: cannot read image"),
    ("image size mismatch", _wrong_size, "train.csv image b.png",
     r"b.png: file is 6x7 \(HxW\) but the annotation says 5x7"),
    ("overlapping runs", "1 5 3 4", "train.csv row 2, image b.png", "runs overlapping"),
    ("unsorted runs", "20 2 1 2", "train.csv row 2, image b.png", "runs not strictly increasing"),
    ("zero-length run", "1 2 10 0 20 1", "train.csv row 2, image b.png", "length 0 < 1 .run 2."),
]  # fmt: skip


@pytest.mark.parametrize(("breakage", "item", "reason"), [c[1:] for c in SKIP_AT_INDEX],
                         ids=[c[0] for c in SKIP_AT_INDEX])  # fmt: skip
def test_skip_mode_validates_every_rle_and_image_at_index_time(
    tmp_path, build, breakage, item, reason
):
    rows = build.good_rows_2019()
    if isinstance(breakage, str):
        rows[1] = ["b.png", breakage, 5, 7, "3"]
    images = build.write_images(tmp_path / "images")
    if callable(breakage):
        breakage(images)
    labels = build.write_labels(tmp_path / "labels.json")
    csv_path = build.write_csv(tmp_path / "train.csv", HEADER_2019, rows)

    records, _, report = read_imaterialist(csv_path, labels, images, on_error="skip")
    assert [i for i, _ in report] == [item]
    assert re.search(reason, next(iter(report))[1])
    b = [r for r in records if r["image_id"] == "b.png"]
    if "image" in item.split(",")[0]:  # the whole image is dropped
        assert [r["image_id"] for r in records] == ["a.png"]
    else:  # only the bad row
        assert [i["origin"] for i in b[0]["instances"]] == ["train.csv row 4, image b.png"]
    for rec in records:  # what is left decodes: nothing skippable is met later
        for inst in rec["instances"]:
            instance_mask(inst, rec["height"], rec["width"])

    # raise mode stays lazy (no image opened, no full decode): the index passes, the load fails
    records, _, report = read_imaterialist(csv_path, labels, images)
    assert len(report) == 0 and [r["image_id"] for r in records] == ["a.png", "b.png"]


@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_duplicated_rows_are_dropped_counted_and_reported(tmp_path, build, caplog, on_error):
    good = build.good_rows_2019()
    rows = [*good, good[0], good[2], good[0], [*good[0][:4], "11"]]  # last: other class, kept
    images = build.write_images(tmp_path / "images")
    labels = build.write_labels(tmp_path / "labels.json")
    csv_path = build.write_csv(tmp_path / "train.csv", HEADER_2019, rows)
    with caplog.at_level("WARNING"):
        records, _, report = read_imaterialist(csv_path, labels, images, on_error=on_error)
    assert list(report) == [
        ("train.csv row 5, image a.png", "duplicate of row 1 (same ImageId, EncodedPixels, "
         "ClassId); dropped"),
        ("train.csv row 6, image a.png", "duplicate of row 3 (same ImageId, EncodedPixels, "
         "ClassId); dropped"),
        ("train.csv row 7, image a.png", "duplicate of row 1 (same ImageId, EncodedPixels, "
         "ClassId); dropped"),
    ]  # fmt: skip
    a = records[0]
    assert [i["origin"] for i in a["instances"]] == [
        "train.csv row 1, image a.png", "train.csv row 3, image a.png",
        "train.csv row 8, image a.png",
    ]  # fmt: skip
    warnings = [r.getMessage() for r in caplog.records if "duplicated" in r.getMessage()]
    assert len(warnings) == 1 and "dropped 3 duplicated row(s)" in warnings[0]
