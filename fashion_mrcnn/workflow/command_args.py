"""The argument parsers of the model sub-commands of ``fashion-mrcnn`` (train, evaluate, predict,
submit, merge-shards, tune-postprocess, export), and the argument types and options the data
sub-commands share (``positive_int``, ``--on-error`` / ``--skip-report``). Each sub-command's
handler is a ``cmd_*`` function of ``workflow.commands``. The tool commands (demo, tune,
pipeline, cache, weights) are ``workflow.tool_commands``'s.
"""

from __future__ import annotations

import argparse

from fashion_mrcnn.constants import (
    ATTRIBUTE_POLICIES,
    KAGGLE_METRICS,
    LR_SCHEDULES,
    OVERLAP_POLICIES,
    RECIPE_NAMES,
    STRATEGY_NAMES,
)
from fashion_mrcnn.errors import ON_ERROR_CHOICES, SKIP_REPORT_FILE
from fashion_mrcnn.workflow.commands import (
    cmd_evaluate,
    cmd_export,
    cmd_merge_shards,
    cmd_predict,
    cmd_submit,
    cmd_train,
    cmd_tune_postprocess,
)


def add_on_error_arguments(p, report_default: str | None = f"OUT/{SKIP_REPORT_FILE}") -> None:
    """``--on-error {raise,skip}`` and ``--skip-report FILE`` (train, evaluate, cache, stats);
    ``report_default`` is where the report goes without ``--skip-report`` (for the help text)."""
    p.add_argument(
        "--on-error",
        choices=ON_ERROR_CHOICES,
        default="raise",
        help="bad input: 'raise' stops at the first problem (default); 'skip' checks every mask "
        "and image file up front and leaves out what is bad, listing it in the skip report",
    )
    where = f"default with --on-error skip: {report_default}" if report_default else "optional"
    p.add_argument(
        "--skip-report",
        metavar="FILE",
        help=f"CSV (item,reason) of what was skipped or dropped as a duplicate ({where})",
    )


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (an image side, a count)."""
    value = _int_arg(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (an area in pixels)."""
    value = _int_arg(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def _int_arg(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def shard_arg(text: str):
    """argparse type: ``I/N`` -> ``shards.Shard`` (1-based)."""
    from fashion_mrcnn.shards import Shard

    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# ----------------------------------------------------------------------------- parser
def _shard_arg(p, manifest: str) -> None:
    p.add_argument(
        "--shard",
        type=shard_arg,
        metavar="I/N",
        help="process shard I of N only (1-based, 1 <= I <= N): the I-th of N contiguous blocks "
        "of the images in the order the unsharded run takes them, so N machines given the same "
        f"inputs split them with no overlap and no gap; writes {manifest}, which merge-shards "
        "reads",
    )


def _postprocess_arg(p, scored: bool = False) -> None:
    p.add_argument(
        "--postprocess",
        metavar="FILE",
        help="postprocess.yaml from tune-postprocess: score thresholds, NMS, max instances, "
        "overlap policy, mask threshold and min area applied to every image's detections"
        + (", as predict / submit apply them, before they are scored" if scored else ""),
    )


def _weights_args(p, needs_weights: bool = True, ensemble: bool = False) -> None:
    p.add_argument(
        "--weights",
        required=needs_weights,
        nargs="+" if ensemble else None,
        metavar="CKPT",
        help="checkpoint (.h5; a Keras 3 .weights.h5 also loads), or a training run's folder (its "
        "newest checkpoint); either may be a URL (gs://..., copied with the run's "
        "train_config.yaml / classes.json into $FASHION_MRCNN_CACHE, default "
        "~/.cache/fashion-mrcnn, once)"
        + ("" if needs_weights else "; default: the starter model in weights/starter/")
        + (
            "; several = an ensemble of checkpoints of one run config (the first one's run "
            "folder gives the config and classes), merged as --tta's passes are"
            if ensemble
            else ""
        ),
    )
    if ensemble:
        p.add_argument(
            "--tta",
            nargs="+",
            metavar="VIEW",
            help="test-time augmentation: 'flip' (the mirror image too) and/or input-size "
            "factors such as 0.8 1.2; each view of each checkpoint is one pass, merged per class "
            "by box voting and mask averaging (fashion_mrcnn/inference/tta.py)",
        )
    p.add_argument("--config", help="train_config.yaml (default: found beside the checkpoint)")
    p.add_argument("--classes", help="classes.json (default: found beside the checkpoint)")
    _allow_partial_arg(p)


def _allow_partial_arg(p) -> None:
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="load the layers of the weights file that fit and report the rest (by default a "
        "file missing a layer the model needs is refused)",
    )


def precision_arg(p) -> None:
    from fashion_mrcnn.model.precision import PRECISIONS

    p.add_argument(
        "--precision",
        choices=list(PRECISIONS),
        help="compute type of the layers (MIXED_PRECISION; default: the preset's / config's). "
        "bfloat16 is fast on CPUs with AVX512_BF16 or AMX and on GPUs of compute capability 8.0+; "
        "auto picks it there and float32 elsewhere; float16 needs a GPU",
    )


def register(subparsers) -> None:
    """Add the model sub-commands to ``subparsers``."""
    from fashion_mrcnn.presets import PRESETS

    p = subparsers.add_parser("train", help="train Mask R-CNN (heads, then deeper layers)")
    p.add_argument("data", help="iMaterialist dir / CSV, COCO JSON or VOC folder")
    p.add_argument(
        "--out",
        default="runs/train",
        help="run directory (checkpoints, logs, config); a URL (gs://bucket/run) is trained in "
        "a local staging folder and copied there after every epoch",
    )
    p.add_argument("--preset", default="cpu-small", help=f"config preset: {', '.join(PRESETS)}")
    p.add_argument("--config", help="a Config YAML instead of a preset")
    p.add_argument("--name", default="fashion")
    p.add_argument("--split", default="train", help="training split in splits.json ('' = all)")
    p.add_argument("--val-split", default="val", help="validation split ('' = none)")
    p.add_argument("--categories", help="'main' (27 garments) or comma-separated category ids")
    p.add_argument("--subset", type=int, help="seeded random subset of N training images")
    p.add_argument(
        "--recipe",
        choices=list(RECIPE_NAMES),
        help="scratch: all layers, SGD warm-up + cosine to zero (the cpu-* presets' default); "
        "finetune: Matterport's heads, then all layers at lr/10, constant (colab-t4 / full, and "
        "any run with --init-weights)",
    )
    p.add_argument(
        "--epochs",
        type=int,
        help="run length (default: the recipe's, or as many as fit when --minutes is given)",
    )
    p.add_argument("--lr", type=float, help="learning rate (default: the recipe's)")
    p.add_argument("--lr-schedule", choices=list(LR_SCHEDULES), help="default: the recipe's")
    p.add_argument("--warmup-steps", type=int, help="linear warm-up steps (default: the recipe's)")
    precision_arg(p)
    p.add_argument(
        "--heads-epochs",
        type=int,
        help="Matterport staging instead of the recipe: epochs of heads only (cumulative)",
    )
    p.add_argument(
        "--all-epochs",
        type=int,
        help="with --heads-epochs: epochs after the heads at lr/10 (0 = none)",
    )
    p.add_argument("--layers", default="all", help="layers after heads: 3+, 4+, 5+, all, regex")
    p.add_argument("--steps-per-epoch", type=int, help="default: one pass over the training set")
    p.add_argument(
        "--validation-steps",
        type=int,
        help="per epoch; default: VALIDATION_STEPS, at most one pass over the validation split "
        "and 0.3 x the training steps (about a tenth of an epoch's time)",
    )
    p.add_argument(
        "--augment",
        action="store_true",
        help="flip, crop, rotation, sharpen/blur (default: horizontal flips only)",
    )
    p.add_argument(
        "--attributes",
        action="store_true",
        help="add the attribute head (Attribute-Mask R-CNN): NUM_ATTRIBUTES, ATTRIBUTE_IDS and "
        "ATTRIBUTE_CLASS_IDS from the attributes the training data's instances carry (saved in "
        "the run's config, so detect / predict / submit report attribute ids)",
    )
    p.add_argument("--init-weights", help="Matterport .h5 (e.g. mask_rcnn_coco.h5) or checkpoint")
    p.add_argument(
        "--exclude-heads",
        action="store_true",
        help="skip the 4 class-specific head layers when loading --init-weights",
    )
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    _allow_partial_arg(p)
    p.add_argument(
        "--minutes",
        type=float,
        help="wall-time budget of the whole run: the learning-rate schedule is fitted to it "
        "(warm-up, then cosine to zero when the budget ends); --resume spends what is left",
    )
    p.add_argument(
        "--strategy",
        choices=list(STRATEGY_NAMES),
        default="auto",
        help="devices to train on (fashion_mrcnn/model/distribute.py): auto (default: every GPU "
        "when there are several, else one device), one, mirrored (every GPU of this machine), "
        "multiworker (each worker runs this command with its TF_CONFIG; the chief writes --out; "
        "no --minutes), tpu (needs a TPU; untested). Global batch = IMAGES_PER_GPU x replicas; "
        "the learning rate is not scaled",
    )
    p.add_argument(
        "--jit-compile",
        action="store_true",
        help="XLA-compile the training step (and detect with the run's config): JIT_COMPILE and "
        "ROI_ALIGN xla, the graph in fixed shapes (the mask head runs on every positive slot). "
        "On TPUs XLA is required; on GPUs and CPUs measure it (bench/RESULTS.md has this CPU)",
    )
    p.add_argument("--seed", type=int, default=0)
    add_on_error_arguments(p)
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("evaluate", help="mask mAP@0.5, COCO AP, per-class table")
    p.add_argument("data")
    _weights_args(p, ensemble=True)
    p.add_argument("--split", default="val")
    p.add_argument("--out", required=True)
    p.add_argument(
        "--analysis",
        action="store_true",
        help="also confusion heat map, size buckets and error galleries",
    )
    _postprocess_arg(p, scored=True)
    add_on_error_arguments(p)
    p.set_defaults(func=cmd_evaluate)

    p = subparsers.add_parser(
        "predict",
        help="JSON Lines + overlay PNGs for images or folders",
        description="Writes OUT/predictions.jsonl (one record per image, appended as each image "
        "is done) and OUT/overlays/*.png. A file that cannot be read as an image is skipped and "
        f"listed with its reason in OUT/{SKIP_REPORT_FILE}. Exit status: 0 when every image was "
        "predicted, 1 when some were skipped (the others' predictions are written), 2 on an "
        "error that stops the run (bad arguments, weights or classes).",
    )
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR")
    _weights_args(p, needs_weights=False, ensemble=True)
    p.add_argument("--out", required=True)
    _postprocess_arg(p)
    _shard_arg(p, "OUT/shard.json")
    p.set_defaults(func=cmd_predict)

    p = subparsers.add_parser("submit", help="Kaggle submission CSV for a folder of test images")
    p.add_argument("images", help="test image folder")
    _weights_args(p, ensemble=True)
    p.add_argument("--out", required=True, help="submission CSV path")
    p.add_argument(
        "--size", type=positive_int, nargs=2, default=(512, 512), metavar=("H", "W"),
        help="size the masks are encoded at (default 512 512)",
    )  # fmt: skip
    p.add_argument("--attributes", default="keep", choices=list(ATTRIBUTE_POLICIES))
    p.add_argument(
        "--layout",
        type=int,
        default=2019,
        choices=[2019, 2020],
        help="CSV layout: 2019 (attributes as ClassId suffixes) or 2020 (AttributesIds column)",
    )
    p.add_argument(
        "--overlap",
        default="all",
        choices=list(OVERLAP_POLICIES),
        help="overlap policy (with --postprocess: the file's)",
    )
    p.add_argument("--min-area", type=non_negative_int, default=0)
    _postprocess_arg(p)
    _shard_arg(p, "OUT.shard.json beside the CSV")
    p.set_defaults(func=cmd_submit)

    p = subparsers.add_parser(
        "merge-shards",
        help="join the outputs of predict / submit --shard I/N into the unsharded output",
        description="Checks that the shards are the N shards of one run (same inputs, N and "
        "settings; every shard once; no overlap, no gap) and that each output holds what its "
        "manifest lists, then writes into OUT exactly what the unsharded command writes. Exit "
        "status: 0, or 1 when images were skipped (predict) or the merged CSV has problems "
        "(submit), as the unsharded command; 2 when the shards do not make up one run.",
    )
    p.add_argument(
        "shards", nargs="+", metavar="SHARD", help="a predict --out folder or a submit --out CSV"
    )
    p.add_argument(
        "--out", required=True, help="merged output: a folder (predict) or a CSV path (submit)"
    )
    p.set_defaults(func=cmd_merge_shards)

    p = subparsers.add_parser(
        "tune-postprocess",
        help="search post-processing on the Kaggle metric of a validation split",
        description="Runs the model once on the split (permissive settings, cached in "
        "OUT/detections, soft masks included), then searches score thresholds (global, then per "
        "class), class-wise box NMS, max instances, overlap policy, mask threshold and min area "
        "on the Kaggle metric. Writes "
        "OUT/postprocess_search.csv and OUT/postprocess.yaml (for submit / predict "
        "--postprocess).",
    )
    p.add_argument("data", help="iMaterialist dir / CSV, COCO JSON or VOC folder")
    _weights_args(p, ensemble=True)
    p.add_argument("--split", default="val")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--metric", default="2019", choices=list(KAGGLE_METRICS))
    p.add_argument("--top", type=int, default=10, help="rows of the ranked table to print")
    add_on_error_arguments(p)
    p.set_defaults(func=cmd_tune_postprocess)

    p = subparsers.add_parser(
        "export",
        help="SavedModel serving encoded images with TensorFlow alone, or a TFLite model",
        description="savedmodel: image_bytes (JPEG / PNG files, one or more) in; boxes, class_ids, "
        "class_names, scores, masks, num_detections out. tflite: one decoded RGB image in, "
        "model.tflite + labels.txt (README: Serving the exported model)",
    )
    _weights_args(p)
    p.add_argument(
        "--out", required=True, help="folder to write (the SavedModel, or the TFLite files)"
    )
    p.add_argument(
        "--format",
        choices=("savedmodel", "tflite", "tflite-float16"),
        default="savedmodel",
        help="savedmodel (default; TF Serving, Vertex AI), tflite (devices: built-in kernels only) "
        "or tflite-float16 (the same with float16 weights: half the file)",
    )
    p.add_argument("--min-confidence", type=float, help="default: DETECTION_MIN_CONFIDENCE")
    p.add_argument("--mask-threshold", type=float, help="default: MASK_THRESHOLD")
    p.set_defaults(func=cmd_export)
