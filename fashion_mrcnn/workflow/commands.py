"""Model sub-commands of ``fashion-mrcnn``: train, evaluate, predict, submit, tune-postprocess,
demo, tune, pipeline, cache and weights. Each parses arguments and calls one function of ``workflow.stages`` (or the
tuner, the pipeline runner); training leaves a run folder (``workflow.rundir``) so later commands
find the config and class names from ``--weights`` alone.

Over 400 lines: the argument parsers of nine commands, each next to the few lines that run it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fashion_mrcnn.constants import (
    ATTRIBUTE_POLICIES,
    KAGGLE_METRICS,
    LR_SCHEDULES,
    OVERLAP_POLICIES,
    RECIPE_NAMES,
)
from fashion_mrcnn.errors import ON_ERROR_CHOICES, SKIP_REPORT_FILE, ConfigError


def _run_config(args):
    """``(Config, categories)`` of ``--weights``'s run folder (``--config`` / ``--classes`` win)."""
    from fashion_mrcnn.workflow.rundir import read_run

    return read_run(args.weights, args.config, getattr(args, "classes", None))


def _inference_model(config, args):
    """The inference model for ``--weights`` (all layers must fit unless ``--allow-partial``)."""
    from fashion_mrcnn.workflow import stages

    return stages.load_inference_model(config, args.weights, allow_partial=args.allow_partial)


def _postprocess_file(args, config):
    """``--postprocess`` read and checked against the model's classes, before the model loads."""
    if args.postprocess is None:
        return None
    from fashion_mrcnn.inference.postprocess import read_postprocess

    return read_postprocess(args.postprocess, int(config.NUM_CLASSES))


def _categories_ids(categories):
    return None if categories is None else [int(c["id"]) for c in categories]


# ----------------------------------------------------------------------------- bad-input policy
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


def _say_skipped(data, report, report_path, on_error: str) -> None:
    """Print how many items reading ``data`` skipped or dropped and where they are listed."""
    if len(report):
        print(
            f"{data}: {len(report)} item(s) skipped or dropped while reading "
            f"(listed with reasons in {report_path})"
        )
    elif on_error == "skip":
        print(f"{data}: nothing skipped (report: {report_path})")


def _open_data(args, split, categories=None, announce: bool = True):
    """``stages.open_dataset`` with the command's ``--on-error`` / ``--skip-report``; the report
    goes to ``--skip-report``, else (skip mode, or duplicates dropped) to ``OUT/skipped.csv``."""
    from fashion_mrcnn.workflow import stages

    default = Path(args.out) / SKIP_REPORT_FILE  # when no --skip-report is given
    report_path = args.skip_report or (default if args.on_error == "skip" else None)
    dataset = stages.open_dataset(
        args.data,
        split=split,
        categories=categories,
        on_error=args.on_error,
        report_path=report_path,
    )
    if report_path is None and len(dataset.skip_report):
        report_path = dataset.skip_report.write(default)
    if announce:
        _say_skipped(args.data, dataset.skip_report, report_path, args.on_error)
    return dataset


# ----------------------------------------------------------------------------- commands
def train_config(args, num_classes: int):
    """The Config of a ``train`` command: ``--config`` or ``--preset``, with the recipe
    ``--recipe``, else ``finetune`` when ``--init-weights`` is given, else the preset's (the
    YAML's); then ``--precision``, ``--lr``, ``--lr-schedule`` and ``--warmup-steps`` win."""
    from fashion_mrcnn.config import Config
    from fashion_mrcnn.model.precision import mixed_precision_setting
    from fashion_mrcnn.workflow import stages

    overrides = stages.recipe_override(args.recipe, args.init_weights)
    recipe = overrides.get("RECIPE")
    if args.config:
        config = Config.from_yaml(args.config)
        if overrides and recipe != config.RECIPE:  # the other recipe's learning-rate settings
            from fashion_mrcnn.presets import recipe_settings

            config = config.replace(**recipe_settings(recipe), **overrides)
    else:
        config = stages.make_config(
            args.preset, num_classes=num_classes, name=args.name, **overrides
        )
    explicit = {
        "MIXED_PRECISION": None
        if args.precision is None
        else mixed_precision_setting(args.precision),
        "LEARNING_RATE": args.lr,
        "LR_SCHEDULE": args.lr_schedule,
        "LR_WARMUP_STEPS": args.warmup_steps,
    }
    return config.replace(**{k: v for k, v in explicit.items() if v is not None})


def cmd_train(args) -> int:
    from fashion_mrcnn.model.precision import describe as describe_precision
    from fashion_mrcnn.model.weights import HEAD_LAYERS
    from fashion_mrcnn.workflow import stages

    categories = _parse_ints(args.categories)
    train_ds = _open_data(args, args.split, categories)
    val_ds = None
    if args.val_split:
        val_ds = _open_data(args, args.val_split, categories, announce=False)
    if args.subset:
        train_ds = stages.subset(train_ds, args.subset, seed=args.seed)
    config = train_config(args, train_ds.num_classes)
    schedule = None  # the recipe's stages
    if args.heads_epochs is not None or args.all_epochs is not None:
        heads = args.heads_epochs if args.heads_epochs is not None else 1
        schedule = [{"layers": "heads", "epochs": heads, "learning_rate": config.LEARNING_RATE}]
        if args.all_epochs:
            schedule.append(
                {
                    "layers": args.layers,
                    "epochs": heads + args.all_epochs,
                    "learning_rate": config.LEARNING_RATE / 10,
                }
            )
    steps = args.steps_per_epoch or stages.steps_per_pass(train_ds, config)
    print(
        f"recipe {config.RECIPE}: LEARNING_RATE {config.LEARNING_RATE:g}, LR_SCHEDULE "
        f"{config.LR_SCHEDULE}, warm-up {config.LR_WARMUP_STEPS} steps, {steps} steps per epoch"
        + (f", schedule fitted to {args.minutes:g} minutes" if args.minutes else "")
        + f"; {config.BACKBONE} backbone"
        + (f" from {config.BACKBONE_WEIGHTS} weights" if config.BACKBONE_WEIGHTS else "")
        + f", precision {describe_precision(config.MIXED_PRECISION)}"
    )
    result = stages.train(
        config,
        train_ds,
        val_ds,
        Path(args.out),
        schedule=schedule,
        epochs=args.epochs,
        augmentation="default" if args.augment else "flips",
        init_weights=args.init_weights,
        exclude=HEAD_LAYERS if args.exclude_heads else None,
        steps_per_epoch=steps,
        validation_steps=args.validation_steps,
        resume=args.resume,
        time_budget_minutes=args.minutes,
        seed=args.seed,
        allow_partial=args.allow_partial,
        verbose=1 if sys.stdout.isatty() else 2,  # a progress bar, or one line per epoch in a log
    )
    lr_end = result["final_learning_rate"]
    print(
        f"trained {result['steps']} steps, {result['epochs']} epochs"
        + (f"; the schedule ended at lr {lr_end:.3g}" if lr_end is not None else "")
        + (" (time budget reached)" if result["stopped_by_budget"] else "")
    )
    print(f"checkpoint: {result['checkpoint']}\nlogs: {result['log_dir']}")
    return 0


def cmd_evaluate(args) -> int:
    from fashion_mrcnn.workflow import rundir, stages

    config, categories = _run_config(args)
    dataset = _open_data(args, args.split, _categories_ids(categories))
    stages.check_ground_truth(dataset)  # before the model loads
    run = stages.error_analysis if args.analysis else stages.evaluate
    result = run(config, _inference_model(config, args), dataset, args.out)
    if result.get("box_only"):
        keys = ("box_map50", "num_images", "num_predictions", "num_gt")
    else:
        keys = ("mask_map50", "segm_AP", "bbox_AP", "num_images", "num_predictions")
    for key in keys:
        print(f"{key:>16}: {result[key]}")
    if result.get("kaggle_policies") is not None:
        print("iMaterialist 2019 score by attribute policy:")
        print(result["kaggle_policies"].to_string(float_format=lambda v: f"{v:.5f}"))
    if result.get("box_only"):
        print(f"VOC box mAP@0.5 {result['box_map50']:.4f}; {result['mask_metrics']}")
    print(f"per-class table: {Path(args.out) / rundir.PER_CLASS_FILE}")
    return 0


def cmd_predict(args) -> int:
    from fashion_mrcnn.workflow import rundir, stages

    args.weights = rundir.weights_or_starter(args.weights)
    config, categories = _run_config(args)
    if categories is None:
        raise ConfigError("predict needs class names: pass --classes classes.json")
    names = stages.class_names_for(categories)
    postprocess = _postprocess_file(args, config)
    result = stages.predict(
        config,
        _inference_model(config, args),
        args.inputs,
        args.out,
        names,
        category_ids=stages.category_ids_for(categories),
        postprocess=postprocess,
    )
    print(f"{result['images']} images, {result['instances']} instances -> {result['jsonl']}")
    if result["skipped"]:
        print(
            f"fashion-mrcnn predict: {result['skipped']} unreadable image(s) skipped, "
            f"listed in {result['skip_report']}",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_submit(args) -> int:
    from fashion_mrcnn.workflow import stages

    config, categories = _run_config(args)
    if categories is None:
        raise ConfigError("submit needs the training categories: pass --classes classes.json")
    class_map = {k: str(v) for k, v in stages.category_ids_for(categories).items()}
    postprocess = _postprocess_file(args, config)
    result = stages.submit(
        config,
        _inference_model(config, args),
        args.images,
        args.out,
        class_map,
        size=tuple(args.size),
        attributes=args.attributes,
        overlap=args.overlap,
        min_area=args.min_area,
        postprocess=postprocess,
    )
    print(f"{result['rows']} rows for {result['images']} images -> {result['csv']}")
    for problem in result["problems"]:
        print(f"problem: {problem}")
    return 1 if result["problems"] else 0


def cmd_tune_postprocess(args) -> int:
    from fashion_mrcnn.workflow import rundir, stages

    config, categories = _run_config(args)
    dataset = _open_data(args, args.split, _categories_ids(categories))
    result = stages.tune_postprocess(
        config, args.weights, dataset, args.out, metric=args.metric, top=args.top
    )
    cache = "reused" if result["reused_cache"] else "written"
    print(f"detections cache {cache}: {Path(args.out) / rundir.DETECTIONS_DIR}")
    print(f"iMaterialist {args.metric} score by post-processing setting (best first):")
    print(result["top"].drop(columns="step").to_string(index=False, float_format="{:.5f}".format))
    print(f"without post-processing: {result['baseline']:.5f}; best: {result['score']:.5f}")
    print(f"table: {result['csv']}\nbest setting: {result['yaml']}")
    return 0


def _postprocess_arg(p) -> None:
    p.add_argument(
        "--postprocess",
        metavar="FILE",
        help="postprocess.yaml from tune-postprocess: score thresholds, NMS, max instances, "
        "overlap policy and min area applied to every image's detections",
    )


def cmd_demo(args) -> int:
    from fashion_mrcnn.workflow.demo import DEMO_IMAGES, run_demo

    report = run_demo(
        args.out,
        n_images=DEMO_IMAGES if args.images is None else args.images,
        size=args.size,
        minutes=args.minutes,
        seed=args.seed,
        precision=args.precision,
    )
    print(f"demo report: {report}")
    return 0


def cmd_tune(args) -> int:
    from fashion_mrcnn.workflow import rundir
    from fashion_mrcnn.workflow.overrides import parse_overrides
    from fashion_mrcnn.workflow.tuning import run_tune

    table = run_tune(
        args.grid, args.out, base_parameters=parse_overrides(args.overrides), smoke=args.smoke
    )
    print(table.drop(columns=["config"], errors="ignore").to_string(index=False))
    out = Path(args.out)
    print(f"ranked: {out / rundir.RANKED_FILE}  best config: {out / rundir.BEST_CONFIG_FILE}")
    return 0


def cmd_pipeline(args) -> int:
    from fashion_mrcnn.workflow.overrides import parse_overrides
    from fashion_mrcnn.workflow.pipeline import run_pipeline

    summary = run_pipeline(
        args.out,
        smoke=args.smoke,
        parameters=parse_overrides(args.overrides),
        stages=args.stages,
    )
    for stage, entry in summary.items():
        print(f"{stage}: {entry['seconds']:.0f} s -> {entry['notebook']}")
    return 0


def cmd_cache(args) -> int:
    from fashion_mrcnn.data.cache import pack_dataset, verify_cache

    if args.verify:
        verify_cache(args.out)
        print(f"{args.out}: every shard checksum verified")
        return 0
    if not args.data:
        raise ConfigError("cache needs the DATA to pack (or --verify to check an existing cache)")
    dataset = _open_data(args, args.split)
    manifest = pack_dataset(dataset, args.out, image_size=args.size, shard_size=args.shard_size)
    print(f"manifest: {manifest}")
    return 0


#: ``fashion-mrcnn weights WHICH``: name -> (download function of ``model.weights``, file name).
WEIGHT_DOWNLOADS = {
    "coco": ("download_coco_weights", "mask_rcnn_coco.h5"),
    "imagenet-resnet50": (
        "download_imagenet_resnet50",
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    ),
}


def cmd_weights(args) -> int:
    from fashion_mrcnn.model import weights

    fetch_name, filename = WEIGHT_DOWNLOADS[args.which]
    fetch = getattr(weights, fetch_name)
    dest = Path(args.out)
    if dest.is_dir() or not dest.name.endswith(".h5"):
        dest = dest / filename
    kwargs = {"url": args.url} if args.url else {}
    path = fetch(dest, sha256=args.sha256, **kwargs)
    print(f"weights: {path}")
    return 0


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


def _parse_ints(text):
    if not text:
        return None
    if text == "main":
        from fashion_mrcnn.data.categories import MAIN_GARMENTS

        return list(MAIN_GARMENTS)
    return [int(t) for t in text.split(",")]


# ----------------------------------------------------------------------------- parser
def _weights_args(p, needs_weights: bool = True) -> None:
    p.add_argument(
        "--weights",
        required=needs_weights,
        help="checkpoint (.h5; a Keras 3 .weights.h5 also loads)"
        + ("" if needs_weights else "; default: the starter model in weights/starter/"),
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


def _precision_arg(p) -> None:
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
    p.add_argument("--out", default="runs/train", help="run directory (checkpoints, logs, config)")
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
    _precision_arg(p)
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
    p.add_argument("--validation-steps", type=int)
    p.add_argument(
        "--augment",
        action="store_true",
        help="flip, crop, rotation, sharpen/blur (default: horizontal flips only)",
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
    p.add_argument("--seed", type=int, default=0)
    add_on_error_arguments(p)
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("evaluate", help="mask mAP@0.5, COCO AP, per-class table")
    p.add_argument("data")
    _weights_args(p)
    p.add_argument("--split", default="val")
    p.add_argument("--out", required=True)
    p.add_argument(
        "--analysis",
        action="store_true",
        help="also confusion heat map, size buckets and error galleries",
    )
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
    _weights_args(p, needs_weights=False)
    p.add_argument("--out", required=True)
    _postprocess_arg(p)
    p.set_defaults(func=cmd_predict)

    p = subparsers.add_parser("submit", help="Kaggle submission CSV for a folder of test images")
    p.add_argument("images", help="test image folder")
    _weights_args(p)
    p.add_argument("--out", required=True, help="submission CSV path")
    p.add_argument(
        "--size", type=positive_int, nargs=2, default=(512, 512), metavar=("H", "W"),
        help="size the masks are encoded at (default 512 512)",
    )  # fmt: skip
    p.add_argument("--attributes", default="keep", choices=list(ATTRIBUTE_POLICIES))
    p.add_argument(
        "--overlap",
        default="all",
        choices=list(OVERLAP_POLICIES),
        help="overlap policy (with --postprocess: the file's)",
    )
    p.add_argument("--min-area", type=non_negative_int, default=0)
    _postprocess_arg(p)
    p.set_defaults(func=cmd_submit)

    p = subparsers.add_parser(
        "tune-postprocess",
        help="search post-processing on the Kaggle metric of a validation split",
        description="Runs the model once on the split (permissive settings, cached in "
        "OUT/detections), then searches score thresholds (global, then per class), class-wise "
        "box NMS, max instances, overlap policy and min area on the Kaggle metric. Writes "
        "OUT/postprocess_search.csv and OUT/postprocess.yaml (for submit / predict "
        "--postprocess).",
    )
    p.add_argument("data", help="iMaterialist dir / CSV, COCO JSON or VOC folder")
    _weights_args(p)
    p.add_argument("--split", default="val")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--metric", default="2019", choices=list(KAGGLE_METRICS))
    p.add_argument("--top", type=int, default=10, help="rows of the ranked table to print")
    add_on_error_arguments(p)
    p.set_defaults(func=cmd_tune_postprocess)

    p = subparsers.add_parser("demo", help="synthetic data -> short CPU training -> report")
    p.add_argument("--out", default="out/demo")
    p.add_argument(
        "--images",
        type=int,
        help="synthetic scenes, 4:1 train / held out (default: workflow.demo.DEMO_IMAGES)",
    )
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--minutes", type=float, default=6.0, help="training time budget")
    p.add_argument("--seed", type=int, default=0)
    _precision_arg(p)
    p.set_defaults(func=cmd_demo)

    p = subparsers.add_parser(
        "tune", help="run notebooks/01_subset_tuning once per grid point (papermill)"
    )
    p.add_argument(
        "--grid",
        required=True,
        metavar="GRID.yaml",
        help="01_subset_tuning parameter -> list of values",
    )
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument(
        "--smoke", action="store_true", help="tiny synthetic data and few steps (minutes on a CPU)"
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="fixed parameter for every trial (YAML value); repeatable",
    )
    p.set_defaults(func=cmd_tune)

    p = subparsers.add_parser("pipeline", help="run notebooks 00-05 in order (papermill)")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument(
        "--smoke", action="store_true", help="tiny synthetic data and few steps (minutes on a CPU)"
    )
    p.add_argument(
        "--stages",
        nargs="+",
        metavar="STAGE",
        help="only these stages, by name or number (e.g. 04 05)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="[STAGE.]NAME=VALUE",
        help="notebook parameter (YAML value), e.g. seed=1 or 02.heads_epochs=4",
    )
    p.set_defaults(func=cmd_pipeline)

    p = subparsers.add_parser("cache", help="pack images + masks into checksummed TFRecord shards")
    p.add_argument("data", nargs="?", help="dataset to pack")
    p.add_argument("--out", required=True, help="cache directory")
    p.add_argument("--split")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--shard-size", type=int, default=500)
    p.add_argument("--verify", action="store_true", help="only verify an existing cache")
    add_on_error_arguments(p)
    p.set_defaults(func=cmd_cache)

    p = subparsers.add_parser("weights", help="download COCO or ImageNet weights (needs internet)")
    p.add_argument("which", choices=list(WEIGHT_DOWNLOADS))
    p.add_argument("--out", default="weights", help="folder or .h5 file path (default weights/)")
    p.add_argument("--url", help="a mirror to download from instead of the release URL")
    p.add_argument("--sha256", help="expected checksum of the file")
    p.set_defaults(func=cmd_weights)
