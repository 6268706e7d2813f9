"""Every ``fashion-mrcnn`` command once on a tiny fixture: exit codes and outputs.

One tiny model is trained once per session (cpu-smoke preset, 64 px, a few steps) and shared by
the evaluate / predict / submit tests; they check the plumbing, not accuracy (the overfit test
and the demo cover learning).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from fashion_mrcnn.cli import main
from tests.tf_log import project_lines


def run(*args: str) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="session")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    assert run("synth", "--images", 6, "--size", 64, "--seed", 3, "--out", out) == 0
    return out


@pytest.fixture(scope="session")
def trained(synth, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = run(
        "train",
        synth,
        "--out",
        out,
        "--preset",
        "cpu-smoke",
        "--categories",
        "1,6,8,10,14,23,24",
        "--heads-epochs",
        1,
        "--all-epochs",
        1,
        "--steps-per-epoch",
        2,
        "--validation-steps",
        1,
        "--augment",
    )
    assert code == 0
    checkpoints = sorted(out.glob("logs/*/mask_rcnn_*.h5"))
    assert [c.name[-7:] for c in checkpoints] == ["0001.h5", "0002.h5"]
    return out, checkpoints[-1]


def test_help_of_every_command(capsys):
    for command in (
        "synth",
        "stats",
        "convert",
        "score",
        "train",
        "evaluate",
        "predict",
        "submit",
        "tune-postprocess",
        "merge-shards",
        "export",
        "demo",
        "tune",
        "pipeline",
        "cache",
        "weights",
    ):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
        assert "usage: fashion-mrcnn " + command in capsys.readouterr().out


def test_console_script_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "fashion_mrcnn.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "demo" in proc.stdout


def test_synth_writes_imaterialist_layout(synth):
    frame = pd.read_csv(synth / "train.csv")
    assert list(frame.columns) == ["ImageId", "EncodedPixels", "Height", "Width", "ClassId"]
    assert frame["ImageId"].nunique() == 6
    assert len(list((synth / "train").glob("*.jpg"))) == 6
    splits = json.loads((synth / "splits.json").read_text())
    assert sorted(splits["train"] + splits["val"]) == sorted(frame["ImageId"].unique())


def test_stats_prints_per_split_table(synth, capsys):
    assert run("stats", synth) == 0
    out = capsys.readouterr().out
    assert "train" in out and "val" in out and "shoe" in out


def test_bad_input_exits_2_with_named_file(tmp_path, capsys):
    bad = tmp_path / "train.csv"
    bad.write_text("ImageId,EncodedPixels,Height,Width,ClassId\na.jpg,1 2 3,10,10,1\n")
    assert run("stats", bad) == 2
    err = capsys.readouterr().err
    assert "train.csv" in err and "row 1" in err and "odd number" in err


def test_score_ground_truth_against_itself(synth, tmp_path, capsys):
    pred = tmp_path / "pred.csv"
    pd.read_csv(synth / "train.csv")[["ImageId", "EncodedPixels", "ClassId"]].to_csv(
        pred, index=False
    )
    assert run("score", "--gt", synth / "train.csv", "--pred", pred) == 0
    assert "iMaterialist score: 1.00000" in capsys.readouterr().out


def test_convert_csv_coco_round_trip(synth, tmp_path):
    coco = tmp_path / "instances.json"
    assert (
        run(
            "convert",
            "csv-coco",
            synth / "train.csv",
            coco,
            "--labels",
            synth / "label_descriptions.json",
            "--images",
            synth / "train",
        )
        == 0
    )
    back = tmp_path / "back.csv"
    assert run("convert", "coco-csv", coco, back, "--images", synth / "train") == 0
    a = pd.read_csv(synth / "train.csv").sort_values(["ImageId", "EncodedPixels"])
    b = pd.read_csv(back).sort_values(["ImageId", "EncodedPixels"])
    assert a["EncodedPixels"].tolist() == b["EncodedPixels"].tolist()
    assert a["ClassId"].astype(str).tolist() == b["ClassId"].astype(str).tolist()


def test_convert_voc_csv_split_tfrecord(tmp_path):
    from PIL import Image

    xml_dir = tmp_path / "voc"
    xml_dir.mkdir()
    for k in range(5):
        Image.new("RGB", (40, 30), (k * 40, 0, 0)).save(xml_dir / f"im{k}.jpg")
        cls = "shirt" if k % 2 else "dress"
        (xml_dir / f"im{k}.xml").write_text(
            f"<annotation><filename>im{k}.jpg</filename><size><width>40</width>"
            f"<height>30</height><depth>3</depth></size><object><name>{cls}</name>"
            "<bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax><ymax>25</ymax></bndbox>"
            "</object></annotation>"
        )
    csv = tmp_path / "labels.csv"
    assert run("convert", "voc-csv", xml_dir, csv) == 0
    assert len(pd.read_csv(csv)) == 5
    assert run("convert", "voc-split", csv, tmp_path / "split") == 0
    record = tmp_path / "train.record"
    assert run("convert", "voc-tfrecord", csv, record, "--images", xml_dir) == 0
    assert record.stat().st_size > 0


def test_train_writes_config_classes_and_logs(trained):
    out, checkpoint = trained
    assert (out / "train_config.yaml").is_file()
    classes = json.loads((out / "classes.json").read_text())
    assert [c["id"] for c in classes] == [1, 6, 8, 10, 14, 23, 24]
    log = pd.read_csv(next(out.glob("logs/*/training.csv")))
    assert {"loss", "rpn_class_loss", "mrcnn_mask_loss", "val_loss"} <= set(log.columns)
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["epochs"] == 2 and summary["checkpoint"] == str(checkpoint)
    # --strategy auto on a machine without GPUs: one device, the global batch IMAGES_PER_GPU
    assert (summary["strategy"], summary["replicas"], summary["global_batch"]) == ("one", 1, 2)


def test_evaluate_writes_metrics(trained, synth, tmp_path, capsys):
    _, checkpoint = trained
    assert run("evaluate", synth, "--weights", checkpoint, "--out", tmp_path, "--analysis") == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["num_images"] >= 1 and metrics["num_gt"] >= 1
    # With ground truth every AP is defined (0 when nothing was detected): a None here would be
    # a NaN metric reported as success.
    for key in ("mask_map50", "segm_AP", "segm_AP50", "bbox_AP", "bbox_AP50"):
        assert isinstance(metrics[key], float) and 0.0 <= metrics[key] <= 1.0, (key, metrics)
    assert (tmp_path / "per_class.csv").is_file() and (tmp_path / "confusion.png").is_file()
    printed = dict(
        (name.strip(), value.strip())
        for name, value in (
            line.split(":", 1) for line in capsys.readouterr().out.splitlines() if ":" in line
        )
    )
    for key in ("mask_map50", "segm_AP", "bbox_AP"):
        assert float(printed[key]) == metrics[key], key
    for key in ("num_images", "num_predictions"):
        assert int(printed[key]) == metrics[key], key
    # the Kaggle 2019 score by attribute policy (hand-worked in tests/evaluation/test_kaggle_report)
    assert isinstance(metrics["kaggle_2019"], float) and 0.0 <= metrics["kaggle_2019"] <= 1.0
    assert "iMaterialist 2019 score by attribute policy" in printed
    assert (tmp_path / "kaggle_2019_policies.csv").is_file()


def test_predict_writes_jsonl_and_overlays(trained, synth, tmp_path):
    _, checkpoint = trained
    assert run("predict", synth / "train", "--weights", checkpoint, "--out", tmp_path) == 0
    lines = (tmp_path / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == 6
    record = json.loads(lines[0])
    assert {"image", "width", "height", "instances"} <= set(record)
    assert len(list((tmp_path / "overlays").glob("*.png"))) == 6


def test_predict_skips_an_unreadable_image_reports_it_and_exits_1(trained, synth, tmp_path, capsys):
    _, checkpoint = trained
    images = tmp_path / "images"
    shutil.copytree(synth / "train", images)
    bad = sorted(images.glob("*.jpg"))[2]
    bad.write_bytes(bad.read_bytes()[:200])  # truncated
    out = tmp_path / "out"
    assert run("predict", images, "--weights", checkpoint, "--out", out) == 1
    records = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    good = sorted(str(p) for p in images.glob("*.jpg") if p != bad)
    assert [r["image"] for r in records] == good
    report = pd.read_csv(out / "skipped.csv")
    assert report["item"].tolist() == [str(bad)]
    err = capsys.readouterr().err
    assert "1 unreadable image(s) skipped" in err and str(out / "skipped.csv") in err


@pytest.mark.slow  # ~50 s: four commands each detect with 2 checkpoints x flip (.ci/run slow step)
def test_ensembles_and_tta_from_every_detecting_command(trained, synth, tmp_path, capsys):
    run_dir, checkpoint = trained
    first = sorted(run_dir.glob("logs/*/mask_rcnn_*.h5"))[0]
    out = tmp_path / "predict"
    args = ("--weights", checkpoint, first, "--tta", "flip")
    assert run("predict", synth / "train", *args, "--out", out) == 0
    assert "test-time passes: 2 checkpoints x (flip): 4 passes per image" in capsys.readouterr().out
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 6
    assert run("evaluate", synth, "--weights", checkpoint, "--tta", "flip", "1.5",
               "--out", tmp_path / "eval") == 0  # fmt: skip
    assert "1 checkpoint x (flip, scales 1.5): 4 passes" in capsys.readouterr().out
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["num_images"] >= 1
    sub = tmp_path / "sub.csv"
    assert run("submit", synth / "train", *args, "--out", sub, "--size", 64, 64) == 0
    assert pd.read_csv(sub)["ImageId"].nunique() == 6
    pp = ("tune-postprocess", synth, "--split", "val", "--out", tmp_path / "pp")
    assert run(*pp, "--weights", checkpoint) == 0
    assert run(*pp, "--weights", checkpoint, "--tta", "flip") == 0  # other passes: not reused
    assert capsys.readouterr().out.count("detections cache written") == 2
    code = run("submit", synth / "train", "--weights", checkpoint, "--tta", "flip", "mirror",
               "--out", sub)  # fmt: skip
    assert code == 2
    _one_line_error(capsys, "--tta", "'mirror'")


def test_submit_writes_valid_csv(trained, synth, tmp_path):
    _, checkpoint = trained
    out = tmp_path / "submission.csv"
    assert (
        run("submit", synth / "train", "--weights", checkpoint, "--out", out, "--size", 64, 64) == 0
    )
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["ImageId", "EncodedPixels", "ClassId"]
    assert frame["ImageId"].nunique() == 6  # a row for every image, even with no detections
    out20 = tmp_path / "submission-2020.csv"
    args = ("--weights", checkpoint, "--out", out20, "--size", 64, 64, "--layout", 2020)
    assert run("submit", synth / "train", *args) == 0
    frame20 = pd.read_csv(out20, dtype=str, keep_default_na=False)
    assert list(frame20.columns) == ["ImageId", "EncodedPixels", "ClassId", "AttributesIds"]
    assert (
        frame20["ClassId"].tolist() == frame["ClassId"].astype(str).str.split("_").str[0].tolist()
    )


def test_tune_postprocess_ranks_settings_caches_detections_and_feeds_submit(
    trained, synth, tmp_path, capsys
):
    import yaml

    _, checkpoint = trained
    out = tmp_path / "pp"
    args = ("tune-postprocess", synth, "--weights", checkpoint, "--split", "val", "--out", out)
    assert run(*args, "--top", 3) == 0
    printed = capsys.readouterr().out
    assert "detections cache written" in printed and "best setting:" in printed
    table = pd.read_csv(out / "postprocess_search.csv")
    assert table["score"].is_monotonic_decreasing and len(table) > 10
    best = yaml.safe_load((out / "postprocess.yaml").read_text())
    assert best["score_threshold"] == table["score_threshold"].iloc[0]
    # soft masks cached, so the mask threshold was searched (a note would say otherwise)
    assert "mask_threshold" in best and "note:" not in printed
    assert table["mask_threshold"].notna().sum() >= 8
    assert run(*args, "--metric", "2020") == 0  # same detections, other metric: cache reused
    assert "detections cache reused" in capsys.readouterr().out
    # the YAML goes into submit: the highest threshold allowed (1.0; above is refused) leaves
    # only placeholder rows for a model this short-trained (no score reaches 1.0)
    strict = tmp_path / "strict.yaml"
    strict.write_text(yaml.safe_dump({**best, "score_threshold": 1.0, "class_thresholds": {}}))
    sub = tmp_path / "sub.csv"
    code = run("submit", synth / "train", "--weights", checkpoint, "--out", sub, "--size", 64, 64,
               "--postprocess", strict)  # fmt: skip
    assert code == 0
    frame = pd.read_csv(sub, dtype=str)
    assert len(frame) == frame["ImageId"].nunique() > 0
    assert set(frame["EncodedPixels"]) == {"1 1"}


def test_submit_and_predict_with_a_bad_postprocess_yaml_exit_2(trained, synth, tmp_path, capsys):
    _, checkpoint = trained
    bad = tmp_path / "pp.yaml"
    bad.write_text("score_threshold: 0.5\nnms_threshold: 0.3\n")
    code = run("submit", synth / "train", "--weights", checkpoint, "--out", tmp_path / "s.csv",
               "--postprocess", bad)  # fmt: skip
    assert code == 2
    _one_line_error(capsys, str(bad), "unknown key 'nms_threshold'")
    code = run("predict", synth / "train", "--weights", checkpoint, "--out", tmp_path / "p",
               "--postprocess", bad)  # fmt: skip
    assert code == 2
    _one_line_error(capsys, str(bad), "nms_threshold")


def test_predict_without_classes_is_a_clear_error(trained, synth, tmp_path, capsys):
    _, checkpoint = trained
    (trained[0] / "classes.json").rename(trained[0] / "classes.bak")
    try:
        assert run("predict", synth / "train", "--weights", checkpoint, "--out", tmp_path) == 2
        assert "classes.json" in capsys.readouterr().err
    finally:
        (trained[0] / "classes.bak").rename(trained[0] / "classes.json")


def test_export_bad_threshold_or_no_classes_exits_2(trained, tmp_path, capsys):
    _, checkpoint = trained
    code = run("export", "--weights", checkpoint, "--out", tmp_path, "--min-confidence", 1.5)
    assert code == 2
    _one_line_error(capsys, "--min-confidence", "[0, 1]")
    (trained[0] / "classes.json").rename(trained[0] / "classes.bak")
    try:
        assert run("export", "--weights", checkpoint, "--out", tmp_path / "saved") == 2
        assert "classes.json" in capsys.readouterr().err
    finally:
        (trained[0] / "classes.bak").rename(trained[0] / "classes.json")
    assert not (tmp_path / "saved").exists()


@pytest.mark.slow  # about 20 s: the export traces the whole graph
def test_export_writes_a_savedmodel_that_serves_image_bytes(trained, synth, tmp_path, capsys):
    import tensorflow as tf

    run_dir, checkpoint = trained
    out = tmp_path / "saved"
    assert run("export", "--weights", checkpoint, "--out", out, "--min-confidence", 0) == 0
    assert "serving_default" in capsys.readouterr().out
    names = ["BG"] + [c["name"] for c in json.loads((run_dir / "classes.json").read_text())]
    image = sorted((synth / "train").glob("*.jpg"))[0]
    serve = tf.saved_model.load(str(out)).signatures["serving_default"]
    got = {k: v.numpy() for k, v in serve(image_bytes=tf.constant([image.read_bytes()])).items()}
    n = int(got["num_detections"][0])
    assert n > 0
    assert got["masks"].shape == (1, n, 64, 64) and got["masks"].dtype == "uint8"
    assert got["boxes"].shape == (1, n, 4) and (got["scores"] >= 0).all()
    assert [s.decode() for s in got["class_names"][0]] == [names[c] for c in got["class_ids"][0]]


def test_cache_pack_and_verify_then_read_as_data(synth, tmp_path, capsys):
    assert run("cache", synth, "--out", tmp_path / "cache", "--size", 64, "--shard-size", 4) == 0
    assert len(list((tmp_path / "cache").glob("shard-*.tfrecord"))) == 2
    assert (tmp_path / "cache" / "splits.json").read_text() == (synth / "splits.json").read_text()
    assert run("cache", "--out", tmp_path / "cache", "--verify") == 0
    assert "verified" in capsys.readouterr().out
    # the cache is data for every command: the same per-split class counts as its source
    assert run("stats", synth) == 0
    source_tables = capsys.readouterr().out.split("\n", 1)[1]
    assert run("stats", tmp_path / "cache") == 0
    cache_tables = capsys.readouterr().out.split("\n", 1)[1]
    assert "val inst" in cache_tables
    assert (
        cache_tables.split("Instances per image")[0]
        == source_tables.split("Instances per image")[0]
    )


def test_weights_download_from_local_url(tmp_path, capsys):
    import hashlib

    source = tmp_path / "mirror.h5"
    source.write_bytes(b"not really weights")
    digest = hashlib.sha256(b"not really weights").hexdigest()
    (tmp_path / "w").mkdir()
    assert (
        run(
            "weights", "coco", "--out", tmp_path / "w", "--url", source.as_uri(), "--sha256", digest
        )
        == 0
    )
    assert (tmp_path / "w" / "mask_rcnn_coco.h5").read_bytes() == b"not really weights"
    assert (
        run(
            "weights",
            "coco",
            "--out",
            tmp_path / "x.h5",
            "--url",
            source.as_uri(),
            "--sha256",
            "0" * 64,
        )
        == 2
    )
    assert "sha256 mismatch" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


#: TensorFlow's C++ WARNING / ERROR log lines (absl format), e.g. grappler's "Error in
#: PredictCost()" for CropAndResize or the CUDA probe's "failed call to cuInit".
TF_WARNING_OR_ERROR = re.compile(r"^[WE]\d{4} ")


def test_demo_tiny_prints_progress_metrics_and_report_only(tmp_path):
    """The demo as a user runs it (a fresh process, TensorFlow's log level not preset): a report,
    its metrics on stdout, and no TensorFlow diagnostics that read like errors on stderr."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run(
        [sys.executable, "-m", "fashion_mrcnn.cli", "demo", "--out", str(tmp_path),
         "--images", "6", "--size", "64", "--minutes", "0.2"],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = tmp_path / "report.md"
    assert f"demo report: {report}" in proc.stdout
    assert re.search(r"held-out: mask mAP@0.5 \d\.\d{3}, COCO mask AP \d\.\d{3}", proc.stdout)
    # TensorFlow 2.19 prints its own C++ log whatever the level (tests/tf_log.py); elsewhere the
    # CLI's level keeps stderr free of TensorFlow diagnostics that read like errors.
    kept = "\n".join(project_lines(proc.stderr))
    for needle in ("PredictCost", "cuInit", "CUDA error", "Traceback"):
        assert needle not in kept, needle
    noisy = [line for line in kept.splitlines() if TF_WARNING_OR_ERROR.match(line)]
    assert noisy == []
    text = report.read_text()
    assert "mask mAP@0.5" in text and "![loss](loss.png)" in text
    assert list((tmp_path / "predictions" / "overlays").glob("*.png"))
    # the budget ended the run, and the schedule with it (the rate is back near zero)
    summary = json.loads((tmp_path / "train" / "train_summary.json").read_text())
    assert summary["stopped_by_budget"] and summary["steps"] >= 1
    assert summary["final_learning_rate"] < 0.01 * 0.02
    assert re.search(r"the schedule ended at learning rate [0-9.e-]+, at the time budget", text)


# ----------------------------------------------------------------------------- trust: the model side
CATEGORIES = "1,6,8,10,14,23,24"


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def test_weights_that_do_not_fit_exit_2_unless_allow_partial(trained, synth, tmp_path, capsys):
    import h5py

    run_dir, checkpoint = trained
    meta = ("--config", run_dir / "train_config.yaml", "--classes", run_dir / "classes.json")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["layer_names"] = [b"dense_7"]
        group = f.create_group("dense_7")
        group.attrs["weight_names"] = [b"dense_7/kernel:0"]
        group.create_dataset("dense_7/kernel:0", data=[[1.0]])
    out = tmp_path / "out"
    for command in (
        ("predict", synth / "train", "--weights", other, "--out", out, *meta),
        ("evaluate", synth, "--weights", other, "--out", out, *meta),
        ("submit", synth / "train", "--weights", other, "--out", out / "s.csv", *meta),
        ("predict", synth / "train", "--weights", other, "--out", out, "--allow-partial", *meta),
    ):
        assert run(*command) == 2
        _one_line_error(capsys, "other.h5: none of the model's", "(dense_7)")
    assert not out.exists()  # refused before anything was written
    assert (
        run(
            "train",
            synth,
            "--out",
            tmp_path / "run",
            "--preset",
            "cpu-smoke",
            "--categories",
            CATEGORIES,
            "--init-weights",
            other,
            "--exclude-heads",
        )
        == 2
    )
    _one_line_error(capsys, "other.h5: none of the model's")
    assert not list((tmp_path / "run").glob("logs/*/*.h5"))

    no_mask = tmp_path / "no_mask.h5"
    shutil.copy(checkpoint, no_mask)
    with h5py.File(no_mask, "r+") as f:
        del f["mrcnn_mask"]
        names = [n if isinstance(n, str) else n.decode() for n in f.attrs["layer_names"]]
        f.attrs["layer_names"] = [n for n in names if n != "mrcnn_mask"]
    assert run("evaluate", synth, "--weights", no_mask, "--out", out, *meta) == 2
    _one_line_error(capsys, "no_mask.h5: 1 layers", "(mrcnn_mask)", "--allow-partial")
    assert (
        run(
            "predict", synth / "train", "--weights", no_mask, "--out", out, "--allow-partial", *meta
        )
        == 0
    )
    assert "NOT LOADED (allow_partial: initial values kept): mrcnn_mask" in capsys.readouterr().out


def test_train_resume_with_exploding_lr_exits_2_keeping_the_last_good_checkpoint(
    trained, synth, tmp_path, capsys, eager
):
    run_dir = tmp_path / "run"
    shutil.copytree(trained[0], run_dir)
    resumed_from = sorted(run_dir.glob("logs/*/mask_rcnn_*.h5"))[-1]
    assert resumed_from.name.endswith("_0002.h5")
    code = run(
        "train",
        synth,
        "--out",
        run_dir,
        "--preset",
        "cpu-smoke",
        "--categories",
        CATEGORIES,
        "--heads-epochs",
        1,
        "--all-epochs",
        2,
        "--steps-per-epoch",
        1,
        "--val-split",
        "",
        "--resume",
        "--lr",
        1e6,
    )
    assert code == 2
    err = _one_line_error(capsys, "training stopped:", f"Last good checkpoint: {resumed_from}")
    assert "none written yet" not in err
    assert sorted(run_dir.glob("logs/*/mask_rcnn_*.h5"))[-1] == resumed_from
    summary = json.loads((run_dir / "train_summary.json").read_text())
    assert summary["status"] == "diverged" and summary["checkpoint"] == str(resumed_from)


def test_train_resume_skips_a_truncated_checkpoint_and_continues_the_lr_schedule(
    synth, tmp_path, capsys, eager
):
    from fashion_mrcnn.workflow import stages

    config = tmp_path / "cosine.yaml"
    stages.make_config("cpu-smoke", num_classes=8, LR_SCHEDULE="cosine", LR_WARMUP_STEPS=2).to_yaml(
        config
    )
    args = (
        "train",
        synth,
        "--out",
        tmp_path / "run",
        "--config",
        config,
        "--categories",
        CATEGORIES,
        "--heads-epochs",
        3,
        "--all-epochs",
        0,
        "--steps-per-epoch",
        1,
        "--val-split",
        "",
    )
    assert run(*args) == 0
    log_csv = next((tmp_path / "run").glob("logs/*/training.csv"))
    rates = pd.read_csv(log_csv)["learning_rate"].tolist()
    lr = stages.make_config("cpu-smoke").LEARNING_RATE
    assert rates == pytest.approx([0.5 * lr, 0.75 * lr, 0.25 * lr])  # warm-up, then cosine
    newest = sorted((tmp_path / "run").glob("logs/*/mask_rcnn_*.h5"))[-1]
    newest.write_bytes(newest.read_bytes()[:1000])  # the run was killed while copying it
    capsys.readouterr()

    assert run(*args, "--resume") == 0
    assert f"skipping checkpoint {newest}: cannot read" in capsys.readouterr().out
    log = pd.read_csv(log_csv)
    assert log["epoch"].tolist() == [0, 1, 2, 2]  # epoch 3 trained again from checkpoint 2
    assert log["learning_rate"].iloc[-1] == pytest.approx(rates[2])
    assert stages.load_inference_model(
        stages.make_config("cpu-smoke", num_classes=8), newest
    ).last_checkpoint == str(newest)
