"""Model sub-commands of ``fashion-mrcnn``: train, evaluate, predict, submit, merge-shards,
tune-postprocess and export (the tools around them, demo, tune, pipeline, cache and weights, are
``workflow.tool_commands``'s). Each calls one function of ``workflow.stages``; training leaves a run folder (``workflow.rundir``) so later commands
find the config and class names from ``--weights`` alone.
The argument parsers are in ``workflow.command_args``; what ``--weights``, ``--tta`` and
``--postprocess`` load, in ``workflow.run_inputs``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fashion_mrcnn import storage
from fashion_mrcnn.errors import SKIP_REPORT_FILE, ConfigError
from fashion_mrcnn.workflow import run_inputs as R


def _categories_ids(categories):
    return None if categories is None else [int(c["id"]) for c in categories]


def _say_skipped(data, report, report_path, on_error: str) -> None:
    """Print how many items reading ``data`` skipped or dropped and where they are listed."""
    if len(report):
        print(
            f"{data}: {len(report)} item(s) skipped or dropped while reading "
            f"(listed with reasons in {report_path})"
        )
    elif on_error == "skip":
        print(f"{data}: nothing skipped (report: {report_path})")


def open_data(args, split, categories=None, announce: bool = True):
    """``stages.open_dataset`` with the command's ``--on-error`` / ``--skip-report``; the report
    goes to ``--skip-report``, else (skip mode, or duplicates dropped) to ``OUT/skipped.csv``."""
    from fashion_mrcnn.workflow import stages

    default = storage.as_path(storage.join(args.out, SKIP_REPORT_FILE))  # no --skip-report
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
    YAML's); then ``--precision``, ``--lr``, ``--lr-schedule``, ``--warmup-steps`` and
    ``--jit-compile`` (JIT_COMPILE with ROI_ALIGN "xla") win."""
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
    if getattr(args, "jit_compile", False):
        explicit.update(JIT_COMPILE=True, ROI_ALIGN="xla")
    return config.replace(**{k: v for k, v in explicit.items() if v is not None})


def cmd_train(args) -> int:
    from fashion_mrcnn.model.distribute import config_for
    from fashion_mrcnn.model.precision import describe as describe_precision
    from fashion_mrcnn.model.weights import HEAD_LAYERS
    from fashion_mrcnn.workflow import stages

    dist = R.distribution(args)  # first: a multiworker strategy must precede any TF op
    categories = _parse_ints(args.categories)
    train_ds = open_data(args, args.split, categories)
    val_ds = None
    if args.val_split:
        val_ds = open_data(args, args.val_split, categories, announce=False)
    if args.subset:
        train_ds = stages.subset(train_ds, args.subset, seed=args.seed)
    config = config_for(train_config(args, train_ds.num_classes), dist)  # the global batch
    attributes = getattr(args, "attributes", False)
    config = stages.attribute_head_config(config, train_ds, attributes, name=str(args.data))
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
    val_steps = args.validation_steps
    if val_ds is not None and val_steps is None:
        val_steps = stages.validation_steps_for(val_ds, config, steps)
    print(
        f"recipe {config.RECIPE}: LEARNING_RATE {config.LEARNING_RATE:g}, LR_SCHEDULE "
        f"{config.LR_SCHEDULE}, warm-up {config.LR_WARMUP_STEPS} steps, {steps} steps per epoch"
        + (f" (and {val_steps} validation steps)" if val_ds is not None else "")
        + (f", schedule fitted to {args.minutes:g} minutes" if args.minutes else "")
        + f"; {config.BACKBONE} backbone"
        + (f" from {config.BACKBONE_WEIGHTS} weights" if config.BACKBONE_WEIGHTS else "")
        + f", precision {describe_precision(config.MIXED_PRECISION)}"
        + (", XLA-compiled (fixed shapes)" if config.JIT_COMPILE else "")
    )
    result = stages.train(
        config,
        train_ds,
        val_ds,
        storage.as_path(args.out),  # a URL stays a string (workflow.run_mirror)
        schedule=schedule,
        epochs=args.epochs,
        augmentation="default" if args.augment else "flips",
        init_weights=args.init_weights,
        exclude=HEAD_LAYERS if args.exclude_heads else None,
        steps_per_epoch=steps,
        validation_steps=val_steps,
        resume=args.resume,
        time_budget_minutes=args.minutes,
        seed=args.seed,
        allow_partial=args.allow_partial,
        verbose=1 if sys.stdout.isatty() else 2,  # a progress bar, or one line per epoch in a log
        strategy=dist,
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

    config, categories = R.run_config(args)
    postprocess = R.postprocess_file(args, config)
    dataset = open_data(args, args.split, _categories_ids(categories))
    stages.check_ground_truth(dataset)  # before the model loads
    run = stages.error_analysis if args.analysis else stages.evaluate
    result = run(config, R.detector(config, args), dataset, args.out, postprocess=postprocess)
    if postprocess is not None:
        print(f"post-processing: {args.postprocess} ({postprocess.describe()})")
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

    args.weights = [rundir.weights_or_starter(w) for w in R.checkpoints(args)]
    config, categories = R.run_config(args)
    if categories is None:
        raise ConfigError("predict needs class names: pass --classes classes.json")
    names = stages.class_names_for(categories)
    postprocess = R.postprocess_file(args, config)
    result = stages.predict(
        config,
        R.detector(config, args),
        args.inputs,
        args.out,
        names,
        category_ids=stages.category_ids_for(categories),
        postprocess=postprocess,
        shard=args.shard,
    )
    print(f"{result['images']} images, {result['instances']} instances -> {result['jsonl']}")
    if args.shard is not None:
        print(f"shard {args.shard}: manifest {result['manifest']}")
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

    config, categories = R.run_config(args)
    if categories is None:
        raise ConfigError("submit needs the training categories: pass --classes classes.json")
    class_map = {k: str(v) for k, v in stages.category_ids_for(categories).items()}
    postprocess = R.postprocess_file(args, config)
    result = stages.submit(
        config,
        R.detector(config, args),
        args.images,
        args.out,
        class_map,
        size=tuple(args.size),
        attributes=args.attributes,
        overlap=args.overlap,
        min_area=args.min_area,
        postprocess=postprocess,
        shard=args.shard,
        layout=args.layout,
    )
    print(f"{result['rows']} rows for {result['images']} images -> {result['csv']}")
    if args.shard is not None:
        print(f"shard {args.shard}: manifest {result['manifest']}")
    for problem in result["problems"]:
        print(f"problem: {problem}")
    return 1 if result["problems"] else 0


def cmd_merge_shards(args) -> int:
    from fashion_mrcnn.workflow.merge_shards import merge_shards

    result = merge_shards(args.out, args.shards)
    print(
        f"{result['shards']} {result['command']} shards of {result['images']} images -> {args.out}"
    )
    if result["command"] == "predict" and result["skipped"]:
        print(
            f"fashion-mrcnn merge-shards: {result['skipped']} unreadable image(s) skipped, "
            f"listed in {result['skip_report']}",
            file=sys.stderr,
        )
        return 1
    for problem in result.get("problems", []):
        print(f"problem: {problem}")
    return 1 if result.get("problems") else 0


def cmd_tune_postprocess(args) -> int:
    from fashion_mrcnn.workflow import rundir, stages

    config, categories = R.run_config(args)
    dataset = open_data(args, args.split, _categories_ids(categories))
    tta = R.tta_views(args)  # a bad --tta token stops the command before any detection runs
    result = stages.tune_postprocess(
        config, R.checkpoints(args), dataset, args.out, metric=args.metric, top=args.top, tta=tta
    )
    cache = "reused" if result["reused_cache"] else "written"
    print(f"detections cache {cache}: {Path(args.out) / rundir.DETECTIONS_DIR}")
    print(f"iMaterialist {args.metric} score by post-processing setting (best first):")
    print(result["top"].drop(columns="step").to_string(index=False, float_format="{:.5f}".format))
    print(f"without post-processing: {result['baseline']:.5f}; best: {result['score']:.5f}")
    for note in result["notes"]:
        print(f"note: {note}")
    print(f"table: {result['csv']}\nbest setting: {result['yaml']}")
    return 0


def cmd_export(args) -> int:
    from fashion_mrcnn.model.export import SERVING_INPUT, SERVING_OUTPUTS, export_serving_model
    from fashion_mrcnn.workflow import stages

    for name in ("min_confidence", "mask_threshold"):
        value = getattr(args, name)
        if value is not None and not 0.0 <= value <= 1.0:
            raise ConfigError(f"--{name.replace('_', '-')} must lie in [0, 1], got {value}")
    config, categories = R.run_config(args)
    if categories is None:
        raise ConfigError("export needs class names: pass --classes classes.json")
    names = stages.class_names_for(categories)
    model = R.detector(config, args)
    if args.format.startswith("tflite"):
        from fashion_mrcnn.model.export_tflite import TFLITE_INPUT, TFLITE_OUTPUTS, export_tflite

        weights = "float16" if args.format == "tflite-float16" else "float32"
        model_path, labels = export_tflite(
            model, args.out, names, args.min_confidence, args.mask_threshold, weights=weights
        )
        size = model_path.stat().st_size / 2**20
        print(
            f"TFLite model: {model_path} ({size:.1f} MiB, {weights} weights, built-in kernels "
            f"only; signature "
            f"serving_default: {TFLITE_INPUT} uint8 [H, W, 3] -> {', '.join(TFLITE_OUTPUTS)}); "
            f"class names: {labels}"
        )
        return 0
    out = export_serving_model(
        model,
        args.out,
        names,
        min_confidence=args.min_confidence,
        mask_threshold=args.mask_threshold,
    )
    print(
        f"SavedModel: {out} (signature serving_default: {SERVING_INPUT} string [B] -> "
        f"{', '.join(SERVING_OUTPUTS)})"
    )
    return 0


def _parse_ints(text):
    if not text:
        return None
    if text == "main":
        from fashion_mrcnn.data.categories import MAIN_GARMENTS

        return list(MAIN_GARMENTS)
    return [int(t) for t in text.split(",")]
