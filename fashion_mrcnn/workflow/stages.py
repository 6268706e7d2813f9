"""The stage functions the CLI, the notebooks and the demo share.

Each function does one stage of the fashion workflow (explore, subset, train, evaluate,
oversample, compare, analyse errors, predict, submit), writes its artifacts into an output
directory and returns a small dict (or DataFrame) describing them, so a notebook cell or a CLI
command is one call. Nothing here re-implements the data layer, the engine or the metrics: it
wires them. Tuning is :mod:`fashion_mrcnn.workflow.tuning`; what a training run folder holds is
:mod:`fashion_mrcnn.workflow.rundir`.

Over 400 lines: one function per stage, the one namespace the notebooks call
(``stages.explore`` ... ``stages.submit``); each function is short and wires other modules.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path

import numpy as np

from fashion_mrcnn.constants import TRAINING_LOG
from fashion_mrcnn.errors import ConfigError, FashionDataError, TrainingDivergedError

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- data
def ensure_synthetic(out_dir, n_images: int = 40, size: int = 128, seed: int = 0) -> Path:
    """Synthetic scenes in ``out_dir`` (iMaterialist layout); generated once, reused after.

    A previous run with other settings is detected from ``label_descriptions.json``'s info and
    regenerated, so a directory never mixes two datasets.
    """
    from fashion_mrcnn.data.synthetic import generate

    out_dir = Path(out_dir)
    stamp = f"{n_images} images, {size} px, seed {seed}"
    labels = out_dir / "label_descriptions.json"
    if labels.is_file() and (out_dir / "train.csv").is_file():
        info = json.loads(labels.read_text()).get("info", {})
        if stamp in str(info.get("description", "")):
            return out_dir
    return generate(out_dir, n_images=n_images, size=size, seed=seed)


def synthetic_categories() -> list[int]:
    """Source category ids the synthetic generator draws."""
    from fashion_mrcnn.data.synthetic import CATEGORY_IDS

    return list(CATEGORY_IDS)


def open_dataset(
    data,
    split: str | None = None,
    categories: Iterable[int] | None = None,
    on_error: str = "raise",
    report_path=None,
    images_dir=None,
):
    """A prepared ``FashionDataset`` for data on disk.

    Args:
        data: an iMaterialist directory (``train.csv`` + ``label_descriptions.json`` +
            ``train/`` or ``images/``), an iMaterialist CSV, a COCO / Fashionpedia JSON (images in
            ``images/`` beside it or one level up, or ``images_dir``), or a folder of LabelImg
            VOC XML files (images beside them or ``images_dir``).
        split: a split name from the ``splits.json`` beside the data (``"train"``, ``"val"``);
            ``None`` keeps every image.
        categories: keep only these source category ids (e.g. the 27 main garments).
        on_error / report_path: the loaders' bad-input policy and skip-report CSV.
    """
    from fashion_mrcnn.data.paths import apply_splits, find_splits, open_path

    path = Path(data)
    dataset = open_path(
        path,
        categories=categories,
        on_error=on_error,
        report_path=report_path,
        images_dir=images_dir,
    )
    if not split:
        return dataset
    split_file = find_splits(path)
    if split_file is None:
        raise FashionDataError(f"{path}: split {split!r} asked for but no splits.json found")
    parts = apply_splits(dataset, split_file)
    if split not in parts:
        raise FashionDataError(f"{split_file}: no split named {split!r} (has {sorted(parts)})")
    if parts[split].num_images == 0:
        raise FashionDataError(
            f"{split_file}: split {split!r} names no image of {path} (its ids must be the "
            "data's image ids, e.g. the image file names of a VOC folder)"
        )
    return parts[split]


def subset(dataset, n: int, seed: int = 0):
    """A seeded random subset of ``n`` images (all of them when ``n`` >= the dataset size)."""
    from fashion_mrcnn.data.sampling import random_subset_indices

    n = min(int(n), dataset.num_images)
    return dataset.subset(random_subset_indices(dataset.records, n, seed=seed))


def explore(datasets: Mapping[str, object], out_dir, n_examples: int = 4) -> dict:
    """Class counts per split, instances per image, mask sizes and example images.

    Writes ``stats.txt``, ``class_counts.csv``, ``class_counts.png``, ``instances_per_image.png``,
    ``mask_areas.png`` and ``examples.png`` into ``out_dir``.
    """
    import pandas as pd

    from fashion_mrcnn.data.stats import dataset_stats, format_stats
    from fashion_mrcnn.viz import plots

    out_dir = _mkdir(out_dir)
    stats = dataset_stats(datasets)
    text = format_stats(stats)
    (out_dir / "stats.txt").write_text(text + "\n")
    rows = {}
    for split, ds in datasets.items():
        for name, (instances, images) in ds.class_counts().items():
            rows.setdefault(name, {})[f"{split}_instances"] = instances
            rows[name][f"{split}_images"] = images
    table = pd.DataFrame.from_dict(rows, orient="index").fillna(0).astype(int)
    table.index.name = "class"
    table.to_csv(out_dir / "class_counts.csv")
    per_image = {split: [len(r["instances"]) for r in ds.records] for split, ds in datasets.items()}
    areas = {split: _mask_area_fractions(ds) for split, ds in datasets.items()}
    artifacts = [out_dir / "stats.txt", out_dir / "class_counts.csv"]
    artifacts.append(plots.plot_class_counts(table, out_dir / "class_counts.png"))
    artifacts.append(
        plots.plot_histograms(
            per_image, out_dir / "instances_per_image.png", xlabel="instances per image"
        )
    )
    artifacts.append(
        plots.plot_histograms(
            areas, out_dir / "mask_areas.png", xlabel="mask area (fraction of image)", log=True
        )
    )
    first = next(iter(datasets.values()))
    artifacts.append(_example_grid(first, out_dir / "examples.png", n_examples))
    return {
        "num_images": {s: ds.num_images for s, ds in datasets.items()},
        "num_instances": {s: sum(per_image[s]) for s, ds in datasets.items()},
        "class_counts": table,
        "stats_text": text,
        "artifacts": [str(a) for a in artifacts],
    }


def _mask_area_fractions(dataset) -> list[float]:
    from fashion_mrcnn.data.stats import instance_area

    out = []
    for rec in dataset.records:
        n = rec["height"] * rec["width"]
        out += [instance_area(inst, rec["height"], rec["width"]) / n for inst in rec["instances"]]
    return out


def _example_grid(dataset, path: Path, n: int) -> Path:
    from fashion_mrcnn.ops.boxes import extract_bboxes
    from fashion_mrcnn.viz.overlay import draw_overlay, save_image, tile_images

    tiles = []
    for i in list(dataset.image_ids)[:n]:
        image = dataset.load_image(i)
        masks, class_ids = dataset.load_mask(i)
        tiles.append(
            draw_overlay(
                image,
                extract_bboxes(masks),
                masks,
                class_ids,
                dataset.class_names,
                min_side=384,
            )
        )
    save_image(tile_images(tiles), path)
    return path


def oversample(
    dataset,
    method: str = "repeat_factor",
    threshold: float = 0.1,
    min_count: int = 20,
    seed: int = 0,
):
    """Minority-class oversampling: ``(oversampled FashionDataset, count table DataFrame)``."""
    from fashion_mrcnn.data.sampling import oversample_indices

    indices, report = oversample_indices(
        dataset.records, method, threshold, min_count, seed, dataset.categories
    )
    return dataset.subset(indices), report.table


# ----------------------------------------------------------------------------- model
def make_config(
    preset: str = "cpu-smoke", num_classes: int | None = None, name: str = "fashion", **overrides
):
    """A validated ``Config`` from a named preset plus overrides (Matterport attribute names)."""
    from fashion_mrcnn.config import Config

    values = {"NAME": name, **{k.upper(): v for k, v in overrides.items()}}
    if num_classes is not None:
        values["NUM_CLASSES"] = int(num_classes)
    config = Config.preset(preset, **values)
    config.validate(num_classes=num_classes)
    return config


def steps_per_pass(dataset, config) -> int:
    """Training steps in one pass over ``dataset``: ceil(images / BATCH_SIZE), at least 1."""
    return max(1, -(-int(dataset.num_images) // int(config.BATCH_SIZE)))


def inference_config(config):
    """The inference twin of a training config: one image per batch on one device."""
    return config.replace(IMAGES_PER_GPU=1, GPU_COUNT=1)


def _schedule(schedule, config, epochs=None) -> list[dict]:
    """Validated stages: ``schedule`` as given, or the config's recipe (``presets.RECIPES``) over
    ``epochs`` (default: the recipe's)."""
    from fashion_mrcnn.presets import RECIPES, recipe_stages

    if schedule is None:
        epochs = epochs or RECIPES[config.RECIPE]["epochs"]
        schedule = recipe_stages(config.RECIPE, epochs, config.LEARNING_RATE)
    out = []
    for k, stage in enumerate(schedule):
        if "layers" not in stage or "epochs" not in stage:
            raise ConfigError(f"schedule stage {k} needs 'layers' and 'epochs': {stage}")
        lr = stage.get("learning_rate")
        if (
            lr is None
        ):  # Matterport's staging: heads (or a first stage) at LR, later ones at LR / 10
            first = k == 0 or stage["layers"] == "heads"
            lr = config.LEARNING_RATE if first else config.LEARNING_RATE / 10
        out.append(
            {"layers": stage["layers"], "epochs": int(stage["epochs"]), "learning_rate": float(lr)}
        )
    epochs = [s["epochs"] for s in out]
    if epochs != sorted(epochs):
        raise ConfigError(f"schedule epochs are cumulative and must not decrease: {epochs}")
    return out


def recipe_override(recipe: str = "", init_weights=None) -> dict:
    """``{"RECIPE": ...}`` for ``make_config``: ``recipe`` when given, else ``finetune`` when
    starting from ``init_weights``, else {} (the preset's recipe)."""
    recipe = recipe or ("finetune" if init_weights else "")
    return {"RECIPE": recipe} if recipe else {}


#: Epoch cap of a run limited by a time budget alone: large, so the budget (not the epochs)
#: ends the schedule.
BUDGET_EPOCH_CAP = 1000


def _budget_used(model) -> float:
    """Seconds of the time budget a resumed run had spent at its checkpoint (``budget_seconds``
    in the CSV log, row of the checkpoint's epoch); 0 when the log has none."""
    import pandas as pd

    path = Path(model.log_dir) / TRAINING_LOG
    if model.epoch < 1 or not path.is_file():
        return 0.0
    log_rows = pd.read_csv(path)
    if "budget_seconds" not in log_rows or "epoch" not in log_rows:
        return 0.0
    row = log_rows[log_rows["epoch"] == model.epoch - 1]["budget_seconds"].dropna()
    return float(row.iloc[-1]) if len(row) else 0.0


def _stage_windows(stages_list, start_epoch: int, clock) -> list[tuple[float, float]]:
    """Each stage's ``(begin, end)`` seconds on the budget ``clock``: the budget is shared in
    proportion to the epochs each stage plans (after ``start_epoch``)."""
    last = stages_list[-1]["epochs"]
    span = max(last - start_epoch, 1)
    windows, prev = [], start_epoch
    for stage in stages_list:
        windows.append(
            (
                clock.total * (prev - start_epoch) / span,
                clock.total * (stage["epochs"] - start_epoch) / span,
            )
        )
        prev = max(prev, stage["epochs"])
    return windows


def train(
    config,
    train_ds,
    val_ds,
    out_dir,
    schedule=None,
    augmentation=None,
    init_weights=None,
    exclude=None,
    steps_per_epoch=None,
    validation_steps=None,
    resume: bool = False,
    time_budget_minutes: float | None = None,
    seed: int = 0,
    verbose: int = 1,
    allow_partial: bool = False,
    epochs: int | None = None,
) -> dict:
    """Staged training: the config's recipe (``config.RECIPE``, ``presets.RECIPES``) or any
    schedule.

    Args:
        schedule: list of ``{"layers", "epochs" (cumulative), "learning_rate"}``; default: the
            recipe's stages over ``epochs`` (``scratch``: all layers; ``finetune``: heads for a
            third, then all layers at LR / 10). Each stage runs its own learning-rate schedule
            (warm-up, LR_SCHEDULE decay) from its first epoch to its last.
        epochs: the run's length for the recipe's stages (default: the recipe's, or
            ``BUDGET_EPOCH_CAP`` when only a time budget is given).
        augmentation: ``None``, ``"flips"`` (horizontal flips), ``"default"`` (flip, crop,
            rotation, sharpen/blur) or a callable with the augmentation contract.
        init_weights: a Matterport ``.h5`` or our checkpoint to start from; ``exclude`` names
            layers to skip (the four head layers when the class count differs). Every other
            layer of the model must be in the file unless ``allow_partial``.
        resume: continue from the newest checkpoint under ``out_dir`` that loads (a truncated or
            unreadable newer one is skipped, saying so), at the epoch, learning rate and, with a
            time budget, the budget time the run had reached at that checkpoint.
        time_budget_minutes: the wall-time budget of the whole run. The schedule is fitted to
            it: each stage gets a share of the budget in proportion to its epochs, and its
            learning-rate schedule ends (cosine at zero) when its share is spent, however many
            steps fit (``model.schedule.TimeBudget``). A resumed run spends what is left.

    Returns:
        ``{"checkpoint" (the newest good one), "history" {loss: [per epoch]}, "learning_rate"
        [per epoch, the rate of its first step], "step_ms" [per epoch, median step time],
        "log_dir", "config", "epochs", "start_epoch", "steps" (optimizer steps run by this
        call), "final_learning_rate" (where the schedule ended), "status",
        "stopped_by_budget", "budget_minutes", "seconds"}``, also written to
        ``train_summary.json`` (status "running" while training, then "finished", or
        "diverged" / "failed" when an error ends it, the summary written first). ``out_dir``
        becomes a run folder (:mod:`fashion_mrcnn.workflow.rundir`): ``train_config.yaml`` and
        ``classes.json`` (the training set's categories) are written beside ``logs/``, so
        ``--weights`` alone finds them. Raises TrainingDivergedError when the loss explodes.
    """
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    from fashion_mrcnn.model.schedule import BudgetClock, TimeBudget
    from fashion_mrcnn.workflow import rundir

    out_dir = _mkdir(out_dir)
    config.validate(num_classes=train_ds.num_classes)
    config_path = rundir.write_config(config, out_dir)
    if getattr(train_ds, "categories", None) is not None:
        rundir.write_classes(train_ds.categories, out_dir)
    summary_path = out_dir / rundir.SUMMARY_FILE
    augmentation = _augmentation(augmentation)
    if epochs is None and schedule is None and time_budget_minutes:
        epochs = BUDGET_EPOCH_CAP
    stage_list = _schedule(schedule, config, epochs)
    model = MaskRCNN("training", config, model_dir=out_dir / rundir.LOGS_DIR)
    # The epoch the run started at (a run may start from a checkpoint's epoch); kept in the
    # summary so a resumed run places each stage's learning-rate schedule where it was.
    start_epoch = 0
    if resume:
        try:
            model.load_last(allow_partial=allow_partial)
        except FileNotFoundError:
            log.info("no checkpoint under %s: starting fresh", out_dir / rundir.LOGS_DIR)
        if summary_path.is_file():
            start_epoch = int(json.loads(summary_path.read_text()).get("start_epoch", 0))
    elif init_weights:
        model.load_weights(init_weights, by_name=True, exclude=exclude, allow_partial=allow_partial)
        start_epoch = model.epoch
    clock = None
    if time_budget_minutes:
        clock = BudgetClock(time_budget_minutes, _budget_used(model) if resume else 0.0)
        windows = _stage_windows(stage_list, start_epoch, clock)
    budgets: list = []
    history: dict[str, list[float]] = {}
    steps = 0
    start = time.monotonic()

    def summary(status: str) -> dict:
        result = {
            "checkpoint": model.last_checkpoint,
            "history": {k: v for k, v in history.items() if k.endswith("loss")},
            "learning_rate": history.get("learning_rate", []),
            "step_ms": history.get("step_ms", []),
            "log_dir": str(model.log_dir),
            "config": str(config_path),
            "epochs": int(model.epoch),
            "start_epoch": start_epoch,
            "steps": steps,
            "final_learning_rate": getattr(model, "last_learning_rate", None),
            "status": status,
            "stopped_by_budget": any(b.stopped for b in budgets),
            "budget_minutes": time_budget_minutes,
            "seconds": round(time.monotonic() - start, 1),
        }
        _write_json(summary_path, result)
        return result

    summary("running")
    stage_start = start_epoch
    for k, stage in enumerate(stage_list):
        budget = None
        if clock is not None:
            if clock.seconds() >= windows[k][1]:
                stage_start = max(stage_start, stage["epochs"])
                continue  # this stage's share of the budget was spent before a resume
            budget = TimeBudget(clock, *windows[k])
            budgets.append(budget)
        try:
            result = model.train(
                train_ds,
                val_ds,
                learning_rate=stage["learning_rate"],
                epochs=stage["epochs"],
                layers=stage["layers"],
                augmentation=augmentation,
                steps_per_epoch=steps_per_epoch,
                validation_steps=validation_steps,
                seed=seed,
                verbose=verbose,
                schedule_start_epoch=min(stage_start, model.epoch),
                time_budget=budget,
            )
        except TrainingDivergedError:
            summary("diverged")
            raise
        except Exception:
            summary("failed")
            raise
        stage_start = max(stage_start, stage["epochs"])
        if result is not None:
            steps += model.last_train_steps
            for key, values in result.history.items():
                history.setdefault(key, []).extend(float(v) for v in values)
    return summary("finished")


def _augmentation(augmentation):
    """``None``, ``"flips"``, ``"default"`` or a callable -> the augmentation callable."""
    from fashion_mrcnn.data.augment import default_augmentation

    if augmentation == "default":
        return default_augmentation()
    if augmentation == "flips":
        return default_augmentation(crop=0.0, rotate_limit=0.0, photometric=False)
    if augmentation is not None and not callable(augmentation):
        raise ConfigError(
            f"augmentation must be None, 'flips', 'default' or a callable, got {augmentation!r}"
        )
    return augmentation


def load_inference_model(config, weights, model_dir=None, allow_partial: bool = False):
    """An inference ``MaskRCNN`` for ``config`` with ``weights`` loaded (checkpoint or .h5).

    Every weighted layer of the inference graph must be in the file (WeightsError naming the
    missing ones) unless ``allow_partial``, which loads what fits and reports the rest. So the
    backbone's own initial weights (BACKBONE_WEIGHTS) are not read first unless
    ``allow_partial``: a checkpoint of an ImageNet-initialised run serves without that file."""
    from fashion_mrcnn.model.maskrcnn import MaskRCNN

    if weights is None:
        raise ConfigError("no weights given: train first or pass a checkpoint")
    config = inference_config(config)
    if not allow_partial and config.BACKBONE_WEIGHTS:
        config = config.replace(BACKBONE_WEIGHTS=None)
    model = MaskRCNN("inference", config, model_dir=model_dir or Path(weights).parent)
    model.load_weights(str(weights), by_name=True, allow_partial=allow_partial)
    return model


def _as_model(config, weights):
    return weights if hasattr(weights, "detect") else load_inference_model(config, weights)


def check_ground_truth(dataset) -> None:
    """Check every annotation of a record-backed dataset (``data.records.check_annotations``),
    so ``evaluate`` / ``tune-postprocess`` stop at a bad row before their inference pass;
    datasets without records (Matterport-style ``load_mask``) are not checked."""
    from fashion_mrcnn.data.records import check_annotations

    check_annotations(getattr(dataset, "records", None) or [])


#: What ``evaluate`` says instead of mask metrics on data without masks.
NO_MASK_METRICS = "mask metrics do not apply: the ground truth has boxes only (no masks)"


def is_box_only(dataset) -> bool:
    """True when every instance of a record-backed dataset is box-only (LabelImg VOC) and
    there is at least one instance; False for datasets without records."""
    records = getattr(dataset, "records", None) or []
    flags = [bool(inst.get("box_only")) for rec in records for inst in rec["instances"]]
    return bool(flags) and all(flags)


def evaluate(
    config, weights, dataset, out_dir, train_dataset=None, keep_predictions: bool = False
) -> dict:
    """Mask mAP@0.5 (Matterport), COCO mask and box AP (pycocotools), per-class table, and the
    iMaterialist 2019 score by attribute policy (:func:`kaggle_policies`).

    ``weights`` is a checkpoint path or an inference ``MaskRCNN``. Writes ``metrics.json``,
    ``per_class.csv``, ``confusion.csv``, the Kaggle files and ``sensitivity_vs_count.png``
    (when ``train_dataset`` gives training counts) into ``out_dir``.

    Box-only data (:func:`is_box_only`, e.g. LabelImg VOC): VOC box mAP@0.5 instead
    (``evaluation.voc.voc_map``); ``metrics.json`` holds ``box_map50``, the counts and
    ``mask_metrics`` = :data:`NO_MASK_METRICS`; ``per_class.csv`` is the VOC table (``name,
    n_gt, n_det, tp, fp, ap``). The result has ``box_only`` True and no mask keys.
    """
    from fashion_mrcnn.evaluation import analysis
    from fashion_mrcnn.evaluation.coco_eval import evaluate_coco
    from fashion_mrcnn.evaluation.matching import evaluate_dataset
    from fashion_mrcnn.inference.detect import detect_dataset

    check_ground_truth(dataset)  # a bad row stops here, not after the inference pass
    out_dir = _mkdir(out_dir)
    model = _as_model(config, weights)
    indices = list(dataset.image_ids)
    predictions = detect_dataset(model, dataset, indices, progress=True)
    evaluation = evaluate_dataset(predictions, dataset, indices, keep_predictions=True)
    if is_box_only(dataset):
        return _evaluate_boxes(evaluation, predictions, dataset, out_dir, keep_predictions)
    coco = evaluate_coco(dataset, predictions, indices)
    table = analysis.per_class_table(evaluation, train_dataset, dataset.class_names)
    table.to_csv(out_dir / "per_class.csv")
    confusion = analysis.confusion_matrix(evaluation, dataset.class_names)
    confusion.to_csv(out_dir / "confusion.csv")
    artifacts = [out_dir / "per_class.csv", out_dir / "confusion.csv"]
    if train_dataset is not None:
        from fashion_mrcnn.viz.plots import plot_sensitivity_vs_count

        plot_sensitivity_vs_count(table, out_dir / "sensitivity_vs_count.png")
        artifacts.append(out_dir / "sensitivity_vs_count.png")
    metrics = {
        "mask_map50": _finite(evaluation["mAP"]),
        "segm_AP": _finite(coco["segm"]["AP"]),
        "segm_AP50": _finite(coco["segm"]["AP50"]),
        "bbox_AP": _finite(coco["bbox"]["AP"]),
        "bbox_AP50": _finite(coco["bbox"]["AP50"]),
        "num_images": len(indices),
        "num_predictions": int(sum(len(p["scores"]) for p in predictions)),
        "num_gt": int(sum(len(p["gt_class_ids"]) for p in evaluation["per_image"])),
    }
    kaggle = kaggle_policies(dataset, indices, predictions, out_dir)
    metrics["kaggle_2019"] = None if kaggle is None else float(kaggle.loc["keep", "score"])
    if kaggle is not None:
        artifacts += [out_dir / n for n in ("kaggle_gt.csv", "kaggle_pred.csv", KAGGLE_TABLE)]
    _write_json(out_dir / "metrics.json", metrics)
    result = {
        **metrics,
        "kaggle_policies": kaggle,
        "per_class": table,
        "confusion": confusion,
        "artifacts": [str(a) for a in artifacts],
        "evaluation": evaluation,
    }
    if keep_predictions:
        result["predictions"] = predictions
    return result


KAGGLE_TABLE = "kaggle_2019_policies.csv"


def kaggle_policies(dataset, indices, predictions, out_dir, size=(512, 512)):
    """The 2019 Kaggle score with attributes kept, stripped, attribute categories dropped.

    Writes the ground truth of ``indices`` as ``kaggle_gt.csv``, the predictions (one
    ``detect()`` dict per index) as a submission at ``size`` (``kaggle_pred.csv``, the submission
    defaults: attributes kept, overlaps removed) and the table as ``kaggle_2019_policies.csv``;
    ``fashion-mrcnn score`` gives the same numbers from the two CSVs. Returns the table
    (``evaluation.kaggle_report.attribute_policy_table``), or None, with a warning, when the
    images have no ground-truth mask to score against.
    """
    from fashion_mrcnn.data.export import records_to_kaggle_csv
    from fashion_mrcnn.evaluation.kaggle_report import attribute_policy_table
    from fashion_mrcnn.submission import make_submission

    records = [dataset.record(i) for i in indices]
    if not any(rec["instances"] for rec in records):
        log.warning("Kaggle score skipped: the %d images have no ground-truth mask", len(records))
        return None
    gt_csv = records_to_kaggle_csv(records, Path(out_dir) / "kaggle_gt.csv")
    image_ids = [str(rec["image_id"]) for rec in records]
    pred = make_submission(
        predictions, image_ids, Path(out_dir) / "kaggle_pred.csv", size=tuple(size),
        class_map=class_map_for(dataset), placeholder=None,
    )  # fmt: skip
    with_gt = {str(rec["image_id"]) for rec in records if rec["instances"]}
    pred = pred[pred["ImageId"].isin(with_gt)]  # images without GT play no part in the score
    table = attribute_policy_table(gt_csv, pred, pred_size=tuple(size))
    table.to_csv(Path(out_dir) / KAGGLE_TABLE)
    return table


def _evaluate_boxes(evaluation, predictions, dataset, out_dir, keep_predictions) -> dict:
    """``evaluate`` on box-only data: VOC box mAP@0.5 from the matched GT boxes
    (``evaluation["per_image"]``: ``gt_boxes`` [G, 4] pixels, ``gt_class_ids`` [G], crowds left
    out) and the detections' ``rois``; writes ``metrics.json`` and ``per_class.csv``."""
    from fashion_mrcnn.evaluation.voc import voc_map

    gt = [{"boxes": r["gt_boxes"], "class_ids": r["gt_class_ids"]} for r in evaluation["per_image"]]
    voc = voc_map(gt, predictions, iou_threshold=0.5, class_names=dataset.class_names)
    table = voc["per_class"].reset_index().set_index("name")
    table.to_csv(out_dir / "per_class.csv")
    metrics = {
        "box_map50": _finite(voc["mAP"]),
        "num_images": len(predictions),
        "num_predictions": int(sum(len(p["scores"]) for p in predictions)),
        "num_gt": int(sum(len(g["class_ids"]) for g in gt)),
        "mask_metrics": NO_MASK_METRICS,
    }
    _write_json(out_dir / "metrics.json", metrics)
    result = {**metrics, "box_only": True, "per_class": table, "evaluation": evaluation,
              "artifacts": [str(out_dir / "metrics.json"), str(out_dir / "per_class.csv")]}  # fmt: skip
    if keep_predictions:
        result["predictions"] = predictions
    return result


def error_analysis(config, weights, dataset, out_dir, train_dataset=None) -> dict:
    """``evaluate`` plus the confusion heat map, top confused pairs, size buckets, galleries.
    Refused (FashionDataError) on box-only data: the analysis is of masks."""
    from fashion_mrcnn.evaluation import analysis
    from fashion_mrcnn.viz.galleries import error_galleries
    from fashion_mrcnn.viz.plots import plot_confusion

    if is_box_only(dataset):
        raise FashionDataError(
            f"{NO_MASK_METRICS}: the error analysis (--analysis) needs masks; run evaluate "
            "without it for VOC box mAP@0.5"
        )
    out_dir = _mkdir(out_dir)
    result = evaluate(config, weights, dataset, out_dir, train_dataset, keep_predictions=True)
    evaluation = result["evaluation"]
    plot_confusion(result["confusion"], out_dir / "confusion.png")
    pairs = analysis.top_confused_pairs(result["confusion"])
    pairs.to_csv(out_dir / "confused_pairs.csv", index=False)
    sizes = analysis.size_buckets(evaluation)
    sizes.to_csv(out_dir / "size_buckets.csv")
    galleries = error_galleries(
        evaluation, dataset, out_dir / "galleries", predictions=result["predictions"]
    )
    result["artifacts"] += [
        str(out_dir / "confusion.png"),
        str(out_dir / "confused_pairs.csv"),
        str(out_dir / "size_buckets.csv"),
    ]
    result["artifacts"] += [str(p) for p in galleries.values()]
    result.update({"confused_pairs": pairs, "size_buckets": sizes, "galleries": galleries})
    return result


def compare(before: Mapping, after: Mapping, out_dir, names=("before", "after")):
    """Per-class deltas between two ``evaluate`` results; ``compare.csv`` + ``compare.png``."""
    from fashion_mrcnn.evaluation.analysis import compare_runs
    from fashion_mrcnn.viz.plots import plot_deltas

    out_dir = _mkdir(out_dir)
    table = compare_runs(before["per_class"], after["per_class"], names=tuple(names))
    plot_deltas(table, "delta_ap50", out_dir / "compare.png", tuple(names))
    table.to_csv(out_dir / "compare.csv")
    return table


def predict(
    config, weights, inputs, out_dir, class_names, category_ids=None, postprocess=None
) -> dict:
    """Predictions for files / folders: ``predictions.jsonl`` and an overlay PNG per image.

    Files that cannot be read are skipped and listed in ``skipped.csv`` (``skipped`` counts
    them, ``skip_report`` is its path or None). ``postprocess``: a ``PostprocessSetting`` (or its
    YAML path) applied to every image's detections."""
    from fashion_mrcnn.errors import SkipReport
    from fashion_mrcnn.predict import JSONL_NAME, SKIPPED_NAME, predict_to_dir

    postprocess = _postprocess_setting(postprocess, int(config.NUM_CLASSES))
    model = _as_model(config, weights)
    out_dir = _mkdir(out_dir)
    skipped = SkipReport("predict")
    records = predict_to_dir(
        model, inputs, out_dir, class_names, category_ids=category_ids, skipped=skipped,
        postprocess=postprocess,
    )  # fmt: skip
    return {
        "jsonl": str(out_dir / JSONL_NAME),
        "images": len(records),
        "instances": sum(len(r["instances"]) for r in records),
        "overlays": str(out_dir / "overlays"),
        "skipped": len(skipped),
        "skip_report": str(out_dir / SKIPPED_NAME) if len(skipped) else None,
    }


def submit(
    config,
    weights,
    images_dir,
    out_csv,
    class_map,
    size=(512, 512),
    attributes: str = "keep",
    overlap: str = "all",
    min_area: int = 0,
    postprocess=None,
) -> dict:
    """Predict every image of ``images_dir``, write the Kaggle CSV and validate it.

    ``class_map`` maps internal class ids to iMaterialist ClassId strings (see
    :func:`class_map_for`). ``postprocess``: a ``PostprocessSetting`` (or its YAML path) applied
    to every image's detections; its overlap policy then replaces ``overlap``.
    """
    from fashion_mrcnn.inference.postprocess import apply_postprocess
    from fashion_mrcnn.submission import predict_submission, validate_submission

    postprocess = _postprocess_setting(postprocess, int(config.NUM_CLASSES))
    if postprocess is not None:
        overlap = postprocess.overlap
    model = _as_model(config, weights)
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    frame = predict_submission(
        model,
        images_dir,
        out_csv,
        size=tuple(size),
        overlap=overlap,
        min_area=min_area,
        attributes=attributes,
        class_map=class_map,
        postprocess=None
        if postprocess is None
        else partial(apply_postprocess, setting=postprocess),
    )
    problems = validate_submission(out_csv, images_dir, size=tuple(size), overlap=overlap)
    return {
        "csv": str(out_csv),
        "rows": len(frame),
        "images": int(frame["ImageId"].nunique()),
        "problems": problems,
    }


#: Detection settings of the one inference pass of :func:`tune_postprocess` (permissive: the
#: search, not the model, decides what to drop).
SEARCH_MIN_CONFIDENCE = 0.05
SEARCH_MAX_INSTANCES = 200


def tune_postprocess(
    config, weights, dataset, out_dir, metric: str = "2019", size=(512, 512), top: int = 10
) -> dict:
    """Search the post-processing setting that maximises the Kaggle ``metric`` on ``dataset``.

    Inference runs once with permissive detection settings and is cached in
    ``out_dir/detections`` (reused by a second call with the same weights, data and images);
    ``evaluation.postprocess_search.search_postprocess`` then scores every candidate on it.
    Writes ``postprocess_search.csv`` (every setting, best first), ``postprocess.yaml`` (the
    best, for ``submit`` / ``predict --postprocess``) and ``kaggle_gt.csv``. Returns the table,
    its ``top`` rows, the ``best`` setting, its ``score``, the ``baseline`` score (no
    post-processing beyond the writer's overlap removal), the file paths and ``reused_cache``.

    ``weights``: a checkpoint (loaded with the permissive settings), or an inference
    ``MaskRCNN``, used with its own detection settings and never cached for reuse.

    Raises:
        FashionDataError: no image of ``dataset`` has a ground-truth mask.
    """
    import pandas as pd

    from fashion_mrcnn.data.export import records_to_kaggle_csv
    from fashion_mrcnn.evaluation.postprocess_search import cached_detections, search_postprocess
    from fashion_mrcnn.inference.detect import detect_dataset
    from fashion_mrcnn.inference.postprocess import POSTPROCESS_YAML, write_postprocess

    indices = list(dataset.image_ids)
    records = [dataset.record(i) for i in indices]
    if not any(rec["instances"] for rec in records):
        raise FashionDataError(f"{len(records)} images without any ground-truth mask to score")
    check_ground_truth(dataset)  # before detections are computed and cached
    out_dir = _mkdir(out_dir)
    layout = 2020 if metric == "2020" else 2019
    gt_csv = records_to_kaggle_csv(records, out_dir / "kaggle_gt.csv", layout=layout)
    gt = pd.read_csv(gt_csv, dtype=str, keep_default_na=False)
    image_ids = [str(rec["image_id"]) for rec in records]
    search_config = inference_config(config).replace(
        DETECTION_MIN_CONFIDENCE=SEARCH_MIN_CONFIDENCE,
        DETECTION_MAX_INSTANCES=max(
            int(config.DETECTION_MAX_INSTANCES),
            min(SEARCH_MAX_INSTANCES, int(config.POST_NMS_ROIS_INFERENCE)),
        ),
    )
    if isinstance(weights, str | Path):  # a checkpoint: the cache is reused while it is unchanged
        weights_key = [str(Path(weights).resolve()), Path(weights).stat().st_mtime]
    else:  # a model object, with its own detection settings: never reuse a cache
        weights_key = ["model object", time.time()]
        search_config = weights.config
    key = {
        "weights": weights_key,
        "min_confidence": search_config.DETECTION_MIN_CONFIDENCE,
        "max_instances": search_config.DETECTION_MAX_INSTANCES,
    }

    def run():
        model = _as_model(search_config, weights)
        return detect_dataset(model, dataset, indices, progress=True)

    detections, reused = cached_detections(out_dir / "detections", key, image_ids, run)
    table, best = search_postprocess(
        detections, image_ids, gt, class_map_for(dataset), metric, tuple(size)
    )
    table.to_csv(out_dir / "postprocess_search.csv", index=False)
    yaml_path = write_postprocess(best, out_dir / POSTPROCESS_YAML)
    return {
        "table": table,
        "top": table.head(top),
        "best": best,
        "score": float(table["score"].iloc[0]),
        "baseline": float(table.loc[table["step"] == 0, "score"].iloc[0]),
        "csv": str(out_dir / "postprocess_search.csv"),
        "yaml": str(yaml_path),
        "reused_cache": reused,
    }


def category_ids_for(categories) -> dict[int, int]:
    """Internal class id -> source category id for a kept-categories list (BG excluded)."""
    return {k + 1: int(c["id"]) for k, c in enumerate(categories)}


def class_map_for(dataset) -> dict[int, str]:
    """Internal class id -> iMaterialist category id string, for submissions."""
    return {k: str(v) for k, v in category_ids_for(dataset.categories).items()}


# ----------------------------------------------------------------------------- helpers
def _postprocess_setting(postprocess, num_classes: int | None = None):
    """None, a ``PostprocessSetting``, or a YAML path read with ``read_postprocess`` (its class
    ids checked against ``num_classes``)."""
    if postprocess is None or not isinstance(postprocess, str | Path):
        return postprocess
    from fashion_mrcnn.inference.postprocess import read_postprocess

    return read_postprocess(postprocess, num_classes)


def _mkdir(path) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _finite(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")
    return path
