"""The hostile-input table: one row per bad input and the command that meets it.

A CLI row gives the input's builder (``hostile_inputs``), the ``fashion-mrcnn`` argv (a template:
``{out}`` is the row's output folder, ``{tmp}`` its scratch folder, the other names come from the
builder and from ``World.names()``), the exit code, a fragment of the first line of the message
and what must (not) be on disk afterwards. ``where`` says which line the fragment is looked for
in: ``"stderr"``, the first line of stderr (``one_line``: and the only one); ``"stderr-last"``,
its last line (the summary of a run that went on past a bad input, after its progress bar);
``"stdout"``, any line of stdout; ``"log"``, a logged warning (the CLI prints those on stderr). ``item``: the issue
22 item a row checks the fix of (each failed before its fix).

A web row is one request to the app (``test_hostile_web``) with the expected status and a
fragment of the JSON ``error`` (or of the body).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from tests.hostile import hostile_inputs as inp
from tests.hostile.hostile_inputs import VAL_IMAGE

RUN_META = ("--config", "{config}", "--classes", "{classes}")


@dataclass(frozen=True)
class Row:
    id: str
    argv: tuple[str, ...]
    exit: int
    first_line: str
    build: object = None  # hostile_inputs builder
    where: str = "stderr"
    one_line: bool = True
    absent: tuple[str, ...] = ()
    present: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    needs_checkpoint: bool = False
    item: str = ""
    check: object = None  # a function of the row's names (paths) asserting what is on disk

    @property
    def command(self) -> str:
        return self.argv[0]


#: The one line inference on :func:`hostile_inputs.diverged_checkpoint` ends with (issue 22, 1).
DIVERGED = "mask_rcnn_h_0007.h5: the weights give non-finite outputs (NaN / inf in the boxes"


def no_predictions(names) -> None:
    """No predictions file is left (the first image already met the diverged weights): an empty
    one would read as photos without garments."""
    jsonl = names["out"] / "predictions.jsonl"
    assert not jsonl.exists(), jsonl.read_text()


def good_predictions_kept(names) -> None:
    """One predict record per good image; the truncated one listed with its reason."""
    out = names["out"]
    records = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert sorted(Path(r["image"]).name for r in records) == ["synth_00000.jpg", "synth_00001.jpg"]
    assert "cut.jpg" in (out / "skipped.csv").read_text()


CLI_ROWS = [
    # ------------------------------------------------------------------ convert
    Row("convert-coco-csv-without-images", ("convert", "coco-csv", "{json}", "{out}/k.csv"), 0,
        "coco-csv: wrote", inp.coco_json, where="stdout", present=("{out}/k.csv",), item="3"),
    Row("convert-voc-split-binary-csv", ("convert", "voc-split", "{csv}", "{out}"), 2,
        "labels.csv: not a text CSV", inp.binary_csv, absent=("{out}",), keep=("{csv}",),
        item="3"),
    Row("convert-voc-split-header-only", ("convert", "voc-split", "{csv}", "{out}"), 2,
        "labels.csv: 0 rows over 0 images", inp.header_only_voc_csv, absent=("{out}",), item="3"),
    Row("convert-voc-csv-bad-xml", ("convert", "voc-csv", "{xml}", "{out}/v.csv"), 2,
        "a.xml: invalid XML", inp.bad_xml_dir, absent=("{out}/v.csv",)),
    Row("convert-coco-csv-bad-json", ("convert", "coco-csv", "{json}", "{out}/k.csv"), 2,
        "instances.json: invalid JSON", inp.bad_json, absent=("{out}/k.csv",)),
    Row("convert-csv-coco-without-labels", ("convert", "csv-coco", "{synth}/train.csv",
        "{out}/c.json"), 2, "needs --labels", absent=("{out}/c.json",)),
    Row("convert-voc-tfrecord-without-images", ("convert", "voc-tfrecord", "{synth}/train.csv",
        "{out}/t.tfrecord"), 2, "needs --images", absent=("{out}",)),
    # ------------------------------------------------------------------ stats
    Row("stats-missing-image", ("stats", "{data}"), 2, f"{VAL_IMAGE}: image file not found",
        inp.missing_image_data, item="5"),
    Row("stats-truncated-image", ("stats", "{data}"), 2, f"{VAL_IMAGE}: cannot decode image",
        inp.truncated_image_data, keep=("{data}/train.csv",), item="5"),
    Row("stats-decompression-bomb", ("stats", "{data}"), 2, "pixel limit", inp.bomb_image_data),
    Row("stats-csv-without-images", ("stats", "{data}"), 0, "Image files not checked",
        inp.csv_only, where="stdout"),
    # ------------------------------------------------------------------ synth
    Row("synth-zero-images", ("synth", "--images", "0", "--out", "{out}"), 2,
        "n_images must be >= 1", absent=("{out}",)),
    Row("synth-tiny-size", ("synth", "--images", "1", "--size", "5", "--out", "{out}"), 2,
        "size must be >= 32 pixels", absent=("{out}",)),
    # ------------------------------------------------------------------ score
    Row("score-malformed-row-on-unknown-image", ("score", "--gt", "{synth}/train.csv", "--pred",
        "{pred}"), 0, "pred.csv line 3 (image nope.jpg, class 8): runs not strictly increasing",
        inp.pred_malformed_on_unknown_image, where="log", item="5"),
    Row("score-empty-predictions", ("score", "--gt", "{synth}/train.csv", "--pred", "{pred}"), 2,
        "pred.csv: empty file", inp.pred_empty),
    Row("score-no-common-image", ("score", "--gt", "{synth}/train.csv", "--pred", "{pred}"), 2,
        "no ImageId in common", inp.pred_no_common_image),
    Row("score-binary-ground-truth", ("score", "--gt", "{csv}", "--pred", "{csv}"), 2,
        "labels.csv: not a UTF-8 text file", inp.binary_csv),
    Row("score-pred-size-zero", ("score", "--gt", "{synth}/train.csv", "--pred", "{tmp}/p.csv",
        "--pred-size", "0", "5"), 2, "argument --pred-size: must be a positive integer",
        one_line=False, item="3"),
    # ------------------------------------------------------------------ evaluate
    Row("evaluate-overlapping-rle-runs", ("evaluate", "{data}", "--weights", "{weights}", "--out",
        "{out}", *RUN_META), 2, f"row 36, image {VAL_IMAGE}: runs overlapping", inp.bad_rle_data,
        absent=("{out}",), keep=("{data}/train.csv",), item="2"),
    Row("evaluate-unknown-split", ("evaluate", "{synth}", "--weights", "{weights}", "--out",
        "{out}", "--split", "nope", *RUN_META), 2, "no split named 'nope'", absent=("{out}",)),
    Row("evaluate-weights-url-run-without-checkpoint", ("evaluate", "{synth}", "--weights", "{url}",
        "--out", "{out}"), 2, "/run: a folder with no checkpoint (looked for mask_rcnn*.h5",
        inp.url_run_without_checkpoint, absent=("{out}",)),
    Row("evaluate-diverged-checkpoint", ("evaluate", "{synth}", "--weights", "{diverged}",
        "--out", "{out}", *RUN_META), 2, DIVERGED, inp.diverged_checkpoint,
        where="stderr-last",  # after the detect progress bar
        absent=("{out}",), keep=("{diverged}",), item="1"),
    Row("evaluate-postprocess-not-a-setting", ("evaluate", "{synth}", "--weights", "{weights}",
        "--out", "{out}", "--postprocess", "{yaml}", *RUN_META), 2,
        "postprocess.yaml: expected a mapping of post-processing keys, got [0.5, 'nms']",
        inp.postprocess_yaml("- 0.5\n- nms\n"), absent=("{out}",)),
    # ------------------------------------------------------------------ tune-postprocess
    Row("tune-postprocess-overlapping-rle-runs", ("tune-postprocess", "{data}", "--weights",
        "{weights}", "--out", "{out}", *RUN_META), 2, "runs overlapping", inp.bad_rle_data,
        absent=("{out}",), item="2"),
    # ------------------------------------------------------------------ predict
    Row("predict-class-threshold-out-of-range", ("predict", "{synth}/train", "--weights",
        "{weights}", "--out", "{out}", "--postprocess", "{yaml}", *RUN_META), 2,
        "postprocess.yaml: class_thresholds value of class 3 must be in [0, 1], got 2",
        inp.postprocess_yaml("class_thresholds: {3: 2}\n"), absent=("{out}",), item="4"),
    Row("predict-keras-weights-of-another-model", ("predict", "{synth}/train", "--weights",
        "{other}", "--out", "{out}", *RUN_META), 2,
        "other.weights.h5 into this model: 131 of the model's layers are not in the file",
        inp.keras_weights_of_another_model, absent=("{out}",), item="5"),
    Row("predict-matterport-h5-of-another-model", ("predict", "{synth}/train", "--weights",
        "{other}", "--out", "{out}", *RUN_META), 2, "other.h5: none of the model's",
        inp.matterport_h5_of_another_model, absent=("{out}",)),
    Row("predict-nan-checkpoint", ("predict", "{synth}/train", "--weights", "{nan}", "--out",
        "{out}", *RUN_META), 2, "holds 1 NaN / inf values", inp.nan_checkpoint,
        absent=("{out}",), needs_checkpoint=True),
    Row("predict-diverged-checkpoint", ("predict", "{synth}/train", "--weights", "{diverged}",
        "--out", "{out}", *RUN_META), 2, DIVERGED, inp.diverged_checkpoint,
        where="stderr-last",  # after the detect progress bar
        keep=("{diverged}",), check=no_predictions, item="1"),
    Row("predict-weights-url-missing", ("predict", "{synth}/train", "--weights",
        "{url}/logs/nope.h5", "--out", "{out}"), 2, "/run/logs/nope.h5: no such checkpoint or run "
        "folder", inp.url_run_without_checkpoint, absent=("{out}",)),
    Row("predict-truncated-image-among-good", ("predict", "{images}", "--weights", "{weights}",
        "--out", "{out}", *RUN_META), 1, "1 unreadable image(s) skipped",
        inp.images_with_truncated, where="stderr-last", present=("{out}/predictions.jsonl", "{out}/skipped.csv"),
        needs_checkpoint=True, check=good_predictions_kept),
    Row("predict-without-classes", ("predict", "{synth}/train", "--weights", "{tmp}/x.h5",
        "--out", "{out}", "--config", "{config}"), 2, "predict needs class names",
        absent=("{out}",)),
    Row("predict-shard-out-of-range", ("predict", "{synth}/train", "--weights", "{tmp}/x.h5",
        "--out", "{out}", "--shard", "3/2"), 2,
        "argument --shard: shard I must be between 1 and N = 2 (1-based), got 3/2",
        one_line=False, absent=("{out}",)),
    # ------------------------------------------------------------------ submit
    Row("submit-size-zero-negative", ("submit", "{synth}/train", "--weights", "{tmp}/x.h5",
        "--out", "{out}/s.csv", "--size", "0", "-5"), 2,
        "argument --size: must be a positive integer, got '0'", one_line=False,
        absent=("{out}",), item="3"),
    Row("submit-score-threshold-out-of-range", ("submit", "{synth}/train", "--weights",
        "{weights}", "--out", "{out}/s.csv", "--postprocess", "{yaml}", *RUN_META), 2,
        "postprocess.yaml: score_threshold must be in [0, 1], got 5.0",
        inp.postprocess_yaml("score_threshold: 5.0\n"), absent=("{out}",), item="4"),
    Row("submit-class-threshold-of-no-class", ("submit", "{synth}/train", "--weights",
        "{weights}", "--out", "{out}/s.csv", "--postprocess", "{yaml}", *RUN_META), 2,
        "class_thresholds key 999 is not a class id of the model (it has classes 1..7)",
        inp.postprocess_yaml("class_thresholds: {999: 0.1, -3: 2}\n"), absent=("{out}",),
        item="4"),
    Row("submit-shard-malformed", ("submit", "{synth}/train", "--weights", "{tmp}/x.h5",
        "--out", "{out}/s.csv", "--shard", "1of2"), 2,
        "argument --shard: expected I/N with whole numbers 1 <= I <= N (e.g. 1/4), got '1of2'",
        one_line=False, absent=("{out}",)),
    # ------------------------------------------------------------------ merge-shards
    Row("merge-shards-missing-shard", ("merge-shards", "{shard}", "--out", "{out}"), 2,
        "missing shard(s) 2/2: got 1 of 2", inp.one_of_two_predict_shards, absent=("{out}",),
        keep=("{shard}/shard.json", "{shard}/predictions.jsonl")),
    # ------------------------------------------------------------------ export
    Row("export-checkpoint-without-run", ("export", "--weights", "{tmp}/x.h5", "--out",
        "{out}/saved"), 2, "no --config given and no train_config.yaml found above",
        absent=("{out}/saved",)),
    # ------------------------------------------------------------------ train (refused up front)
    Row("train-data-without-images", ("train", "{data}", "--out", "{out}"), 2,
        "train.csv row 1, image synth_00000.jpg: image file", inp.csv_only,
        absent=("{out}/logs",)),
    Row("train-missing-config", ("train", "{synth}", "--out", "{out}", "--config",
        "{tmp}/nope.yaml"), 2, "nope.yaml", absent=("{out}/logs",)),
    # ------------------------------------------------------------------ cache
    Row("cache-verify-not-a-cache", ("cache", "--verify", "--out", "{empty}"), 2,
        "no manifest.json; not a shard cache", inp.empty_dir),
    Row("cache-without-data", ("cache", "--out", "{out}"), 2, "cache needs the DATA",
        absent=("{out}",)),
    # ------------------------------------------------------------------ weights
    Row("weights-unreachable-url", ("weights", "coco", "--out", "{out}", "--url",
        "file:///nonexistent/x.h5"), 2, "download of file:///nonexistent/x.h5",
        absent=("{out}/mask_rcnn_coco.h5", "{out}/mask_rcnn_coco.h5.part")),
    Row("weights-checksum-mismatch", ("weights", "coco", "--out", "{out}", "--url",
        "file://{served}", "--sha256", "0" * 64), 2, "sha256 mismatch", inp.local_file,
        where="stderr-last",  # after the download's progress bar
        absent=("{out}/mask_rcnn_coco.h5", "{out}/mask_rcnn_coco.h5.part")),
    # ------------------------------------------------------------------ tune / pipeline / demo
    Row("tune-bad-grid-yaml", ("tune", "--grid", "{grid}", "--out", "{out}"), 2,
        "grid.yaml: not valid YAML", inp.grid_yaml, absent=("{out}",)),
    Row("tune-missing-grid", ("tune", "--grid", "{tmp}/nope.yaml", "--out", "{out}"), 2,
        "nope.yaml: cannot read the grid file", absent=("{out}",)),
    Row("pipeline-unknown-stage", ("pipeline", "--out", "{out}", "--stages", "99"), 2,
        "unknown notebook '99'", absent=("{out}",)),
    Row("pipeline-bad-parameter-yaml", ("pipeline", "--out", "{out}", "--set", "seed=[1"), 2,
        "parameter 'seed=[1': value is not valid YAML", absent=("{out}",)),
    Row("demo-zero-images", ("demo", "--out", "{out}", "--images", "0"), 2,
        "n_images must be >= 1"),
    # ------------------------------------------------------------------ serve / index
    Row("serve-checkpoint-without-run-folder", ("serve", "--weights", "{lone}", "--port", "0"), 2,
        "no --config given and no train_config.yaml found", inp.lone_checkpoint),
    Row("index-checkpoint-without-run-folder", ("index", "{synth}", "--weights", "{lone}",
        "--out", "{out}"), 2, "no --config given and no train_config.yaml found",
        inp.lone_checkpoint, absent=("{out}",)),
    Row("index-weights-url-missing", ("index", "{synth}", "--weights", "{url}/logs/nope.h5",
        "--out", "{out}"), 2, "/run/logs/nope.h5: no such checkpoint or run folder",
        inp.url_run_without_checkpoint, absent=("{out}",)),
]  # fmt: skip


@dataclass(frozen=True)
class WebRow:
    id: str
    method: str
    path: str  # ``{rid}``: the id of a result of a good upload
    status: int
    fragment: str
    body: str = ""  # hostile_inputs attribute name of a bytes builder, or "" (no body)
    item: str = ""
    model: str = "untrained"  # the app's model: "untrained" or "diverged" (test_hostile_web)

    @property
    def command(self) -> str:
        return "web API"


WEB_ROWS = [
    WebRow("upload-good-photo", "POST", "/api/detect?filename=photo.jpg", 200, '"record"',
           "good"),
    WebRow("upload-empty", "POST", "/api/detect?filename=a.jpg", 400, "a.jpg: empty upload"),
    WebRow("upload-text-file", "POST", "/api/detect?filename=notes.jpg", 400,
           "notes.jpg: this file is not a photo we can read: use JPEG, PNG or WebP", "text"),
    WebRow("upload-truncated-jpeg", "POST", "/api/detect?filename=cut.jpg", 400,
           "cut.jpg: this photo is damaged or incomplete", "truncated"),
    WebRow("upload-decompression-bomb", "POST", "/api/detect?filename=bomb.png", 400,
           "pixel limit", "bomb"),
    WebRow("upload-over-the-size-limit", "POST", "/api/detect?filename=big.jpg", 413,
           "big.jpg: upload larger than the app's limit", "big"),
    WebRow("upload-path-traversal-name", "POST", "/api/detect?filename=../../etc/passwd", 200,
           '"image": "passwd"', "good"),
    WebRow("unknown-result", "GET", "/api/results/r999/record.json", 404,
           "result r999 is no longer kept"),
    WebRow("overlay-bad-min-score", "GET", "/api/results/{rid}/overlay.png?min_score=abc", 400,
           "min_score='abc' is not a number"),
    WebRow("record-min-score-out-of-range", "GET", "/api/results/{rid}/record.json?min_score=7",
           400, "min_score=7.0 is outside [0.0, 1.0]"),
    WebRow("similar-without-catalogue", "GET", "/api/results/{rid}/similar/0", 404,
           "no catalogue is loaded"),
    WebRow("unknown-sample", "POST", "/api/samples/99/detect", 404, "no sample 99"),
    WebRow("unknown-route", "GET", "/api/nope", 404, ""),
    WebRow("upload-to-a-diverged-model", "POST", "/api/detect?filename=photo.jpg", 500,
           "the model cannot analyse photo.jpg: its weights mask_rcnn_h_0007.h5 give non-finite "
           "outputs", "good", item="1", model="diverged"),
]  # fmt: skip


TRAIN_SMOKE = ("--preset", "cpu-smoke", "--categories", "1,6,8,10,14,23,24", "--heads-epochs",
               "2", "--all-epochs", "0", "--steps-per-epoch", "1", "--val-split", "")  # fmt: skip


def no_checkpoint(names) -> None:
    assert not list(names["out"].glob("logs/*/*.h5")), "a checkpoint of the failed run was left"


def resumed_to_epoch_2(names) -> None:
    log = (next(names["out"].glob("logs/*/training.csv"))).read_text().splitlines()
    assert [line.split(",")[0] for line in log[1:]] == ["0", "1", "1"], log  # epoch 2 again


def last_good_within_the_guard(names) -> None:
    """The resumed run stopped naming as last good a checkpoint whose epoch stayed within the
    guard (its logged mean loss under 100x the median of the last 5 pre-resume epochs: a
    necessary condition), and no newer checkpoint is left where ``--resume`` / ``find_last``
    would take it. Before the fix this run went on to epoch 10 and named epoch 9's checkpoint
    (mean loss 6076 against a pre-resume level of 3) the last good one."""
    from fashion_mrcnn.model.checkpoints import checkpoint_epoch, find_checkpoints
    from fashion_mrcnn.model.guard import DIVERGENCE_FACTOR, DIVERGENCE_WARMUP, logged_losses

    summary = json.loads((names["out"] / "train_summary.json").read_text())
    good = summary["checkpoint"]
    assert summary["status"] == "diverged" and good, summary
    assert find_checkpoints(names["out"] / "logs", "fashion")[0] == good  # what --resume takes
    log = next(names["out"].glob("logs/*/training.csv"))
    level = statistics.median(logged_losses(log, 6)[-DIVERGENCE_WARMUP:])
    epoch = checkpoint_epoch(good)
    assert epoch >= 6 and len(logged_losses(log, epoch)) == epoch, (good, log.read_text())
    assert logged_losses(log, epoch)[-1] <= DIVERGENCE_FACTOR * max(level, 1.0), log.read_text()


#: Training runs (``@pytest.mark.slow`` in test_hostile_cli): minutes, not seconds.
SLOW_ROWS = [
    # 3 steps of 2 images: a whole pass over the 5 training scenes, so the bad one is always met
    Row("train-overlapping-rle-met-in-training", ("train", "{data}", "--out", "{out}",
        *TRAIN_SMOKE, "--steps-per-epoch", "3"), 2, "image synth_00000.jpg: runs overlapping", inp.bad_rle_train_data,
        check=no_checkpoint),
    Row("train-resume-after-a-truncated-checkpoint", ("train", "{synth}", "--out", "{out}",
        *TRAIN_SMOKE, "--resume"), 0, "skipping checkpoint", inp.run_killed_while_saving,
        where="stdout", check=resumed_to_epoch_2),
    Row("train-resume-at-a-learning-rate-that-diverges", ("train", "{data}", "--out", "{out}",
        *inp.ISSUE_RUN, "--resume", *inp.DIVERGING_RESUME), 2, ". Last good checkpoint: ",
        inp.six_healthy_epochs, check=last_good_within_the_guard, item="1"),
]  # fmt: skip

#: Rows run in a fresh process (test_hostile_console), by command.
CONSOLE_ROWS = {"predict": 1}


def row_counts() -> dict[str, int]:
    """Rows per command over the whole suite (the README's reliability table)."""
    counts: dict[str, int] = {}
    for row in [*CLI_ROWS, *SLOW_ROWS, *WEB_ROWS]:
        counts[row.command] = counts.get(row.command, 0) + 1
    for command, n in CONSOLE_ROWS.items():
        counts[command] = counts.get(command, 0) + n
    return counts
