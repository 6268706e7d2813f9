"""The ``fashion-mrcnn`` command line: thin wrappers over the package's functions.

Every sub-command parses its arguments, calls one package function and prints where its outputs
went. Heavy imports (TensorFlow, pandas) happen inside the sub-command so ``--help`` is instant.
Bad input exits with code 2 and a one-line message naming the file and the problem.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from pathlib import Path

from fashion_mrcnn.app import register as register_app
from fashion_mrcnn.errors import (
    ConfigError,
    FashionDataError,
    TrainingDivergedError,
    WeightsError,
)

log = logging.getLogger("fashion_mrcnn")

USER_ERRORS = (
    FashionDataError,
    ConfigError,
    WeightsError,
    TrainingDivergedError,
    FileNotFoundError,
)


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors reported as one line with exit code 2 (a failing notebook cell included)."""
    from fashion_mrcnn.workflow.papermill_runner import NotebookError

    return (*USER_ERRORS, NotebookError)


# ----------------------------------------------------------------------------- data commands
def cmd_synth(args: argparse.Namespace) -> int:
    from fashion_mrcnn.data.synthetic import generate

    out = generate(
        args.out, n_images=args.images, size=args.size, seed=args.seed, attributes=args.attributes
    )
    print(f"synthetic scenes written to {out}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from fashion_mrcnn.data.stats import stats_for_paths

    print(
        stats_for_paths(
            args.data,
            split_file=args.splits,
            on_error=args.on_error,
            report_path=args.skip_report,
        )
    )
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    kind = args.kind
    if kind == "voc-csv":
        from fashion_mrcnn.data.voc import voc_to_csv

        voc_to_csv(args.input, args.output)
    elif kind == "voc-split":
        from fashion_mrcnn.data.voc import split_csv

        train_csv, test_csv = split_csv(
            args.input, args.output, test_fraction=args.test_fraction, seed=args.seed
        )
        from fashion_mrcnn.data.splits import SPLITS_NAME

        splits = Path(args.output) / SPLITS_NAME
        print(f"train: {train_csv}\ntest:  {test_csv}\nsplits (train / val): {splits}")
    elif kind == "voc-tfrecord":
        from fashion_mrcnn.data.formats.voc_tfrecord import write_label_map, write_tfrecord

        if not args.images:
            raise FashionDataError("convert voc-tfrecord needs --images (the image folder)")
        out = Path(args.output)
        names = args.classes.split(",") if args.classes else None
        label_map = write_tfrecord(args.input, args.images, out, label_map=names)
        if label_map is not None:
            write_label_map(label_map, out.with_suffix(".pbtxt"))
    elif kind == "coco-csv":
        from fashion_mrcnn.data.coco import read_coco
        from fashion_mrcnn.data.export import records_to_kaggle_csv

        # the images are not read: --images only resolves file names (default: beside the JSON)
        images = args.images or Path(args.input).parent
        records, _cats, _attrs, _report = read_coco(args.input, images, check_images=False)
        records_to_kaggle_csv(records, args.output)
    elif kind == "csv-coco":
        from fashion_mrcnn.data.export import write_coco
        from fashion_mrcnn.data.imaterialist import read_imaterialist

        if not args.labels:
            raise FashionDataError("convert csv-coco needs --labels label_descriptions.json")
        records, labels, _report = read_imaterialist(
            args.input, args.labels, args.images or ".", check_images=bool(args.images)
        )
        write_coco(records, labels["categories"], args.output)
    else:  # argparse restricts choices; this guards future edits
        raise ValueError(f"unknown conversion {kind!r}")
    print(f"{kind}: wrote {args.output}")
    return 0


# ----------------------------------------------------------------------------- evaluation commands
def cmd_score(args: argparse.Namespace) -> int:
    from fashion_mrcnn.evaluation.kaggle_report import score_files

    size = tuple(args.pred_size) if args.pred_size else None
    score = score_files(args.gt, args.pred, pred_size=size, metric=args.metric)
    print(f"iMaterialist score: {score:.5f}")
    return 0


# ----------------------------------------------------------------------------- workflow commands
def _register_workflow(sub) -> None:
    """Model commands live in fashion_mrcnn.workflow so this file stays a thin parser."""
    from fashion_mrcnn import workflow

    workflow.register(sub)


class _Parser(argparse.ArgumentParser):
    """argparse with the error on the first line of stderr (the usage after it), exit code 2;
    the sub-command parsers are of this class too."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n{self.format_usage()}")


def build_parser() -> argparse.ArgumentParser:
    from fashion_mrcnn.workflow.command_args import add_on_error_arguments, positive_int

    parser = _Parser(
        prog="fashion-mrcnn",
        description="Mask R-CNN for fashion instance segmentation (iMaterialist / Fashionpedia).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("synth", help="write synthetic fashion scenes in the iMaterialist layout")
    p.add_argument("--images", type=int, default=100, help="number of images (default 100)")
    p.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--attributes",
        action="store_true",
        help="write each garment's attributes (pattern; length of skirts and dresses) into its "
        "ClassId (10_7_61), for `train --attributes`",
    )
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser(
        "stats",
        help="per-class counts, instances per image, mask-area quantiles",
        description="Per-class counts per split, instances per image and mask-area quantiles. "
        "Every annotation is parsed; every image file is checked at header cost (present, "
        "readable, of the annotated size, not cut short: about 0.1 ms per image), unless none "
        "of them is there (then the output says they were not checked). --on-error skip "
        "decodes every image and leaves out what is bad, as training would.",
    )
    p.add_argument("data", nargs="+", help="iMaterialist dir, train.csv, or COCO JSON")
    p.add_argument("--splits", help="splits.json with train/val image lists (default: beside data)")
    add_on_error_arguments(p, report_default=None)
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "convert",
        help="VOC -> CSV / split / TFRecord; COCO JSON <-> Kaggle CSV",
        description="voc-csv: LabelImg XML folder -> CSV; voc-split: CSV -> train/test CSVs (4:1) "
        "and splits.json (train / val; train and evaluate --split find it in the data folder "
        "or one level up); "
        "voc-tfrecord: CSV + images -> TFRecord (TF Object Detection API keys); "
        "coco-csv: COCO JSON -> Kaggle CSV; csv-coco: Kaggle CSV -> COCO JSON",
    )
    p.add_argument("kind", choices=["voc-csv", "voc-split", "voc-tfrecord", "coco-csv", "csv-coco"])
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument(
        "--images",
        help="image folder (voc-tfrecord: required; csv-coco: checks the files exist; coco-csv: "
        "not needed, no image is read)",
    )
    p.add_argument("--labels", help="label_descriptions.json (csv-coco)")
    p.add_argument(
        "--classes", help="comma-separated class names in label-map order (voc-tfrecord)"
    )
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("score", help="iMaterialist Kaggle metric of a submission CSV")
    p.add_argument(
        "--gt", required=True, help="ground truth CSV (ImageId,EncodedPixels,Height,Width,ClassId)"
    )
    p.add_argument("--pred", required=True, help="submission CSV (ImageId,EncodedPixels,ClassId)")
    p.add_argument(
        "--pred-size",
        type=positive_int,
        nargs=2,
        metavar=("H", "W"),
        help="size the predicted masks are encoded at (e.g. 512 512)",
    )
    p.add_argument(
        "--metric",
        default="2019",
        help="2019 (ClassId with _<attr> suffixes; also prints the score with attributes kept, "
        "stripped, attribute categories dropped) or 2020 (FGVC7: ClassId + AttributesIds "
        "columns, IoU and attribute-F1 thresholds jointly); default 2019",
    )
    p.set_defaults(func=cmd_score)

    _register_workflow(sub)
    register_app(sub)
    return parser


def _quiet_tensorflow_logs() -> None:
    """Keep TensorFlow's C++ log to FATAL lines for this command (set before TF is imported),
    and its start-up lines (``fashion_mrcnn.tf_startup``) off stderr.

    Its WARNING / ERROR lines are diagnostics of runs that work: grappler's memory optimizer
    cannot estimate the cost of ``CropAndResize`` (ROI Align's box count is dynamic) and logs
    "Error in PredictCost()" per level and graph; the CUDA probe logs "failed call to cuInit" on
    a machine without a GPU; a ``tf.numpy_function`` failure is echoed with its traceback before
    it reaches Python. Every real failure reaches Python as an exception, which ``main`` reports.
    The lines TensorFlow prints while it loads ignore the level; they are filtered out of the
    first ``import tensorflow`` instead. ``--verbose`` keeps the full log, and so does an
    exported ``TF_CPP_MIN_LOG_LEVEL=0`` (another exported level is kept as it is).
    """
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        if os.environ["TF_CPP_MIN_LOG_LEVEL"].strip() not in ("", "0"):
            from fashion_mrcnn import tf_startup

            tf_startup.install()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.verbose:
        _quiet_tensorflow_logs()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except _user_errors() as exc:
        print(f"fashion-mrcnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(f"fashion-mrcnn {args.command}: error: invalid JSON: {exc}", file=sys.stderr)
        return 2


def run() -> None:
    """The console entry point: :func:`main`, then exit with its code.

    Once TensorFlow is loaded the process ends with ``os._exit`` after flushing the standard
    streams and the log handlers, skipping interpreter finalisation: a ``tf.data`` iterator still
    alive then (after an error stopped training) waits for worker threads that can no longer take
    the GIL, and the process hangs instead of exiting (seen intermittently on Python 3.11 and
    3.13). Nothing is lost: every command has closed or flushed what it writes before ``main``
    returns (checkpoints are written atomically, predictions flushed per image). An unexpected
    error still prints its traceback and exits 1.
    """
    try:
        code = main()
    except SystemExit as exc:  # argparse: --help, usage errors
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        if not isinstance(exc.code, int | None):
            print(exc.code, file=sys.stderr)
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        traceback.print_exc()
        code = 1
    if "tensorflow" not in sys.modules:
        raise SystemExit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    run()
