"""COCO / Fashionpedia JSON reading."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from fashion_mrcnn.data.coco import read_coco
from fashion_mrcnn.data.formats import coco_rle, rle
from fashion_mrcnn.data.records import instance_box, instance_mask
from fashion_mrcnn.errors import FashionDataError
from tests.data.coco_files import H, W
from tests.data.coco_files import all_kinds as _all_kinds
from tests.data.coco_files import write_coco_json as _coco

# pycocotools.decode trips a numpy-2 DeprecationWarning about the copy keyword.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def test_read_every_segmentation_kind(tmp_path, build):
    path, images = _coco(tmp_path, build, _all_kinds(build))
    records, cats, attributes, report = read_coco(path, images)
    assert len(report) == 0 and [c["id"] for c in cats] == [1, 2, 3, 4]
    assert attributes == []  # a COCO file without Fashionpedia's attribute list
    assert [r["image_id"] for r in records] == ["a.png", "b.png", "c.png"]
    a, b, c = records
    assert c["instances"] == []  # an image without annotations is kept
    kinds = [i["segmentation"]["kind"] for i in a["instances"] + b["instances"]]
    assert kinds == ["polygon", "coco_rle", "coco_rle", "box", "box"]
    assert a["instances"][1]["attribute_ids"] == [3, 4]
    assert a["instances"][2]["iscrowd"] is True and "iscrowd" not in a["instances"][0]
    assert [i["box_only"] for i in b["instances"]] == [True, True]
    assert a["instances"][0]["origin"] == "inst.json annotation 10, image a.png"
    expected = build.box_mask(H, W, 1, 1, 4, 3).astype(bool)
    np.testing.assert_array_equal(instance_mask(a["instances"][1], H, W), expected)
    uncompressed = instance_mask(a["instances"][2], H, W)
    assert uncompressed.sum() == 6 and uncompressed[1:4, 1].all() and uncompressed[1:4, 2].all()
    poly = instance_mask(a["instances"][0], H, W)
    ref = mask_utils.decode(mask_utils.frPyObjects([[1, 1, 4, 1, 4, 5, 1, 5]], H, W))[:, :, 0]
    np.testing.assert_array_equal(poly, ref.astype(bool))
    assert b["instances"][0]["segmentation"]["data"] == [2.0, 1.0, 4.0, 4.0]
    np.testing.assert_array_equal(instance_box(b["instances"][0], 5, 7), [2, 1, 4, 4])
    np.testing.assert_array_equal(instance_box(a["instances"][1], H, W), [1, 1, 4, 3])


@pytest.mark.parametrize(
    ("ann", "message"),
    [
        ({"id": 5, "image_id": 1, "category_id": 9, "bbox": [0, 0, 1, 1]}, "annotation 5, image "
         "a.png: unknown category id 9"),
        ({"id": 6, "image_id": 99, "category_id": 1, "bbox": [0, 0, 1, 1]}, "annotation 6: "
         "unknown image id 99"),
        ({"id": 7, "image_id": 1, "category_id": 1, "segmentation": {"size": [5, 5], "counts": "0"}},
         "annotation 7, image a.png: RLE size [5, 5] does not fit the 8x6 image"),
        ({"id": 8, "image_id": 1, "category_id": 1}, "annotation 8, image a.png: no segmentation"),
        ({"id": 9, "image_id": 1, "category_id": 1, "bbox": [0, 0, 9, 1]}, "annotation 9, image "
         "a.png: bbox [0, 0, 9, 1] is empty or outside"),
        ({"id": 4, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "attribute_ids": "x"},
         "annotation 4, image a.png: attribute_ids must be a list"),
        ({"id": 3, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 1, 1]]},
         "annotation 3, image a.png: polygon segmentation: polygon 0 must be x, y pairs"),
        ({"id": 2, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 3, 0, 3, 30]]},
         "annotation 2, image a.png: polygon segmentation: polygon 0 (x 0..3, y 0..30) lies "
         "outside the 8x6 image"),
    ],
)  # fmt: skip
def test_bad_annotations(tmp_path, build, ann, message):
    good = _all_kinds(build)
    path, images = _coco(tmp_path, build, [good[0], ann, good[1]])
    with pytest.raises(FashionDataError, match=re.escape(message)):
        read_coco(path, images)
    records, _, _, report = read_coco(path, images, on_error="skip")
    assert len(report) == 1 and message.split(":")[0] in next(iter(report))[0]
    assert [len(r["instances"]) for r in records] == [2, 0, 0]


def test_bad_images(tmp_path, build):
    images = [
        {"id": 1, "file_name": "a.png", "height": 8, "width": 6},
        {"id": 2, "file_name": "missing.png", "height": 5, "width": 7},
        {"id": 3, "file_name": "b.png", "height": 0, "width": 7},
        {"id": 1, "file_name": "c.png", "height": 6, "width": 6},
    ]
    anns = [
        {"id": 1, "image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1]},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]},
    ]
    path, imdir = _coco(tmp_path, build, anns, images=images)
    with pytest.raises(FashionDataError, match=r"image id 2 \(missing.png\): image file .* not"):
        read_coco(path, imdir)
    records, _, _, report = read_coco(path, imdir, on_error="skip")
    assert [item for item, _ in report] == [
        "inst.json image id 2 (missing.png)",
        "inst.json image id 3 (b.png)",
        "inst.json image id 1",
    ]
    assert [r["image_id"] for r in records] == ["a.png"] and len(records[0]["instances"]) == 1
    records, _, _, _ = read_coco(path, imdir, on_error="skip", check_images=False)
    assert [r["image_id"] for r in records] == ["a.png", "missing.png"]


def test_file_errors(tmp_path):
    with pytest.raises(FashionDataError, match="not found"):
        read_coco(tmp_path / "none.json", tmp_path)
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(FashionDataError, match="invalid JSON"):
        read_coco(tmp_path / "x.json", tmp_path)
    (tmp_path / "y.json").write_text(json.dumps({"images": []}))
    with pytest.raises(FashionDataError, match="'annotations'"):
        read_coco(tmp_path / "y.json", tmp_path)


def test_binary_or_empty_coco_json_is_a_named_error(tmp_path):
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    with pytest.raises(FashionDataError, match=r"bin\.json: not a UTF-8 text file .*COCO JSON"):
        read_coco(binary, tmp_path)
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    for mode in ("raise", "skip"):
        with pytest.raises(FashionDataError, match=r"empty\.json: 'images' is empty"):
            read_coco(empty, tmp_path, on_error=mode)


def test_ccp_coco_matches_csv(ccp_dir):
    records, cats, _, report = read_coco(ccp_dir / "coco" / "instances.json", ccp_dir / "images")
    assert len(records) == 600 and len(cats) == 46 and len(report) == 0
    some = [r for r in records if r["instances"]][:5]
    for r in some:
        for inst in r["instances"]:
            data = inst["segmentation"]["data"]
            ref = mask_utils.decode({"size": data["size"], "counts": data["counts"].encode()})
            text = coco_rle.from_coco(data)
            np.testing.assert_array_equal(rle.decode(text, r["height"], r["width"]), ref)


def _truncate(path, keep):
    path.write_bytes(path.read_bytes()[:keep])


def _wrong_size(images_dir):
    from PIL import Image

    Image.new("RGB", (7, 6)).save(images_dir / "b.png")  # 6x7, annotated 5x7


# A 5x7 image has 35 pixels. (what breaks, annotation on b.png or image breakage, item, reason)
ANN_21 = "inst.json annotation 21, image b.png"
COCO_SKIP_AT_INDEX = [
    ("counts past h*w", {"size": [5, 7], "counts": [30, 10]}, ANN_21,
     "COCO RLE counts sum to 40, past height.width"),
    ("negative count", {"size": [5, 7], "counts": [3, -2, 4]}, ANN_21,
     "COCO RLE count -2 < 0"),
    ("bad compressed char", {"size": [5, 7], "counts": "0~~"}, ANN_21,
     "invalid character '~'"),
    ("compressed cut mid-count", {"size": [5, 7], "counts": "0c"}, ANN_21,
     "ends in the middle of a count"),
    ("truncated image", lambda d: _truncate(d / "b.png", 60), "inst.json image b.png",
     r"b.png: cannot (read|decode) image"),
    ("image size mismatch", _wrong_size, "inst.json image b.png",
     r"b.png: file is 6x7 \(HxW\) but the annotation says 5x7"),
]  # fmt: skip


@pytest.mark.parametrize(("breakage", "item", "reason"), [c[1:] for c in COCO_SKIP_AT_INDEX],
                         ids=[c[0] for c in COCO_SKIP_AT_INDEX])  # fmt: skip
def test_skip_mode_validates_counts_and_images_at_index_time(
    tmp_path, build, breakage, item, reason
):
    good_b = {"size": [5, 7], "counts": [3, 4, 28]}
    seg = breakage if isinstance(breakage, dict) else good_b
    anns = [
        {"id": 20, "image_id": 2, "category_id": 1, "segmentation": good_b},
        {"id": 21, "image_id": 2, "category_id": 2, "segmentation": seg},
        {"id": 22, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]},
    ]
    path, images = _coco(tmp_path, build, anns)
    if callable(breakage):
        breakage(images)
    records, _, _, report = read_coco(path, images, on_error="skip")
    assert [i for i, _ in report] == [item]
    assert re.search(reason, next(iter(report))[1])
    by_id = {r["image_id"]: r for r in records}
    if "image b.png" in item and "annotation" not in item:
        assert sorted(by_id) == ["a.png", "c.png"]
    else:
        assert [i["origin"] for i in by_id["b.png"]["instances"]] == [
            "inst.json annotation 20, image b.png"
        ]
    for rec in records:  # what is left decodes
        for inst in rec["instances"]:
            instance_mask(inst, rec["height"], rec["width"])
    records, _, _, report = read_coco(path, images)  # raise mode stays lazy
    assert len(report) == 0 and len(records) == 3


@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_duplicated_annotations_are_dropped_counted_and_reported(tmp_path, build, caplog, on_error):
    kinds = _all_kinds(build)
    dup_poly = {**kinds[0], "id": 30}  # same image, category, polygon as annotation 10
    dup_rle = {**kinds[1], "id": 31, "attribute_ids": []}  # same RLE as 11 (attributes aside)
    dup_box = {**kinds[3], "id": 32}  # same bbox, no segmentation, as 13
    other_cat = {**kinds[0], "id": 33, "category_id": 2}  # another category: kept
    other_poly = {**kinds[0], "id": 34, "segmentation": [[1, 1, 4, 1, 4, 6, 1, 6]]}  # kept
    path, images = _coco(tmp_path, build, [*kinds, dup_poly, dup_rle, dup_box, other_cat,
                                           other_poly])  # fmt: skip
    with caplog.at_level("WARNING"):
        records, _, _, report = read_coco(path, images, on_error=on_error)
    assert list(report) == [
        ("inst.json annotation 30, image a.png",
         "duplicate of annotation 10 (same image, category, segmentation); dropped"),
        ("inst.json annotation 31, image a.png",
         "duplicate of annotation 11 (same image, category, segmentation); dropped"),
        ("inst.json annotation 32, image b.png",
         "duplicate of annotation 13 (same image, category, segmentation); dropped"),
    ]  # fmt: skip
    ids = [[i["origin"].split()[2].rstrip(",") for i in r["instances"]] for r in records]
    assert ids == [["10", "11", "12", "33", "34"], ["13", "14"], []]
    warnings = [r.getMessage() for r in caplog.records if "duplicated" in r.getMessage()]
    assert len(warnings) == 1 and "dropped 3 duplicated annotation(s)" in warnings[0]
