"""``fashion-mrcnn demo``: the README's main job, on a fresh machine with no data and no weights.

Synthetic fashion scenes -> a small Mask R-CNN trained from scratch on the CPU for a few minutes
-> evaluation on held-out scenes (mask mAP@0.5, COCO mask / box AP, per-class table) ->
predictions with overlay PNGs -> ``report.md`` (whose path is returned and printed).
"""

from __future__ import annotations

import time
from pathlib import Path

from fashion_mrcnn.model.precision import mixed_precision_setting
from fashion_mrcnn.workflow import stages

#: Steps per demo epoch (a checkpoint and a log line each). The demo trains with the cpu-smoke
#: preset's recipe (``scratch``: SGD 0.02, 200-step warm-up, cosine, flips) with the schedule
#: fitted to its time budget, so it ends at a rate near zero on any machine.
DEMO_STEPS_PER_EPOCH = 50
#: Synthetic scenes the demo generates (4:1 train / held out). 120 scenes (96 to train on) capped
#: held-out mask mAP@0.5 at 0.59-0.62 whatever the steps: 6 minutes is about 60 passes over 96
#: scenes. 480 (384 to train on) gave 0.72 in the same 6 minutes; the 96-scene model scored 0.53
#: on the same 96 held-out scenes (bench/results/demo.md). Generating them takes about 2 s.
DEMO_IMAGES = 480


def run_demo(
    out_dir="out/demo",
    n_images: int = DEMO_IMAGES,
    size: int = 128,
    minutes: float = 6.0,
    seed: int = 0,
    preset: str = "cpu-smoke",
    epochs: int | None = None,
    steps_per_epoch: int = DEMO_STEPS_PER_EPOCH,
    precision: str | None = None,
) -> Path:
    """Run the whole demo and return the path of ``report.md``.

    ``minutes`` is the training budget: the learning-rate schedule is fitted to it (warm-up,
    then cosine to zero when the budget ends; ``epochs``, when given, caps the run). The rest
    (data, evaluation, predictions) takes well under a minute at the defaults. ``precision``:
    ``float32`` / ``float16`` / ``bfloat16`` (``model.precision``); None keeps the preset's.
    """
    from fashion_mrcnn.viz.plots import plot_history

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    data = stages.ensure_synthetic(out / "data", n_images=n_images, size=size, seed=seed)
    keep = stages.synthetic_categories()
    train_ds = stages.open_dataset(data, split="train", categories=keep)
    val_ds = stages.open_dataset(data, split="val", categories=keep)
    print(f"data: {train_ds.num_images} training and {val_ds.num_images} held-out scenes in {data}")

    config = stages.make_config(
        preset,
        num_classes=train_ds.num_classes,
        name="demo",
        IMAGE_MIN_DIM=size,
        IMAGE_MAX_DIM=size,
        **({} if precision is None else {"MIXED_PRECISION": mixed_precision_setting(precision)}),
    )
    trained = stages.train(
        config,
        train_ds,
        None,
        out / "train",
        epochs=epochs,
        augmentation="flips",
        steps_per_epoch=steps_per_epoch,
        time_budget_minutes=minutes,
        seed=seed,
        verbose=2,
    )
    print(
        f"trained {trained['steps']} steps in {trained['seconds']:.0f} s (median step "
        f"{median_step_ms(trained)} ms); the schedule ended at learning rate "
        f"{trained['final_learning_rate']:.3g}"
    )
    if trained["checkpoint"] is None:
        raise RuntimeError("demo training wrote no checkpoint")
    history_png = plot_history(trained["history"], out / "loss.png")

    model = stages.load_inference_model(config, trained["checkpoint"])
    evaluation = stages.evaluate(config, model, val_ds, out / "eval", train_dataset=train_ds)
    print(
        f"held-out: mask mAP@0.5 {_fmt(evaluation['mask_map50'])}, "
        f"COCO mask AP {_fmt(evaluation['segm_AP'])}, COCO box AP {_fmt(evaluation['bbox_AP'])} "
        f"({evaluation['num_images']} images, {evaluation['num_gt']} instances)"
    )
    val_paths = [val_ds.image_info[i]["path"] for i in val_ds.image_ids[:8]]
    predicted = stages.predict(
        config,
        model,
        val_paths,
        out / "predictions",
        val_ds.class_names,
        category_ids=stages.category_ids_for(val_ds.categories),
    )
    report = write_report(
        out, trained, evaluation, predicted, history_png, seconds=time.monotonic() - started
    )
    return report


def _markdown_table(frame) -> str:
    frame = frame.reset_index()
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(
    out: Path, trained: dict, evaluation: dict, predicted: dict, history_png, seconds: float
) -> Path:
    """``report.md`` with the metrics, the loss curve, the per-class table and overlays."""
    losses = trained["history"].get("loss", [])
    overlays = sorted(Path(predicted["overlays"]).glob("*.png"))
    lines = [
        "# fashion-mrcnn demo report",
        "",
        "Synthetic fashion scenes, Mask R-CNN trained from scratch on the CPU "
        f"({trained['steps']} steps of {DEMO_STEPS_PER_EPOCH} per epoch, {trained['epochs']} "
        f"epochs, {trained['seconds']:.0f} s of training, median step "
        f"{median_step_ms(trained)} ms; the schedule ended at learning rate "
        f"{trained['final_learning_rate']:.3g}"
        f"{', at the time budget' if trained['stopped_by_budget'] else ''}); "
        f"whole demo {seconds:.0f} s.",
        "",
        "## Held-out metrics",
        "",
        "| metric | value |",
        "|---|---|",
        f"| mask mAP@0.5 (Matterport compute_ap, mean over images) | {_fmt(evaluation['mask_map50'])} |",
        f"| COCO mask AP@[.5:.95] | {_fmt(evaluation['segm_AP'])} |",
        f"| COCO mask AP@0.5 | {_fmt(evaluation['segm_AP50'])} |",
        f"| COCO box AP@[.5:.95] | {_fmt(evaluation['bbox_AP'])} |",
        f"| images / ground-truth instances / predictions | {evaluation['num_images']} / "
        f"{evaluation['num_gt']} / {evaluation['num_predictions']} |",
        "",
        f"Training loss: {_fmt(losses[0]) if losses else '-'} (epoch 1) -> "
        f"{_fmt(losses[-1]) if losses else '-'} (last epoch).",
        "",
        f"![loss]({Path(history_png).relative_to(out)})",
        "",
        "## Per-class results (IoU 0.5)",
        "",
        _markdown_table(evaluation["per_class"]),
        "",
        "## Predictions on held-out scenes",
        "",
        f"JSON Lines: `{Path(predicted['jsonl']).relative_to(out)}`",
        "",
    ]
    lines += [f"![{p.stem}]({p.relative_to(out)})" for p in overlays]
    lines += ["", f"Checkpoint: `{trained['checkpoint']}`", ""]
    lines += [
        "## Real photos",
        "",
        "This model saw only synthetic scenes. To see garments found in real photos, serve the",
        "starter model shipped in `weights/starter/` (trained on ccp-fashion; its card is",
        "`weights/starter/MODEL_CARD.md`):",
        "",
        "    .venv/bin/fashion-mrcnn serve",
        "",
    ]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report


def median_step_ms(trained: dict) -> str:
    """The median of the per-epoch median step times after the first epoch (tracing), "n/a"
    when none was logged."""
    import numpy as np

    times = trained.get("step_ms", [])[1:] or trained.get("step_ms", [])
    return f"{float(np.median(times)):.0f}" if times else "n/a"


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
