"""Matterport Dataset API and FashionDataset over records, tiny files and ccp-fashion."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from fashion_mrcnn.data.dataset import Dataset, FashionDataset
from fashion_mrcnn.data.formats import coco_rle, rle
from fashion_mrcnn.errors import FashionDataError

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def test_base_dataset_api():
    ds = Dataset()
    assert ds.class_info == [{"source": "", "id": 0, "name": "BG"}]
    ds.add_class("shapes", 1, "square, big")
    ds.add_class("shapes", 1, "duplicate")  # skipped
    ds.add_class("shapes", 2, "circle")
    ds.add_class("other", 1, "thing")
    with pytest.raises(ValueError, match="dot"):
        ds.add_class("a.b", 1, "x")
    ds.add_image("shapes", image_id="s0", path="/x/s0.png", height=4, width=5, extra=1)
    ds.add_image("other", image_id=7, path="/x/o.png")
    assert ds.image_info[0]["extra"] == 1 and ds.image_reference(0) == ""
    ds.prepare()
    assert ds.num_classes == 4 and ds.num_images == 2
    assert ds.class_names == ["BG", "square", "circle", "thing"]
    np.testing.assert_array_equal(ds.class_ids, [0, 1, 2, 3])
    np.testing.assert_array_equal(ds.image_ids, [0, 1])
    assert ds.class_from_source_map == {".0": 0, "shapes.1": 1, "shapes.2": 2, "other.1": 3}
    assert ds.image_from_source_map == {"shapes.s0": 0, "other.7": 1}
    assert ds.sources == ["", "other", "shapes"]
    assert ds.source_class_ids["shapes"] == [0, 1, 2] and ds.source_class_ids["other"] == [0, 3]
    assert ds.map_source_class_id("shapes.2") == 2
    with pytest.raises(KeyError, match="shapes.9"):
        ds.map_source_class_id("shapes.9")
    assert ds.get_source_class_id(3, "other") == 1
    with pytest.raises(ValueError, match="belongs to source"):
        ds.get_source_class_id(3, "shapes")
    assert ds.source_image_link(1) == "/x/o.png"
    masks, ids = ds.load_mask(0)
    assert masks.shape == (4, 5, 0) and masks.dtype == bool
    assert ids.shape == (0,) and ids.dtype == np.int32


CATS = [{"id": 10, "name": "dress, gown"}, {"id": 3, "name": "coat"}, {"id": 5, "name": "hat"}]


def _record(path, h=4, w=5, instances=None, image_id="x.png"):
    return {
        "image_id": image_id,
        "path": str(path),
        "height": h,
        "width": w,
        "source": "imaterialist",
        "instances": instances or [],
    }


def _inst(cat, kind, data, **kw):
    return {
        "category_id": cat,
        "attribute_ids": kw.pop("attrs", []),
        "segmentation": {"kind": kind, "data": data},
        "box_only": kw.pop("box_only", False),
        "origin": kw.pop("origin", f"test cat {cat}"),
        **kw,
    }


def test_fashion_dataset_from_records(tmp_path):
    Image.new("RGB", (5, 4), (10, 20, 30)).save(tmp_path / "x.png")
    mask = np.zeros((4, 5), np.uint8)
    mask[1:3, 2:4] = 1
    insts = [
        _inst(3, "kaggle_rle", rle.encode(mask), attrs=[1, 2]),
        _inst(5, "box", [0, 0, 2, 1], box_only=True),
        _inst(10, "polygon", [[0, 0, 5, 0, 5, 4, 0, 4]], iscrowd=True),
    ]
    ds = FashionDataset.from_records([_record(tmp_path / "x.png", instances=insts)], CATS)
    assert ds.class_names == ["BG", "dress", "coat", "hat"]
    assert ds.internal_class_id(3) == 2 and ds.map_source_class_id("imaterialist.5") == 3
    out = ds.load_instances(0)
    assert out["masks"].shape == (4, 5, 3) and out["masks"].dtype == bool
    np.testing.assert_array_equal(out["masks"][:, :, 0], mask.astype(bool))
    assert out["masks"][:, :, 1].sum() == 2 and out["masks"][:2, 0, 1].all()
    assert out["masks"][:, :, 2].all()
    np.testing.assert_array_equal(out["class_ids"], [2, 3, -1])  # crowd: negative id
    assert out["class_ids"].dtype == np.int32
    np.testing.assert_array_equal(out["box_only"], [False, True, False])
    np.testing.assert_array_equal(out["iscrowd"], [False, False, True])
    assert out["attribute_ids"] == [[1, 2], [], []]
    masks, ids = ds.load_mask(0)
    np.testing.assert_array_equal(masks, out["masks"])
    np.testing.assert_array_equal(ids, out["class_ids"])
    image = ds.load_image(0)
    assert (
        image.shape == (4, 5, 3) and image.dtype == np.uint8 and (image[0, 0] == [10, 20, 30]).all()
    )
    assert (
        ds.image_reference(0)
        == f"{tmp_path / 'x.png'} (imaterialist image x.png; test cat 3 + 2 more)"
    )
    assert ds.class_counts() == {"dress": (1, 1), "coat": (1, 1), "hat": (1, 1)}
    assert ds.records[0]["image_id"] == "x.png" and len(ds.skip_report) == 0


def test_empty_image_and_subset(tmp_path):
    recs = [
        _record(tmp_path / "a.png", image_id="a.png", instances=[_inst(3, "box", [0, 0, 1, 1])]),
        _record(tmp_path / "b.png", image_id="b.png"),
        _record(tmp_path / "c.png", image_id="c.png", instances=[_inst(3, "box", [0, 0, 1, 1])]),
    ]
    ds = FashionDataset.from_records(recs, CATS)
    masks, ids = ds.load_mask(1)
    assert masks.shape == (4, 5, 0) and ids.shape == (0,)
    assert ds.class_counts()["coat"] == (2, 2)
    sub = ds.subset([2, 1])
    assert isinstance(sub, FashionDataset) and sub.num_images == 2
    assert [r["image_id"] for r in sub.records] == ["c.png", "b.png"]
    assert sub.class_names == ds.class_names and sub.image_info[0]["id"] == "c.png"


def test_default_categories_are_imaterialist(tmp_path):
    ds = FashionDataset.from_records([_record(tmp_path / "a.png")])
    assert ds.num_classes == 47 and ds.class_names[1] == "shirt" and ds.class_names[-1] == "tassel"


@pytest.mark.parametrize(
    ("inst", "message"),
    [
        (_inst(3, "kaggle_rle", "1 3 2 2", origin="t.csv row 4"), "row 4.*overlapping"),
        (_inst(3, "kaggle_rle", "19 5", origin="t.csv row 5"), "row 5.*past height"),
        (_inst(3, "box", [0, 0, 9, 2], origin="ann 3"), r"ann 3: box .* outside the 4x5 image"),
        (_inst(3, "polygon", [[0, 0, 9, 0, 9, 9]], origin="ann 4"), "ann 4: polygon 0 .* outside"),
        (_inst(3, "polygon", [[0, 0, 1, 1]], origin="ann 5"), "ann 5: polygon 0 must be"),
        (
            _inst(3, "coco_rle", {"size": [5, 4], "counts": [20]}, origin="ann 6"),
            r"ann 6: COCO RLE size \[5, 4\] does not fit",
        ),
    ],
)
def test_mask_that_does_not_fit_raises(tmp_path, inst, message):
    ds = FashionDataset.from_records([_record(tmp_path / "x.png", instances=[inst])], CATS)
    with pytest.raises(FashionDataError, match="image x.png: .*" + message):
        ds.load_mask(0)


def test_bad_records_rejected(tmp_path):
    with pytest.raises(FashionDataError, match="category id 4 is not among"):
        FashionDataset.from_records([_record("p", instances=[_inst(4, "box", [0, 0, 1, 1])])], CATS)
    with pytest.raises(FashionDataError, match="missing key 'path'"):
        FashionDataset.from_records([{"image_id": "q", "height": 1}], CATS)
    with pytest.raises(FashionDataError, match="height must be a positive int"):
        FashionDataset.from_records([_record("p", h=0)], CATS)
    with pytest.raises(FashionDataError, match="segmentation must be a dict"):
        FashionDataset.from_records([_record("p", instances=[_inst(3, "mask", None)])], CATS)


def test_load_image_errors(tmp_path):
    Image.new("RGB", (7, 4)).save(tmp_path / "wrong.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    recs = [
        _record(tmp_path / "wrong.png", image_id="wrong.png"),
        _record(tmp_path / "bad.png", image_id="bad.png"),
        _record(tmp_path / "gone.png", image_id="gone.png"),
    ]
    ds = FashionDataset.from_records(recs, CATS)
    with pytest.raises(FashionDataError, match=r"image wrong.png .*file is 4x7 .* says 4x5"):
        ds.load_image(0)
    with pytest.raises(FashionDataError, match="bad.png"):
        ds.load_image(1)
    with pytest.raises(FashionDataError, match="gone.png: image file not found"):
        ds.load_image(2)


def test_from_imaterialist_tiny(tiny_imat, tmp_path):
    csv_path, labels, images = tiny_imat
    ds = FashionDataset.from_imaterialist(csv_path, labels, images, categories=[23, 10, 3])
    assert ds.class_names == ["BG", "cat3", "cat10", "cat23"]  # label-file order
    assert ds.num_images == 2
    np.testing.assert_array_equal(ds.load_mask(0)[1], [2, 3])
    np.testing.assert_array_equal(ds.load_mask(1)[1], [1])
    ds = FashionDataset.from_imaterialist(csv_path, labels)  # images/ beside the CSV
    assert ds.num_classes == 47 and ds.load_image(0).shape == (8, 6, 3)


def test_from_imaterialist_skip_writes_report(tmp_path, build):
    rows = build.good_rows_2019() + [
        ["a.png", "5 1 3 1", 8, 6, "1"],  # passes the cheap check, fails on decode
        ["c.png", "1 2 3", 6, 6, "1"],
        ["nope.png", "1 1", 5, 7, "1"],
    ]
    build.write_images(tmp_path / "images")
    labels = build.write_labels(tmp_path / "labels.json")
    csv_path = build.write_csv(tmp_path / "train.csv", build.HEADER_2019, rows)
    report_path = tmp_path / "out" / "skipped.csv"
    ds = FashionDataset.from_imaterialist(
        csv_path, labels, tmp_path / "images", on_error="skip", report_path=report_path
    )
    with report_path.open() as f:
        lines = list(csv.reader(f))
    assert lines[0] == ["item", "reason"] and len(lines) == 4
    assert lines[1][0] == "train.csv row 6, image c.png" and "odd number" in lines[1][1]
    assert lines[2][0] == "train.csv image nope.png" and "not found" in lines[2][1]
    # skip mode decodes every RLE at index time: row 5 is reported now, not met in training
    assert lines[3] == [
        "train.csv row 5, image a.png",
        "runs not strictly increasing: run 2 starts at 3 but run 1 covers 5..5",
    ]
    assert len(ds.skip_report) == 3 and ds.num_images == 2
    assert ds.load_mask(0)[1].tolist() == [11, 24]  # a.png keeps its two good rows
    with pytest.raises(FashionDataError, match="row 6, image c.png.*odd number"):
        FashionDataset.from_imaterialist(csv_path, labels, tmp_path / "images")


def test_from_coco_tiny(tmp_path, build):
    build.write_images(tmp_path / "images")
    m = build.box_mask(8, 6, 2, 2, 5, 4)
    data = {
        "images": [{"id": 1, "file_name": "a.png", "height": 8, "width": 6}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 2,
                "segmentation": coco_rle.to_coco(rle.encode(m), 8, 6),
            },
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "iscrowd": 1},
        ],
        "categories": [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}],
    }
    (tmp_path / "c.json").write_text(json.dumps(data))
    ds = FashionDataset.from_coco(tmp_path / "c.json", tmp_path / "images")
    masks, ids = ds.load_mask(0)
    np.testing.assert_array_equal(ids, [2, -1])
    np.testing.assert_array_equal(masks[:, :, 0], m.astype(bool))
    assert ds.load_instances(0)["box_only"].tolist() == [False, True]
    only = FashionDataset.from_coco(tmp_path / "c.json", tmp_path / "images", categories=[2])
    assert only.class_names == ["BG", "two"] and only.load_mask(0)[1].tolist() == [1]


def test_ccp_both_loaders_agree(ccp_dir):
    imat = FashionDataset.from_imaterialist(
        ccp_dir / "train.csv", ccp_dir / "label_descriptions.json", ccp_dir / "images"
    )
    coco = FashionDataset.from_coco(ccp_dir / "coco" / "instances.json", ccp_dir / "images")
    assert coco.num_images == 600 and imat.num_images == 599  # one image has no instance
    assert imat.class_names == coco.class_names and imat.num_classes == 47
    with open(ccp_dir / "coco" / "instances.json") as f:
        anns = json.load(f)["annotations"]
    for name in ("ccp_0001.jpg", "ccp_0100.jpg", "ccp_0333.jpg", "ccp_0600.jpg"):
        i = imat.image_from_source_map[f"imaterialist.{name}"]
        j = coco.image_from_source_map[f"coco.{name}"]
        m1, c1 = imat.load_mask(i)
        m2, c2 = coco.load_mask(j)
        np.testing.assert_array_equal(m1, m2)
        np.testing.assert_array_equal(c1, c2)
        image = imat.load_image(i)
        assert image.shape == (*m1.shape[:2], 3)
        image_key = coco.records[j]
        ref = [
            mask_utils.decode(
                {"size": a["segmentation"]["size"], "counts": a["segmentation"]["counts"].encode()}
            )
            for a in anns
            if a["image_id"] == int(name[4:8])
        ]
        assert image_key["image_id"] == name and len(ref) == m2.shape[2]
        for k, r in enumerate(ref):
            np.testing.assert_array_equal(m2[:, :, k], r.astype(bool))
    counts = imat.class_counts()
    assert counts["shoe"][0] == 1011 and counts == coco.class_counts()
