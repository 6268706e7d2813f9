"""Benchmark the engine: inference latency (batch 1) and training step time (batch 2) for a
resnet50-FPN Mask R-CNN with 47 classes at 256 and 512 px, plus peak RSS.

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python bench/bench_model.py [--sizes 256 512] [--threads 2]
        [--precision float32 bfloat16]

Random weights (timing does not depend on them); synthetic scenes as inputs.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time

import numpy as np


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--train-steps", type=int, default=5)
    ap.add_argument(
        "--precision",
        nargs="+",
        default=["float32"],
        choices=["float32", "float16", "bfloat16"],
        help="MIXED_PRECISION settings to time, one after the other (model.precision)",
    )
    ap.add_argument(
        "--pipeline-only",
        action="store_true",
        help="only measure the tf.data input pipeline on ../shared/datasets/ccp-fashion",
    )
    args = ap.parse_args(argv)
    if args.pipeline_only:
        bench_pipeline()
        return

    from bench_setup import SceneDataset, tensorflow

    tf = tensorflow(args.threads)
    from fashion_mrcnn.config import FashionConfig
    from fashion_mrcnn.data.pipeline import make_dataset
    from fashion_mrcnn.data.synthetic import render_scene
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    from fashion_mrcnn.model.precision import mixed_precision_setting
    from fashion_mrcnn.model.training import MaskRCNNTrainer, make_optimizer

    print(f"threads={args.threads} python={sys.version.split()[0]} tf={tf.__version__}")
    for precision, size in [(p, s) for p in args.precision for s in args.sizes]:
        rng = np.random.default_rng(0)
        print(f"--- {precision}")
        scenes = []
        for _ in range(4):
            image, masks, cats = render_scene(rng, size)
            scenes.append((image, masks, (np.asarray(cats) % 46 + 1).astype(np.int32)))
        cfg = FashionConfig(
            IMAGE_MIN_DIM=size,
            IMAGE_MAX_DIM=size,
            IMAGES_PER_GPU=1,
            MIXED_PRECISION=mixed_precision_setting(precision),
        )
        with tempfile.TemporaryDirectory() as tmp:
            infer = MaskRCNN("inference", cfg, tmp)
            images = [s[0] for s in scenes]
            t0 = time.perf_counter()
            infer.detect(images[:1])
            first = time.perf_counter() - t0
            times = []
            for i in range(args.repeats):
                t0 = time.perf_counter()
                infer.detect([images[i % len(images)]])
                times.append(time.perf_counter() - t0)
            print(
                f"{size}px inference batch 1: first call {first:.2f}s, then median "
                f"{np.median(times):.3f}s (min {min(times):.3f}s) over {args.repeats}"
            )
            del infer

            tcfg = cfg.replace(IMAGES_PER_GPU=2)
            train = MaskRCNN("training", tcfg, tmp)
            train.set_trainable("all", verbose=0)
            trainer = MaskRCNNTrainer(train.keras_model, tcfg)
            trainer.compile(optimizer=make_optimizer(tcfg, 1e-3, 100), jit_compile=False)
            it = iter(make_dataset(SceneDataset(scenes, tcfg.NUM_CLASSES), tcfg, seed=0))
            batch = next(it)
            t0 = time.perf_counter()
            trainer.train_on_batch(batch[0])
            first = time.perf_counter() - t0
            times = []
            for _ in range(args.train_steps):
                batch = next(it)
                t0 = time.perf_counter()
                trainer.train_on_batch(batch[0])
                times.append(time.perf_counter() - t0)
            print(
                f"{size}px training step batch 2 (all layers): first {first:.2f}s, then median "
                f"{np.median(times):.3f}s over {args.train_steps}"
            )
            del train, trainer
        print(f"peak RSS so far: {_peak_rss_mb():.0f} MB")


def bench_pipeline(batches: int = 20) -> None:
    """Input pipeline throughput (images/s) at 512 px with the default augmentation on the real
    ccp-fashion sample, for NUM_WORKERS 1 and 2."""
    from pathlib import Path

    from fashion_mrcnn.config import FashionConfig
    from fashion_mrcnn.data.augment import default_augmentation
    from fashion_mrcnn.data.dataset import FashionDataset
    from fashion_mrcnn.data.pipeline import make_dataset

    csv = (
        Path(__file__).resolve().parents[1]
        / ".."
        / "shared"
        / "datasets"
        / "ccp-fashion"
        / "train.csv"
    )
    if not csv.is_file():
        print(f"ccp-fashion not found at {csv}: pipeline benchmark skipped")
        return
    ds = FashionDataset.from_imaterialist(csv, check_images=False)
    ds.prepare()
    for workers in (1, 2):
        cfg = FashionConfig(NUM_CLASSES=ds.num_classes, NUM_WORKERS=workers, IMAGES_PER_GPU=2)
        it = iter(make_dataset(ds, cfg, augmentation=default_augmentation(), seed=0))
        next(it)
        t0 = time.perf_counter()
        for _ in range(batches):
            next(it)
        dt = time.perf_counter() - t0
        print(
            f"pipeline 512px, NUM_WORKERS={workers}, default augmentation: "
            f"{2 * batches / dt:.1f} images/s ({dt / batches:.3f} s per batch of 2)"
        )


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
