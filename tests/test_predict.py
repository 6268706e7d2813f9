"""Prediction records, JSON Lines round trip and predict_to_dir with a fake model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fashion_mrcnn.data.formats.rle import decode
from fashion_mrcnn.errors import FashionDataError
from fashion_mrcnn.predict import (
    collect_inputs,
    predict_records,
    predict_to_dir,
    read_jsonl,
    write_jsonl,
)

CLASS_NAMES = ["BG", "shirt, blouse", "dress", "shoe"]


class FakeModel:
    """detect() returns two fixed instances per image, scaled to the image size."""

    class config:  # noqa: N801 - mimics model.config
        BATCH_SIZE = 2

    def __init__(self):
        self.batches = []

    def detect(self, images):
        self.batches.append(len(images))
        out = []
        for im in images:
            h, w = im.shape[:2]
            boxes = np.array([[0, 0, h // 2, w // 2], [h // 2, w // 4, h, w]], np.int32)
            masks = np.zeros((h, w, 2), bool)
            for k, (y1, x1, y2, x2) in enumerate(boxes):
                masks[y1:y2, x1:x2, k] = True
            out.append({"rois": boxes, "class_ids": np.array([2, 3], np.int32),
                        "scores": np.array([0.97, 0.6], np.float32), "masks": masks,
                        "attribute_ids": [[5, 1], []]})  # fmt: skip
        return out


@pytest.fixture
def images(tmp_path):
    paths = []
    for name, (h, w) in {"a.jpg": (40, 30), "b.png": (20, 20), "c.jpg": (16, 24)}.items():
        p = tmp_path / "imgs" / name
        p.parent.mkdir(exist_ok=True)
        Image.fromarray(np.full((h, w, 3), 200, np.uint8)).save(p)
        paths.append(p)
    return paths


def test_predict_records_layout(images):
    model = FakeModel()
    records = predict_records(model, images, CLASS_NAMES, category_ids={2: 10, 3: 23},
                              attributes={1: "above-the-hip", 5: "symmetrical"})  # fmt: skip
    assert model.batches == [2, 2]
    assert [r["image"] for r in records] == [str(p) for p in images]
    first = records[0]
    assert (first["width"], first["height"]) == (30, 40)
    dress, shoe = first["instances"]
    assert dress["box"] == [0, 0, 15, 20]  # x1, y1, x2, y2
    assert dress["class_id"] == 10 and dress["class_name"] == "dress"
    assert dress["attributes"] == [1, 5]
    assert dress["attribute_names"] == ["above-the-hip", "symmetrical"]
    assert dress["score"] == pytest.approx(0.97, abs=1e-6)
    mask = decode(dress["mask_rle"], 40, 30).astype(bool)
    assert mask[:20, :15].all() and mask.sum() == 300
    assert shoe["class_id"] == 23 and shoe["attributes"] == []
    json.dumps(records)
    internal = predict_records(FakeModel(), images[:1], CLASS_NAMES)
    assert internal[0]["instances"][0]["class_id"] == 2
    assert "attribute_names" not in internal[0]["instances"][0]
    with pytest.raises(FashionDataError, match="category_ids"):
        predict_records(FakeModel(), images[:1], CLASS_NAMES, category_ids={2: 10})


def test_predict_stage_names_attributes_from_the_config(tmp_path, images):
    from fashion_mrcnn.config import Config
    from fashion_mrcnn.workflow import stages

    named = Config(NUM_CLASSES=4, NUM_ATTRIBUTES=2, ATTRIBUTE_IDS=[5, 1],
                   ATTRIBUTE_NAMES=["symmetrical", "above-the-hip"])  # fmt: skip
    out = stages.predict(named, FakeModel(), images[:1], tmp_path / "named", CLASS_NAMES)
    dress, shoe = read_jsonl(out["jsonl"])[0]["instances"]
    assert dress["attributes"] == [1, 5]
    assert dress["attribute_names"] == ["above-the-hip", "symmetrical"]
    assert shoe["attribute_names"] == []
    unnamed = named.replace(ATTRIBUTE_NAMES=[])  # names unknown: ids only
    out = stages.predict(unnamed, FakeModel(), images[:1], tmp_path / "ids", CLASS_NAMES)
    assert "attribute_names" not in read_jsonl(out["jsonl"])[0]["instances"][0]


def test_jsonl_round_trip_and_errors(tmp_path, images):
    records = predict_records(FakeModel(), images, CLASS_NAMES)
    path = write_jsonl(records, tmp_path / "out" / "p.jsonl")
    assert read_jsonl(path) == records
    (tmp_path / "bad.jsonl").write_text(json.dumps(records[0]) + "\n\n{oops\n")
    with pytest.raises(FashionDataError, match=r"bad\.jsonl line 3"):
        read_jsonl(tmp_path / "bad.jsonl")
    (tmp_path / "bad2.jsonl").write_text("[1, 2]\n")
    with pytest.raises(FashionDataError, match="line 1: not a prediction record"):
        read_jsonl(tmp_path / "bad2.jsonl")


def test_predict_to_dir_writes_jsonl_and_overlays(tmp_path, images):
    out = tmp_path / "pred"
    records = predict_to_dir(FakeModel(), [images[0].parent, images[0]], out, CLASS_NAMES,
                             progress=False)  # fmt: skip
    assert len(records) == 4  # the folder's 3 images + a.jpg again
    assert read_jsonl(out / "predictions.jsonl") == records
    pngs = sorted(p.name for p in (out / "overlays").iterdir())
    assert pngs == ["a.png", "a_.png", "b.png", "c.png"]
    overlay = np.asarray(Image.open(out / "overlays" / "a.png"))
    assert overlay.shape == (520, 390, 3)  # 40 x 30 enlarged 13x to reach OVERLAY_MIN_SIDE 384
    assert not (overlay == 200).all()  # something was drawn
    with pytest.raises(FileNotFoundError):
        collect_inputs(tmp_path / "missing")


def _truncate(path, size=60):
    data = path.read_bytes()[:size]
    path.write_bytes(data)


def test_predict_to_dir_skips_an_unreadable_image_and_reports_it(tmp_path, images):
    from fashion_mrcnn.errors import SkipReport

    _truncate(images[0])  # a.jpg, first in the folder
    out = tmp_path / "pred"
    skipped = SkipReport("predict")
    records = predict_to_dir(FakeModel(), images[0].parent, out, CLASS_NAMES, progress=False,
                             skipped=skipped)  # fmt: skip
    good = [str(p) for p in images[1:]]
    assert [r["image"] for r in records] == good
    assert [r["image"] for r in read_jsonl(out / "predictions.jsonl")] == good
    report = pd.read_csv(out / "skipped.csv")
    assert report["item"].tolist() == [str(images[0])]
    assert "cannot" in report["reason"][0]
    assert sorted(p.name for p in (out / "overlays").iterdir()) == ["b.png", "c.png"]
    # Without a report the same folder stops at the unreadable file, naming it.
    with pytest.raises(FashionDataError, match="a.jpg"):
        predict_to_dir(FakeModel(), images[0].parent, tmp_path / "strict", CLASS_NAMES,
                       progress=False)  # fmt: skip
    # A later clean run into the same folder leaves no stale report behind.
    predict_to_dir(FakeModel(), images[1:], out, CLASS_NAMES, progress=False,
                   skipped=SkipReport("predict"))  # fmt: skip
    assert not (out / "skipped.csv").exists()


class FailingModel(FakeModel):
    """Fails on its second ``detect`` call (a crash mid-run)."""

    def detect(self, images):
        if self.batches:
            raise RuntimeError("boom")
        return super().detect(images)


def test_predict_to_dir_keeps_records_written_before_a_failure(tmp_path, images):
    out = tmp_path / "pred"
    with pytest.raises(RuntimeError, match="boom"):
        predict_to_dir(FailingModel(), images, out, CLASS_NAMES, progress=False)
    # BATCH_SIZE 2: the first batch (a.jpg, b.png) was done and is on disk.
    assert [r["image"] for r in read_jsonl(out / "predictions.jsonl")] == [
        str(p) for p in images[:2]
    ]


def test_predict_to_dir_applies_the_postprocess_setting(tmp_path, images):
    """A class threshold above the shoe's 0.6 keeps the dress only, with its attributes."""
    from fashion_mrcnn.inference.postprocess import PostprocessSetting

    setting = PostprocessSetting(class_thresholds={3: 0.7})
    records = predict_to_dir(FakeModel(), images, tmp_path / "pp", CLASS_NAMES, progress=False,
                             overlays=False, postprocess=setting)  # fmt: skip
    assert [[i["class_name"] for i in r["instances"]] for r in records] == [["dress"]] * 3
    assert records[0]["instances"][0]["attributes"] == [1, 5]


class SoftModel(FakeModel):
    """FakeModel with soft masks on request: each instance's box at 0.6, its top row at 0.3."""

    def detect(self, images, soft_masks=False):
        self.soft_asked = soft_masks
        out = super().detect(images)
        for result in out if soft_masks else ():
            soft = np.where(result["masks"], np.uint8(120), np.uint8(0))
            for k, (y1, _, _, _) in enumerate(result["rois"]):
                soft[y1, :, k] = np.where(result["masks"][y1, :, k], 60, 0)
            result["soft_masks"] = soft
        return out


def test_predict_to_dir_asks_for_soft_masks_when_the_setting_has_a_mask_threshold(tmp_path, images):
    """At 0.5 the top row of each mask (0.3) goes; without a mask threshold detect is called as
    before and its masks are written."""
    from fashion_mrcnn.inference.postprocess import PostprocessSetting

    model = SoftModel()
    setting = PostprocessSetting(overlap="none", mask_threshold=0.5)
    records = predict_to_dir(model, images[:1], tmp_path / "pp", CLASS_NAMES, progress=False,
                             overlays=False, postprocess=setting)  # fmt: skip
    assert model.soft_asked
    mask = decode(records[0]["instances"][0]["mask_rle"], 40, 30)
    assert mask.sum() == 19 * 15 and not mask[0].any()  # the dress's box: 20 x 15 px
    records = predict_to_dir(model, images[:1], tmp_path / "pp", CLASS_NAMES, progress=False,
                             overlays=False, postprocess=PostprocessSetting(overlap="none"))  # fmt: skip
    assert not model.soft_asked
    assert decode(records[0]["instances"][0]["mask_rle"], 40, 30).sum() == 20 * 15
