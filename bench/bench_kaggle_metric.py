"""Time the iMaterialist 2019 Kaggle metric on a test-set-sized synthetic submission.

3,200 images, 50 predicted masks per image at 512 x 512 (160,000 rows), ground truth with 4..12
masks per image at 512 x 512. Predictions are jittered copies of the ground truth, re-labelled
copies, and random extra ellipses (same-class overlaps included, so the assignment path runs).
A second run scores GT stored at a larger original size with ``pred_size=(512, 512)`` on a
subset (GT masks are then decoded and resized).

    .venv/bin/python bench/bench_kaggle_metric.py [--images 3200] [--preds 50]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fashion_mrcnn.evaluation.kaggle import kaggle_metric

CLASSES = [str(c) for c in range(46)] + ["10_1_2", "0_5", "32_40"]


def ellipse_rle(h: int, w: int, cy: float, cx: float, ry: float, rx: float) -> str:
    """Kaggle RLE of a filled axis-aligned ellipse, built column by column (no mask)."""
    xs = np.arange(max(0, int(np.ceil(cx - rx))), min(w, int(np.floor(cx + rx)) + 1))
    half = ry * np.sqrt(np.clip(1.0 - ((xs - cx) / rx) ** 2, 0.0, 1.0))
    y0 = np.clip(np.ceil(cy - half), 0, h - 1).astype(np.int64)
    y1 = np.clip(np.floor(cy + half), 0, h - 1).astype(np.int64) + 1
    keep = y1 > y0
    xs, y0, y1 = xs[keep], y0[keep], y1[keep]
    if xs.size == 0:
        xs, y0, y1 = np.array([int(cx) % w]), np.array([int(cy) % h]), np.array([int(cy) % h + 1])
    pairs = np.stack([xs * h + y0 + 1, y1 - y0], axis=1)
    return " ".join(map(str, pairs.ravel().tolist()))


def random_shape(rng, h, w):
    return (
        rng.uniform(0.1, 0.9) * h,
        rng.uniform(0.1, 0.9) * w,
        rng.uniform(0.03, 0.25) * h,
        rng.uniform(0.03, 0.25) * w,
    )


def make_case(n_images: int, n_preds: int, gt_size=(512, 512), seed: int = 0):
    rng = np.random.default_rng(seed)
    gh, gw = gt_size
    gt_rows, pred_rows = [], []
    for i in range(n_images):
        image_id = f"img_{i:05d}.jpg"
        n_gt = int(rng.integers(4, 13))
        shapes = [random_shape(rng, 512, 512) for _ in range(n_gt)]
        classes = rng.choice(CLASSES, size=n_gt)
        sy, sx = gh / 512, gw / 512
        for (cy, cx, ry, rx), cls in zip(shapes, classes):
            rle = ellipse_rle(gh, gw, cy * sy, cx * sx, ry * sy, rx * sx)
            gt_rows.append((image_id, rle, gh, gw, cls))
        for k in range(n_preds):
            if k < n_gt:  # jittered copy, right class
                cy, cx, ry, rx = shapes[k]
                jitter = rng.normal(0, 0.08, size=4) * np.array([ry, rx, ry, rx])
                cls = classes[k]
                cy, cx, ry, rx = (np.array([cy, cx, ry, rx]) + jitter).tolist()
                ry, rx = max(ry, 2.0), max(rx, 2.0)
            elif k < 2 * n_gt:  # same shape, another class
                cy, cx, ry, rx = shapes[k - n_gt]
                cls = rng.choice(CLASSES)
            else:
                cy, cx, ry, rx = random_shape(rng, 512, 512)
                cls = rng.choice(classes) if rng.random() < 0.5 else rng.choice(CLASSES)
            pred_rows.append((image_id, ellipse_rle(512, 512, cy, cx, ry, rx), cls))
    gt = pd.DataFrame(gt_rows, columns=["ImageId", "EncodedPixels", "Height", "Width", "ClassId"])
    pred = pd.DataFrame(pred_rows, columns=["ImageId", "EncodedPixels", "ClassId"])
    return gt, pred


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3200)
    parser.add_argument("--preds", type=int, default=50)
    parser.add_argument("--resize-images", type=int, default=400)
    args = parser.parse_args()

    t0 = time.perf_counter()
    gt, pred = make_case(args.images, args.preds)
    print(
        f"generated {len(gt)} GT rows, {len(pred)} prediction rows "
        f"in {time.perf_counter() - t0:.1f} s"
    )

    t0, c0 = time.perf_counter(), time.process_time()
    score = kaggle_metric(gt, pred)
    t_df, c_df = time.perf_counter() - t0, time.process_time() - c0
    print(f"kaggle_metric(DataFrames): score {score:.4f} in {t_df:.1f} s wall, {c_df:.1f} s CPU")

    with tempfile.TemporaryDirectory() as tmp:
        gt_csv, pred_csv = Path(tmp) / "gt.csv", Path(tmp) / "pred.csv"
        gt.to_csv(gt_csv, index=False)
        pred.to_csv(pred_csv, index=False)
        t0, c0 = time.perf_counter(), time.process_time()
        score_csv = kaggle_metric(gt_csv, pred_csv)
        t_csv, c_csv = time.perf_counter() - t0, time.process_time() - c0
        print(
            f"kaggle_metric(CSV files, incl. reading): score {score_csv:.4f} in {t_csv:.1f} s "
            f"wall, {c_csv:.1f} s CPU"
        )

    n = args.resize_images
    gt_big, pred_small = make_case(n, args.preds, gt_size=(1024, 768), seed=1)
    t0, c0 = time.perf_counter(), time.process_time()
    score_rs = kaggle_metric(gt_big, pred_small, pred_size=(512, 512))
    t_rs, c_rs = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"kaggle_metric(GT 1024x768 -> pred_size 512x512, {n} images): score {score_rs:.4f} "
        f"in {t_rs:.1f} s wall, {c_rs:.1f} s CPU ({1000 * c_rs / n:.1f} ms CPU / image)"
    )


if __name__ == "__main__":
    main()
