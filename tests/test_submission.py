"""Kaggle submission: resizing, overlap policies, attributes, placeholders, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fashion_mrcnn.data.categories import ATTRIBUTE_CATEGORIES
from fashion_mrcnn.data.formats.rle import decode, encode
from fashion_mrcnn.errors import FashionDataError
from fashion_mrcnn.submission import (
    assert_valid_submission,
    class_string,
    make_submission,
    predict_submission,
    validate_submission,
)


def _masks(h, w, boxes):
    m = np.zeros((h, w, len(boxes)), dtype=bool)
    for k, (y1, x1, y2, x2) in enumerate(boxes):
        m[y1:y2, x1:x2, k] = True
    return m


def _pred(boxes, class_ids, scores, h=16, w=16, attribute_ids=None):
    out = {
        "rois": np.array(boxes, dtype=np.int32).reshape(-1, 4),
        "class_ids": np.array(class_ids, dtype=np.int32),
        "scores": np.array(scores, dtype=np.float32),
        "masks": _masks(h, w, boxes),
    }
    if attribute_ids is not None:
        out["attribute_ids"] = attribute_ids
    return out


def test_class_string():
    assert class_string(10, [2, 1, 2]) == "10_1_2"
    assert class_string("7") == "7"


def test_make_submission_rows_policies_and_placeholder(tmp_path):
    preds = [
        _pred([(0, 0, 8, 8), (4, 4, 12, 12)], [1, 2], [0.6, 0.9], attribute_ids=[[3, 1], []]),
        _pred([], [], []),
    ]
    class_map = {1: 10, 2: 31}  # internal -> iMaterialist category
    df = make_submission(preds, ["a.jpg", "b.jpg"], tmp_path / "s.csv", size=(8, 8),
                         class_map=class_map)  # fmt: skip
    assert df.equals(pd.read_csv(tmp_path / "s.csv", dtype=str, keep_default_na=False))
    assert df["ClassId"].tolist() == ["31", "10_1_3", "23"]  # score order, then placeholder
    assert df["EncodedPixels"].iloc[2] == "1 1"
    m31 = decode(df["EncodedPixels"][0], 8, 8).astype(bool)
    m10 = decode(df["EncodedPixels"][1], 8, 8).astype(bool)
    assert m31.sum() == 16 and m10.sum() == 16 - 4 and not (m31 & m10).any()

    strip = make_submission(preds, ["a.jpg", "b.jpg"], None, size=(8, 8), class_map=class_map,
                            attributes="strip", overlap="none", placeholder=("", "0"))  # fmt: skip
    assert strip["ClassId"].tolist() == ["31", "10", "0"]
    assert decode(strip["EncodedPixels"][1], 8, 8).sum() == 16

    drop = make_submission(preds, ["a.jpg", "b.jpg"], None, size=(8, 8), class_map=class_map,
                           attributes="drop_attribute_categories", placeholder=None)  # fmt: skip
    assert 10 in ATTRIBUTE_CATEGORIES and 31 not in ATTRIBUTE_CATEGORIES
    assert drop["ClassId"].tolist() == ["31"]


def test_min_area_and_class_overlap():
    pred = _pred([(0, 0, 16, 16), (0, 0, 2, 2), (0, 0, 16, 8)], [1, 1, 2], [0.9, 0.8, 0.7])
    df = make_submission([pred], ["a"], None, size=(16, 16), overlap="class", min_area=5)
    # the 2x2 mask of class 1 is swallowed by the higher-scoring class-1 mask; class 2 overlaps
    assert df["ClassId"].tolist() == ["1", "2"]
    assert decode(df["EncodedPixels"][1], 16, 16).sum() == 128
    df = make_submission([pred], ["a"], None, size=(16, 16), overlap="none", min_area=5)
    assert df["ClassId"].tolist() == ["1", "2"]  # 4 px < min_area
    with pytest.raises(ValueError, match="overlap"):
        make_submission([pred], ["a"], None, overlap="sometimes")
    with pytest.raises(FashionDataError, match="class_map"):
        make_submission([pred], ["a"], None, class_map={1: 3})


def test_validate_submission_finds_each_problem(tmp_path):
    good = make_submission(
        [_pred([(0, 0, 8, 8), (8, 8, 16, 16)], [1, 2], [0.9, 0.8]), _pred([], [], [])],
        ["a.jpg", "b.jpg"], tmp_path / "good.csv", size=(16, 16),
    )  # fmt: skip
    assert validate_submission(tmp_path / "good.csv", ["a.jpg", "b.jpg"], size=(16, 16)) == []
    assert_valid_submission(tmp_path / "good.csv", ["a.jpg", "b.jpg"], size=(16, 16))

    bad = pd.concat(
        [
            good,
            pd.DataFrame(
                [
                    ("a.jpg", "1 4", "3"),  # overlaps line 2's mask
                    ("c.jpg", "5 3 1 2", "3"),  # unsorted runs
                    ("c.jpg", "250 10", "3"),  # past 16 * 16 = 256
                    ("c.jpg", "1 2", "46"),  # unknown category
                    ("c.jpg", "100 2", "4_x"),  # bad syntax
                ],
                columns=good.columns,
            ),
        ]
    )
    bad.to_csv(tmp_path / "bad.csv", index=False)
    problems = validate_submission(tmp_path / "bad.csv", ["a.jpg", "b.jpg", "d.jpg"], size=(16, 16))
    text = "\n".join(problems)
    assert "line 5 (image a.jpg): mask overlaps the mask on line 2" in text
    assert "line 6 (image c.jpg): bad RLE" in text
    assert "line 7 (image c.jpg): bad RLE" in text and "past" in text
    assert "line 8 (image c.jpg): unknown category 46" in text
    assert "line 9 (image c.jpg): ClassId '4_x' is not '<category>[_<attribute>...]'" in text
    assert "image d.jpg: missing" in text and "image c.jpg: not a test image" in text
    assert len(problems) == 7
    with pytest.raises(FashionDataError, match="7 problem"):
        assert_valid_submission(tmp_path / "bad.csv", ["a.jpg", "b.jpg", "d.jpg"], size=(16, 16))
    # the same overlap is allowed when only same-class overlaps are forbidden
    class_only = validate_submission(tmp_path / "bad.csv", None, size=(16, 16), overlap="class")
    assert not any("overlaps" in p for p in class_only)

    (tmp_path / "hdr.csv").write_text("ImageId,EncodedPixels,Class\na,1 1,23\n")
    assert "bad header" in validate_submission(tmp_path / "hdr.csv")[0]


def test_validate_submission_reads_the_2020_layout(tmp_path):
    preds = [_pred([(0, 0, 8, 8)], [1], [0.9]), _pred([(8, 8, 16, 16)], [2], [0.8])]
    preds[0]["attribute_ids"] = [[115, 3]]
    preds[1]["attribute_ids"] = [[]]
    good = make_submission(
        preds, ["a.jpg", "b.jpg"], tmp_path / "g.csv", size=(16, 16), layout=2020
    )
    assert list(good.columns) == ["ImageId", "EncodedPixels", "ClassId", "AttributesIds"]
    assert validate_submission(tmp_path / "g.csv", ["a.jpg", "b.jpg"], size=(16, 16)) == []
    bad = pd.DataFrame(
        [
            ("a.jpg", "200 2", "3_1", ""),
            ("b.jpg", "210 2", "3", "1;2"),
            ("b.jpg", "220 2", "4", "9"),
        ],
        columns=good.columns,
    )
    bad.to_csv(tmp_path / "b.csv", index=False)
    problems = validate_submission(tmp_path / "b.csv", None, size=(16, 16), num_attributes=5)
    assert problems == [
        "line 2 (image a.jpg): ClassId '3_1' is not a category id (the 2020 layout)",
        "line 3 (image b.jpg): AttributesIds '1;2' is not comma-separated attribute ids "
        "(e.g. '115,136' or empty)",
        "line 4 (image b.jpg): attribute id >= 5 in ClassId '4'",
    ]


class _FakeModel:
    """detect() returns one fixed box per image; BATCH_SIZE 2 to exercise padding."""

    class config:  # noqa: N801 - mimics model.config
        BATCH_SIZE = 2

    def __init__(self):
        self.calls = []

    def detect(self, images):
        self.calls.append(len(images))
        out = []
        for im in images:
            h, w = im.shape[:2]
            m = np.zeros((h, w, 1), dtype=bool)
            m[: h // 2, : w // 2, 0] = True
            out.append({"rois": np.array([[0, 0, h // 2, w // 2]], np.int32),
                        "class_ids": np.array([3], np.int32),
                        "scores": np.array([0.9], np.float32), "masks": m})  # fmt: skip
        return out


def test_predict_submission_runs_every_image(tmp_path):
    from PIL import Image

    for name in ("x.jpg", "y.png", "z.jpg"):
        Image.fromarray(np.full((20, 10, 3), 128, np.uint8)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    model = _FakeModel()
    df = predict_submission(model, tmp_path, tmp_path / "out" / "sub.csv", size=(8, 8),
                            class_map=lambda c: c + 1, progress=False)  # fmt: skip
    assert model.calls == [2, 2]
    assert df["ImageId"].tolist() == ["x.jpg", "y.png", "z.jpg"]
    assert (df["ClassId"] == "4").all()
    expected = np.zeros((8, 8), bool)
    expected[:4, :4] = True
    assert df["EncodedPixels"][0] == encode(expected)
    assert validate_submission(tmp_path / "out" / "sub.csv", tmp_path, size=(8, 8)) == []
    files = [tmp_path / n for n in ("x.jpg", "y.png", "z.jpg", "w.jpg")]
    assert validate_submission(tmp_path / "out" / "sub.csv", files, size=(8, 8)) == [
        "image w.jpg: missing (every test image needs a row)"
    ]


def test_predict_submission_binarises_soft_masks_at_the_setting_s_mask_threshold(tmp_path):
    """Soft masks on request (0.4 on the mask's left half, 0.8 on its right half): the setting's
    0.6 keeps the right half; ``detect`` is asked for them only with ``soft_masks``."""
    from functools import partial

    from PIL import Image

    from fashion_mrcnn.inference.postprocess import PostprocessSetting, apply_postprocess

    class SoftModel(_FakeModel):
        def detect(self, images, soft_masks=False):
            out = super().detect(images)
            for result in out if soft_masks else ():
                soft = result["masks"].astype(np.uint8) * 160
                soft[:, : soft.shape[1] // 4] //= 2
                result["soft_masks"] = soft
            return out

    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(tmp_path / "x.jpg")
    setting = PostprocessSetting(mask_threshold=0.6)
    df = predict_submission(SoftModel(), tmp_path, None, size=(16, 16), class_map=lambda c: c,
                            postprocess=partial(apply_postprocess, setting=setting),
                            soft_masks=True, progress=False)  # fmt: skip
    expected = np.zeros((16, 16), bool)
    expected[:8, 4:8] = True
    assert df["EncodedPixels"].tolist() == [encode(expected)]
    with pytest.raises(ValueError, match="soft_masks=True"):
        predict_submission(SoftModel(), tmp_path, None, size=(16, 16), class_map=lambda c: c,
                           postprocess=partial(apply_postprocess, setting=setting),
                           progress=False)  # fmt: skip


@pytest.mark.realdata
def test_ccp_submission_round_trip_scores_one_and_drop_policy_by_hand(ccp_dir, tmp_path):
    from fashion_mrcnn.data.dataset import FashionDataset
    from fashion_mrcnn.evaluation.kaggle import kaggle_metric
    from fashion_mrcnn.ops.boxes import extract_bboxes

    ds = FashionDataset.from_imaterialist(
        ccp_dir / "train.csv", ccp_dir / "label_descriptions.json", ccp_dir / "images"
    )
    idx = list(ds.image_ids[:25])
    names = [ds.image_info[i]["id"] for i in idx]
    class_map = {k + 1: c["id"] for k, c in enumerate(ds.categories)}
    preds = []
    for i in idx:
        masks, ids = ds.load_mask(i)
        preds.append({"rois": extract_bboxes(masks), "class_ids": ids,
                      "scores": np.linspace(1, 0.5, len(ids)), "masks": masks})  # fmt: skip
    gt = pd.read_csv(ccp_dir / "train.csv", dtype={"ClassId": str}, keep_default_na=False)
    gt = gt[gt["ImageId"].isin(names)]

    sub = make_submission(preds, names, tmp_path / "sub.csv", class_map=class_map)
    assert validate_submission(tmp_path / "sub.csv", names) == []
    assert kaggle_metric(gt, tmp_path / "sub.csv", pred_size=(512, 512)) == 1.0
    assert len(sub) == len(gt)

    make_submission(preds, names, tmp_path / "drop.csv", class_map=class_map,
                    attributes="drop_attribute_categories")  # fmt: skip
    # by hand: per image, the classes of dropped categories score 0, the others 1
    expected = []
    for _, rows in gt.groupby("ImageId"):
        cats = set(rows["ClassId"].astype(int))
        expected.append(len(cats - ATTRIBUTE_CATEGORIES) / len(cats))
    got = kaggle_metric(gt, tmp_path / "drop.csv", pred_size=(512, 512))
    assert got == pytest.approx(np.mean(expected)) and got < 1.0


def test_attribute_ids_reach_both_kaggle_layouts(tmp_path):
    """A detect() dict's attribute_ids become ClassId suffixes (2019) or AttributesIds (2020),
    and the 2020 file scores 1.0 against the ground truth it was made from."""
    from fashion_mrcnn.evaluation.kaggle2020 import kaggle_metric_2020

    preds = [_pred([(0, 0, 8, 8), (8, 8, 16, 16)], [1, 2], [0.9, 0.8], attribute_ids=[[7, 3], []])]
    class_map = {1: 10, 2: 31}
    df19 = make_submission(preds, ["a.jpg"], None, size=(16, 16), class_map=class_map)
    assert df19["ClassId"].tolist() == ["10_3_7", "31"]
    df20 = make_submission(preds, ["a.jpg"], tmp_path / "s20.csv", size=(16, 16),
                           class_map=class_map, layout=2020)  # fmt: skip
    assert df20["ClassId"].tolist() == ["10", "31"]
    assert df20["AttributesIds"].tolist() == ["3,7", ""]
    gt = df20.assign(Height=16, Width=16)
    assert kaggle_metric_2020(gt, tmp_path / "s20.csv") == pytest.approx(1.0)
    wrong = [dict(preds[0], attribute_ids=[[7], []])]
    make_submission(wrong, ["a.jpg"], tmp_path / "w20.csv", size=(16, 16), class_map=class_map,
                    layout=2020)  # fmt: skip
    assert kaggle_metric_2020(gt, tmp_path / "w20.csv") < 1.0
    with pytest.raises(ValueError, match="layout"):
        make_submission(preds, ["a.jpg"], None, class_map=class_map, layout=2021)
