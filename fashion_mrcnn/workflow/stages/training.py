"""Training stages: the Config from a preset, the recipe's schedule, and staged training with an
optional time budget (``train``) on one device or several (``model.distribute``), which leaves a
run folder (:mod:`fashion_mrcnn.workflow.rundir`).

Over 400 lines: ``train`` is one flow (strategy, staging on a URL, resume, stages, budget,
summary) whose steps share the run's state; split, each piece would take most of it as
arguments.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
import time
from pathlib import Path

from fashion_mrcnn import storage
from fashion_mrcnn.constants import TRAINING_LOG
from fashion_mrcnn.errors import ConfigError, TrainingDivergedError
from fashion_mrcnn.workflow.stages.common import mkdir, write_json

log = logging.getLogger(__package__)  # the stages' one logger, as before the split


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


#: Validation steps per training step at most: a validation step (a forward pass) costs about
#: a third of a training step (cpu-small on ccp-fashion: ~140 against ~400 ms), so the pass
#: takes at most ~10 % of an epoch's time (bench/results/realdata.md)
VALIDATION_PER_TRAIN_STEP = 0.3


def validation_steps_for(val_dataset, config, train_steps: int) -> int:
    """Validation steps per epoch: ``config.VALIDATION_STEPS``, but no more than one pass over
    ``val_dataset`` and no more than ``VALIDATION_PER_TRAIN_STEP`` x ``train_steps`` (short
    epochs would otherwise spend a large share of a time budget validating); at least 1."""
    return max(
        1,
        min(
            int(config.VALIDATION_STEPS),
            steps_per_pass(val_dataset, config),
            math.ceil(VALIDATION_PER_TRAIN_STEP * int(train_steps)),
        ),
    )


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


def attribute_head_config(config, dataset, attributes: bool, name: str = "the training set"):
    """``config`` with the attribute head (``train --attributes``; notebooks 01-03's
    ``attributes``) when ``attributes`` is true: ``NUM_ATTRIBUTES``, ``ATTRIBUTE_IDS``,
    ``ATTRIBUTE_CLASS_IDS`` and ``ATTRIBUTE_NAMES`` from the attributes the instances of the
    training ``dataset`` carry (``data.attributes.attribute_settings``), said on stdout; else
    ``config`` as it is.

    Raises:
        FashionDataError: ``attributes`` and no instance of ``dataset`` (``name``) carries one.
    """
    if not attributes:
        return config
    from fashion_mrcnn.data.attributes import attribute_settings

    config = config.replace(**attribute_settings(dataset, name=name))
    named = "named" if config.ATTRIBUTE_NAMES else "no names (the data does not name them all)"
    print(
        f"attribute head: {config.NUM_ATTRIBUTES} attributes on "
        f"{len(config.ATTRIBUTE_CLASS_IDS)} classes, {named}"
    )
    return config


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
    strategy="auto",
    worker_dir=None,
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
        validation_steps: per epoch when ``val_ds`` is given; default
            :func:`validation_steps_for` (at most ~10 % of an epoch's time).
        strategy: a name of ``constants.STRATEGY_NAMES`` (default ``auto``: every GPU when there
            are several, else one device) or a built ``model.distribute.Distribution``. Its rule
            (``model.distribute``): GPU_COUNT becomes the replica count, so the global batch is
            IMAGES_PER_GPU x replicas; the learning rate is not scaled. The header line printed
            at the start says so. ``multiworker`` must be built before any TensorFlow op (pass
            the built Distribution), refuses ``time_budget_minutes`` (the workers' clocks would
            stop them at different steps), and only its chief writes ``out_dir``: another
            worker writes its run folder into ``worker_dir`` (default: a temporary folder,
            removed when training ends) and, with ``resume``, reads the chief's ``out_dir``.
        out_dir: a local folder, or a URL (``gs://bucket/run``): then the run trains in a local
            staging folder copied to the URL after every epoch and when training ends, and
            ``resume`` copies the URL run's logs and newest loadable checkpoint down first
            (:mod:`fashion_mrcnn.workflow.run_mirror` states the rule). The paths returned and
            written to the summary are the URL's.

    Returns:
        ``{"checkpoint" (the newest good one), "history" {loss: [per epoch]}, "learning_rate"
        [per epoch, the rate of its first step], "step_ms" [per epoch, median step time],
        "log_dir", "config", "epochs", "start_epoch", "steps" (optimizer steps run by this
        call), "final_learning_rate" (where the schedule ended), "status",
        "stopped_by_budget", "budget_minutes", "seconds", "strategy" (the resolved name),
        "replicas", "global_batch"}``, also written to
        ``train_summary.json`` (status "running" while training, then "finished", or
        "diverged" / "failed" when an error ends it, the summary written first). ``out_dir``
        becomes a run folder (:mod:`fashion_mrcnn.workflow.rundir`): ``train_config.yaml`` and
        ``classes.json`` (the training set's categories) are written beside ``logs/``, so
        ``--weights`` alone finds them. Raises TrainingDivergedError when the loss explodes.
    """
    from fashion_mrcnn.model import distribute as D

    dist = strategy if isinstance(strategy, D.Distribution) else D.build(strategy)
    if dist.name == "multiworker" and time_budget_minutes:
        raise ConfigError(
            "a time budget (--minutes) cannot drive a multiworker run: each worker's clock "
            "would stop it at a different step; give --epochs instead"
        )
    config = D.config_for(config, dist)
    print(D.batch_rule(config, dist))
    scratch, mirror = None, None
    if not dist.chief:  # the chief alone writes out_dir; this worker's files go elsewhere
        scratch = worker_dir or tempfile.mkdtemp(prefix="fashion-mrcnn-worker-")
    elif storage.is_url(out_dir):  # trained locally, copied up (workflow.run_mirror)
        from fashion_mrcnn.workflow.run_mirror import RunMirror, staging_folder

        mirror = RunMirror(staging_folder(), str(out_dir))
        scratch = mirror.local
        print(f"run folder {mirror.url}: training in {scratch}, copied there after every epoch")
    try:
        return _train(
            config, train_ds, val_ds, storage.as_path(out_dir), schedule, augmentation,
            init_weights, exclude, steps_per_epoch, validation_steps, resume,
            time_budget_minutes, seed, verbose, allow_partial, epochs, dist,
            Path(scratch) if scratch else None, mirror,
        )  # fmt: skip
    except TrainingDivergedError as exc:
        if mirror is None:
            raise
        raise type(exc)(mirror.publish_text(str(exc))) from exc  # the URL's checkpoint names
    finally:
        if mirror is not None:
            mirror.close()  # the last copy; the staging folder goes once all is up
        elif scratch is not None and worker_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)


def _train(
    config, train_ds, val_ds, read_dir, schedule, augmentation, init_weights, exclude,
    steps_per_epoch, validation_steps, resume, time_budget_minutes, seed, verbose,
    allow_partial, epochs, dist, scratch, mirror=None,
) -> dict:  # fmt: skip
    """:func:`train` under the built Distribution ``dist``: reads a resumed run from
    ``read_dir`` (a local ``Path`` or a URL string), writes into ``scratch`` when given (a
    worker other than the chief, or the staging folder of ``mirror``, a
    ``run_mirror.RunMirror`` to the URL ``read_dir``), else into ``read_dir``."""
    from fashion_mrcnn.model import distribute as D
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    from fashion_mrcnn.model.schedule import BudgetClock, TimeBudget
    from fashion_mrcnn.workflow import run_mirror as M
    from fashion_mrcnn.workflow import rundir

    out_dir = mkdir(scratch if scratch is not None else read_dir)
    remote = storage.is_url(read_dir)
    if resume and remote:  # the URL run's logs and summary come down before anything is written
        if mirror is not None:
            mirror.pull()
        else:
            M.pull_run(read_dir, out_dir)
    publish = mirror.publish if mirror is not None else (lambda path: path)
    config.validate(num_classes=train_ds.num_classes)
    config_path = rundir.write_config(config, out_dir)
    if getattr(train_ds, "categories", None) is not None:
        rundir.write_classes(train_ds.categories, out_dir)
    summary_path = out_dir / rundir.SUMMARY_FILE
    augmentation = _augmentation(augmentation)
    if epochs is None and schedule is None and time_budget_minutes:
        epochs = BUDGET_EPOCH_CAP
    stage_list = _schedule(schedule, config, epochs)
    if val_ds is not None and validation_steps is None:
        validation_steps = validation_steps_for(
            val_ds, config, steps_per_epoch or config.STEPS_PER_EPOCH
        )
    model = MaskRCNN(
        "training", config, model_dir=out_dir / rundir.LOGS_DIR, strategy=dist.strategy
    )
    # The epoch the run started at (a run may start from a checkpoint's epoch); kept in the
    # summary so a resumed run places each stage's learning-rate schedule where it was.
    start_epoch = 0
    if resume:
        logs = storage.join(read_dir, rundir.LOGS_DIR)
        try:
            if mirror is not None:  # copied down newest first until one loads
                mirror.resume(model, allow_partial)
            elif remote:  # a worker other than the chief, reading the chief's URL
                M.load_newest(model, logs, out_dir / rundir.LOGS_DIR, allow_partial)
            else:
                model.load_last(allow_partial=allow_partial, model_dir=logs)
        except FileNotFoundError:
            log.info("no checkpoint under %s: starting fresh", logs)
        read_summary = (out_dir if remote else read_dir) / rundir.SUMMARY_FILE  # pulled
        if read_summary.is_file():
            start_epoch = int(json.loads(read_summary.read_text()).get("start_epoch", 0))
        D.check_workers_agree(dist, model.epoch, "the epoch to resume at")
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
            "checkpoint": publish(model.last_checkpoint),
            "history": {k: v for k, v in history.items() if k.endswith("loss")},
            "learning_rate": history.get("learning_rate", []),
            "step_ms": history.get("step_ms", []),
            "log_dir": publish(str(model.log_dir)),
            "config": publish(str(config_path)),
            "epochs": int(model.epoch),
            "start_epoch": start_epoch,
            "steps": steps,
            "final_learning_rate": getattr(model, "last_learning_rate", None),
            "status": status,
            "stopped_by_budget": any(b.stopped for b in budgets),
            "budget_minutes": time_budget_minutes,
            "seconds": round(time.monotonic() - start, 1),
            "strategy": dist.name,
            "replicas": dist.replicas,
            "global_batch": int(config.BATCH_SIZE),
        }
        write_json(summary_path, result)
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
                custom_callbacks=[mirror.callback()] if mirror is not None else None,
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
