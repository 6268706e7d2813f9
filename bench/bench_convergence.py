"""Convergence: held-out mask mAP@0.5 after a CPU time budget, synthetic scenes or real photos.

    # synthetic scenes (the embedded default data)
    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python bench/bench_convergence.py \
        --images 400 --size 128 --minutes 25 --out bench/out/convergence
    # real street-fashion photos: train on ccp-fashion's train split, evaluate on val
    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python bench/bench_convergence.py \
        --data ../shared/datasets/ccp-fashion/coco/instances.json --preset cpu-small \
        --size 256 --minutes 40 --out bench/out/realdata

Trains from the preset's start (cpu-smoke: random weights; cpu-small: the ImageNet
EfficientNet-Lite0 backbone of a registry package, nothing downloaded at run time), all layers,
at the preset's learning rate unless ``--lr``, with horizontal flips and a cosine schedule
fitted to the time budget; evaluates on the
held-out split (``val`` of the data's splits.json): mask mAP@0.5 (Matterport's per-image VOC AP,
averaged), COCO mask / box AP through pycocotools, and the per-class table. Writes
``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        default="synthetic",
        help="'synthetic' or a dataset path with a splits.json (train / val)",
    )
    parser.add_argument("--images", type=int, default=400, help="synthetic scenes to generate")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--minutes", type=float, default=25.0)
    parser.add_argument("--steps-per-epoch", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=60, help="cosine schedule length (cap)")
    parser.add_argument("--lr", type=float, help="default: the preset's LEARNING_RATE")
    parser.add_argument("--preset", default="cpu-smoke")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench/out/convergence")
    args = parser.parse_args()

    from fashion_mrcnn.workflow import stages

    out = Path(args.out)
    if args.data == "synthetic":
        data = stages.ensure_synthetic(
            out / "data", n_images=args.images, size=args.size, seed=args.seed
        )
        keep = stages.synthetic_categories()
    else:
        data = Path(args.data)
        keep = sorted(
            {i["category_id"] for r in stages.open_dataset(data).records for i in r["instances"]}
        )
    train_ds = stages.open_dataset(data, split="train", categories=keep)
    val_ds = stages.open_dataset(data, split="val", categories=keep)
    config = stages.make_config(
        args.preset,
        num_classes=train_ds.num_classes,
        name="convergence",
        IMAGE_MIN_DIM=args.size,
        IMAGE_MAX_DIM=args.size,
        **({} if args.lr is None else {"LEARNING_RATE": args.lr}),
        LR_SCHEDULE="cosine",
        LR_WARMUP_STEPS=200,
    )
    start = time.time()
    trained = stages.train(
        config,
        train_ds,
        None,
        out / "train",
        schedule=[{"layers": "all", "epochs": args.epochs, "learning_rate": config.LEARNING_RATE}],
        augmentation="flips",  # stages.train's named horizontal-flip augmentation
        steps_per_epoch=args.steps_per_epoch,
        time_budget_minutes=args.minutes,
        seed=args.seed,
        verbose=2,
    )
    train_seconds = time.time() - start
    result = stages.evaluate(
        config, trained["checkpoint"], val_ds, out / "eval", train_dataset=train_ds
    )
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, no GPU",
        "data": str(args.data),
        "train_images": train_ds.num_images,
        "val_images": val_ds.num_images,
        "size": args.size,
        "preset": args.preset,
        "epochs_run": trained["epochs"],
        "steps": trained["steps"],  # optimizer steps (a budget-stopped epoch is partial)
        "train_minutes": round(train_seconds / 60, 1),
        "final_loss": trained["history"]["loss"][-1],
        **{k: result[k] for k in ("mask_map50", "segm_AP", "segm_AP50", "bbox_AP", "bbox_AP50")},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    print(result["per_class"].to_string())


if __name__ == "__main__":
    main()
