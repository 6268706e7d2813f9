"""Bad input through ``fashion-mrcnn``: skip mode and its report, duplicates, empty / binary files,
no-overlap scoring, extreme images. Every refusal exits 2 with one stderr line naming the input.

No model is trained here: ``train`` and ``evaluate`` get a stand-in for the stage function, since
what is tested is the data they are handed and the report they leave.
"""

from __future__ import annotations

import csv
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from fashion_mrcnn.cli import main
from fashion_mrcnn.data.formats import rle
from tests.workflow.train_fakes import no_steps_summary

HEADER = "ImageId,EncodedPixels,Height,Width,ClassId"
H, W = 40, 30


def run(*args) -> int:
    return main([str(a) for a in args])


def one_error_line(capsys, command: str) -> str:
    """The command's stderr: exactly one line ``fashion-mrcnn COMMAND: error: ...``."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"fashion-mrcnn {command}: error: ")
    assert "Traceback" not in err
    return lines[0]


def box_rle(y1, x1, y2, x2, h=H, w=W) -> str:
    mask = np.zeros((h, w), np.uint8)
    mask[y1:y2, x1:x2] = 1
    return rle.encode(mask)


def write_jpeg(path, h=H, w=W, seed=0) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), np.uint8)).save(path)


def write_bomb_png(path, width=20_000, height=20_000) -> None:
    """A PNG header announcing 400 MP (PIL: DecompressionBombError) with a tiny pixel stream."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    )


def make_data(root, rows: list[str], n_good: int = 4, splits: dict | None = None):
    """An iMaterialist directory: ``train/`` with ``good0.jpg`` ... (40x30), ``train.csv`` = one
    valid row per good image + ``rows``; optional ``splits.json``."""
    images = root / "train"
    images.mkdir(parents=True)
    lines = [HEADER]
    for k in range(n_good):
        write_jpeg(images / f"good{k}.jpg", seed=k)
        lines.append(f"good{k}.jpg,{box_rle(2, 2, 20, 15)},{H},{W},{k + 1}")
    (root / "train.csv").write_text("\n".join(lines + rows) + "\n")
    if splits is not None:
        (root / "splits.json").write_text(json.dumps(splits))
    return root


@pytest.fixture
def broken(tmp_path):
    """Good images plus one of each problem skip mode must catch at index time."""
    root = tmp_path / "data"
    rows = [
        f"trunc.jpg,{box_rle(0, 0, 5, 5)},{H},{W},1",
        f"empty.jpg,{box_rle(0, 0, 5, 5)},{H},{W},1",
        f"small.jpg,{box_rle(0, 0, 5, 5)},{H + 1},{W},1",  # file is 40x30
        f"good0.jpg,1 5 3 4,{H},{W},2",  # overlapping runs
        f"good1.jpg,20 2 1 2,{H},{W},2",  # unsorted runs
        f"good2.jpg,1 2 10 0 20 1,{H},{W},2",  # zero-length run
        f"good0.jpg,{box_rle(2, 2, 20, 15)},{H},{W},1",  # duplicate of the first row
    ]
    make_data(root, rows)
    write_jpeg(root / "train" / "trunc.jpg")
    data = (root / "train" / "trunc.jpg").read_bytes()
    (root / "train" / "trunc.jpg").write_bytes(data[: len(data) // 2])
    (root / "train" / "empty.jpg").write_bytes(b"")
    write_jpeg(root / "train" / "small.jpg")
    return root


EXPECTED_ITEMS = {  # report item -> reason excerpt
    "train.csv row 11, image good0.jpg": "duplicate of row 1",
    "train.csv image trunc.jpg": "trunc.jpg: cannot decode image",
    "train.csv image empty.jpg": "empty.jpg: cannot read image",
    "train.csv image small.jpg": "file is 40x30 (HxW) but the annotation says 41x30",
    "train.csv row 8, image good0.jpg": "runs overlapping",
    "train.csv row 9, image good1.jpg": "runs not strictly increasing",
    "train.csv row 10, image good2.jpg": "length 0 < 1",
}


def read_report(path) -> dict[str, str]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["item", "reason"]
    return dict(rows[1:])


def check_report(path) -> None:
    report = read_report(path)
    assert set(report) == set(EXPECTED_ITEMS)
    for item, excerpt in EXPECTED_ITEMS.items():
        assert excerpt in report[item], (item, report[item])


# ----------------------------------------------------------------------------- skip mode
def test_stats_skip_mode_reports_every_bad_item(broken, tmp_path, capsys):
    report = tmp_path / "skipped.csv"
    assert run("stats", broken, "--on-error", "skip", "--skip-report", report) == 0
    out = capsys.readouterr().out
    assert "Skipped or dropped while reading: 7 skipped" in out and str(report) in out
    total = next(ln for ln in out.splitlines() if ln.startswith("total")).split()
    assert total == ["total", "4", "4"]  # the 4 good rows of the 4 good images
    check_report(report)


def test_stats_raise_mode_names_the_first_bad_row(broken, capsys):
    assert run("stats", broken) == 2
    line = one_error_line(capsys, "stats")
    assert "train.csv row 8, image good0.jpg: runs overlapping" in line


def test_cache_skip_mode_packs_only_good_images_and_writes_the_report(broken, tmp_path, capsys):
    out = tmp_path / "cache"
    assert run("cache", broken, "--out", out, "--size", 32, "--on-error", "skip") == 0
    stdout = capsys.readouterr().out
    report = out / "skipped.csv"  # the default place without --skip-report
    assert f"7 item(s) skipped or dropped while reading (listed with reasons in {report})" in (
        stdout
    )
    check_report(report)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["num_images"] == 4


def test_cache_raise_mode_stops_with_one_line(broken, tmp_path, capsys):
    rows = (broken / "train.csv").read_text().splitlines()
    (broken / "train.csv").write_text("\n".join(rows[:6]) + "\n")  # 4 good + trunc + empty
    assert run("cache", broken, "--out", tmp_path / "cache", "--size", 32) == 2
    assert "trunc.jpg: cannot decode image" in one_error_line(capsys, "cache")


def test_train_and_evaluate_pass_the_policy_to_open_dataset(broken, tmp_path, capsys, monkeypatch):
    from fashion_mrcnn.config import Config
    from fashion_mrcnn.workflow import run_inputs, stages

    ids = ["good0.jpg", "good1.jpg", "good2.jpg", "good3.jpg"]
    splits = {"train": [*ids[:3], "trunc.jpg", "empty.jpg", "small.jpg"], "val": ids[3:]}
    (broken / "splits.json").write_text(json.dumps(splits))
    seen = {}

    def fake_train(config, train_ds, val_ds, out_dir, **kwargs):
        seen["train"], seen["val"] = train_ds, val_ds
        return no_steps_summary(out_dir)

    monkeypatch.setattr(stages, "train", fake_train)
    report = tmp_path / "train_skipped.csv"
    run_dir = tmp_path / "run"
    args = ("--out", run_dir, "--preset", "cpu-smoke", "--on-error", "skip")
    assert run("train", broken, *args, "--skip-report", report) == 0
    out = capsys.readouterr().out
    assert out.count("skipped or dropped while reading") == 1  # said once, not per split
    assert f"{broken}: 7 item(s) skipped" in out
    check_report(report)
    train_ds, val_ds = seen["train"], seen["val"]
    assert [info["id"] for info in train_ds.image_info] == ids[:3]
    assert [info["id"] for info in val_ds.image_info] == ids[3:]
    assert len(train_ds.skip_report) == 7  # a split keeps the report of its source
    for ds in (train_ds, val_ds):
        for i in ds.image_ids:  # nothing skippable is left for training to meet
            ds.load_image(i)
            ds.load_mask(i)

    def fake_evaluate(config, weights, dataset, out_dir, **kwargs):
        seen["evaluate"] = dataset
        keys = ("mask_map50", "segm_AP", "bbox_AP", "num_images", "num_predictions")
        return dict.fromkeys(keys, 0)

    monkeypatch.setattr(stages, "evaluate", fake_evaluate)
    # the weights are not what this test is about: no model is built or loaded
    monkeypatch.setattr(run_inputs, "detector", lambda config, args: "model")
    config = Config.preset("cpu-smoke", NUM_CLASSES=47).to_yaml(tmp_path / "cfg.yaml")
    weights = tmp_path / "w.h5"
    weights.write_bytes(b"")
    eval_dir = tmp_path / "eval"
    common = ("--weights", weights, "--config", config, "--out", eval_dir, "--split", "train")
    assert run("evaluate", broken, *common, "--on-error", "skip") == 0
    assert f"listed with reasons in {eval_dir / 'skipped.csv'}" in capsys.readouterr().out
    check_report(eval_dir / "skipped.csv")
    assert [info["id"] for info in seen["evaluate"].image_info] == ids[:3]
    # raise mode: every annotation is checked before the model loads (issue 22: not after the
    # inference pass); the first bad row stops it, named, and evaluate never runs
    del seen["evaluate"]
    assert run("evaluate", broken, *common) == 2
    assert "runs overlapping" in capsys.readouterr().err
    assert "evaluate" not in seen


def test_duplicates_are_reported_in_raise_mode_too(tmp_path, capsys):
    root = make_data(tmp_path / "data", [f"good1.jpg,{box_rle(2, 2, 20, 15)},{H},{W},7"] * 2)
    assert run("stats", root) == 0
    out = capsys.readouterr().out
    assert "Skipped or dropped while reading: 1 skipped" in out
    assert "train.csv row 6, image good1.jpg: duplicate of row 5" in out
    assert next(ln for ln in out.splitlines() if ln.startswith("total")).split()[1:] == ["5", "4"]
    cache = tmp_path / "cache"
    assert run("cache", root, "--out", cache, "--size", 32) == 0
    assert f"1 item(s) skipped or dropped while reading (listed with reasons in {cache}" in (
        capsys.readouterr().out
    )
    assert list(read_report(cache / "skipped.csv")) == ["train.csv row 6, image good1.jpg"]


# ----------------------------------------------------------------------------- empty / binary
def test_header_only_csv_is_refused(tmp_path, capsys):
    root = make_data(tmp_path / "data", [], n_good=1)
    (root / "train.csv").write_text(HEADER + "\n")
    assert run("stats", root) == 2
    line = one_error_line(capsys, "stats")
    assert f"{root / 'train.csv'}: no data rows, only a header" in line


def test_binary_coco_json_is_refused(tmp_path, capsys):
    path = tmp_path / "instances.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00")
    assert run("stats", path) == 2
    assert f"{path}: not a UTF-8 text file" in one_error_line(capsys, "stats")


# ----------------------------------------------------------------------------- score
@pytest.fixture
def gt_csv(tmp_path):
    path = tmp_path / "gt.csv"
    rows = [f"img{k}.jpg,{box_rle(0, 0, 10, 10)},{H},{W},{k}" for k in range(5)]
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def test_score_without_common_image_id_is_refused(gt_csv, tmp_path, capsys):
    pred = tmp_path / "pred.csv"
    rows = [f"img{k},{box_rle(0, 0, 10, 10)},{k}" for k in range(5)]  # extension dropped
    pred.write_text("\n".join(["ImageId,EncodedPixels,ClassId", *rows]) + "\n")
    assert run("score", "--gt", gt_csv, "--pred", pred) == 2
    line = one_error_line(capsys, "score")
    assert "no ImageId in common" in line
    assert f"{gt_csv} (5 images, e.g. img0.jpg, img1.jpg, img2.jpg, ...)" in line
    assert f"{pred} (5 images, e.g. img0, img1, img2, ...)" in line


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "pred.csv: empty file"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01", "pred.csv: not a UTF-8 text file"),
        (b"ImageId,EncodedPixels,ClassId\n", "no ImageId in common"),
    ],
    ids=["zero bytes", "binary", "header only"],
)
def test_score_refuses_empty_or_binary_predictions(gt_csv, tmp_path, capsys, content, message):
    pred = tmp_path / "pred.csv"
    pred.write_bytes(content)
    assert run("score", "--gt", gt_csv, "--pred", pred) == 2
    assert message in one_error_line(capsys, "score")


def test_score_partial_overlap_warns_with_counts(gt_csv, tmp_path, capsys, caplog):
    pred = tmp_path / "pred.csv"
    rows = [f"img{k}.jpg,{box_rle(0, 0, 10, 10)},{k}" for k in range(2)] + ["other.jpg,1 3,1"]
    pred.write_text("\n".join(["ImageId,EncodedPixels,ClassId", *rows]) + "\n")
    with caplog.at_level("WARNING"):
        assert run("score", "--gt", gt_csv, "--pred", pred) == 0
    assert "iMaterialist score: 0.40000" in capsys.readouterr().out
    assert "covers 2 of the 5 ground-truth images (3 without a prediction row score 0)" in (
        caplog.text
    )
    assert "1 predicted images are not in the ground truth and are ignored" in caplog.text


# ----------------------------------------------------------------------------- extreme images
def test_cache_packs_a_3000x2_image(tmp_path, capsys):
    root = make_data(tmp_path / "data", ["strip.jpg,1 100,3000,2,5"], n_good=1)
    Image.new("RGB", (2, 3000), (200, 10, 10)).save(root / "train" / "strip.jpg")
    out = tmp_path / "cache"
    assert run("cache", root, "--out", out, "--size", 64) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["num_images"] == 2
    capsys.readouterr()


def test_decompression_bomb_is_a_one_line_error_or_skipped(tmp_path, capsys):
    root = make_data(tmp_path / "data", ["bomb.png,1 5,20000,20000,1"], n_good=2)
    write_bomb_png(root / "train" / "bomb.png")
    assert run("cache", root, "--out", tmp_path / "c1", "--size", 32) == 2
    line = one_error_line(capsys, "cache")
    assert "bomb.png: image too large (400,000,000 pixels)" in line
    assert "100,000,000 pixel limit" in line
    report = tmp_path / "bomb.csv"
    args = ("--out", tmp_path / "c2", "--size", 32, "--on-error", "skip", "--skip-report", report)
    assert run("cache", root, *args) == 0
    assert list(read_report(report)) == ["train.csv image bomb.png"]
    assert json.loads((tmp_path / "c2" / "manifest.json").read_text())["num_images"] == 2


def test_cache_without_data_is_a_one_line_error(tmp_path, capsys):
    assert run("cache", "--out", tmp_path / "cache") == 2  # was a TypeError traceback
    assert "cache needs the DATA to pack" in one_error_line(capsys, "cache")
