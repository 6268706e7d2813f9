"""Kaggle RLE codec speed: fashion_mrcnn.data.formats.rle vs pycocotools on 512 x 512 masks.

Two mask sets: real garment masks (every ccp-fashion instance resized to 512 x 512, nearest) and
random blobs (a few filled ellipses plus speckle). For each set the script times, per mask:
  encode  ours: rle.encode(mask)            pycocotools: mask.encode(np.asfortranarray(mask))
  decode  ours: rle.decode(text, 512, 512)  pycocotools: mask.decode(coco_rle)
and prints a table of mean milliseconds per mask (best of --repeat passes over the set).

    .venv/bin/python bench/bench_rle.py [--repeat 5] [--max-masks 1000]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from fashion_mrcnn.data.formats import rle

CCP = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "ccp-fashion"
SIZE = 512


def ccp_masks(limit: int) -> list[np.ndarray]:
    path = CCP / "coco" / "instances.json"
    if not path.is_file():
        print(f"ccp-fashion not found at {CCP.resolve()}: skipping the garment set")
        return []
    with path.open() as f:
        anns = json.load(f)["annotations"][:limit]
    out = []
    for ann in anns:
        seg = ann["segmentation"]
        m = mask_utils.decode({"size": seg["size"], "counts": seg["counts"].encode()})
        out.append(cv2.resize(m, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST))
    return out


def blob_masks(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        m = np.zeros((SIZE, SIZE), np.uint8)
        for _ in range(rng.integers(1, 4)):
            center = tuple(int(v) for v in rng.integers(0, SIZE, 2))
            axes = tuple(int(v) for v in rng.integers(10, 200, 2))
            cv2.ellipse(m, center, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        m[rng.random((SIZE, SIZE)) < 0.001] ^= 1
        out.append(m)
    return out


def best_time(fn, items, repeat: int) -> float:
    """Best-of-``repeat`` mean seconds per item of ``fn(item)`` over ``items``."""
    for item in items[:20]:  # warm-up
        fn(item)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, (time.perf_counter() - t0) / len(items))
    return best


def bench_set(name: str, masks: list[np.ndarray], repeat: int) -> list[tuple]:
    texts = [rle.encode(m) for m in masks]
    cocos = [mask_utils.encode(np.asfortranarray(m)) for m in masks]
    for m, t, c in zip(masks[:50], texts[:50], cocos[:50], strict=True):  # same answers
        assert np.array_equal(rle.decode(t, SIZE, SIZE), mask_utils.decode(c))
        assert np.array_equal(rle.decode(t, SIZE, SIZE), m)
    runs = np.mean([len(t.split()) // 2 for t in texts])
    rows = []
    enc_ours = best_time(rle.encode, masks, repeat)
    enc_coco = best_time(lambda m: mask_utils.encode(np.asfortranarray(m)), masks, repeat)
    dec_ours = best_time(lambda t: rle.decode(t, SIZE, SIZE), texts, repeat)
    dec_coco = best_time(mask_utils.decode, cocos, repeat)
    rows.append((name, len(masks), runs, "encode", enc_ours, enc_coco))
    rows.append((name, len(masks), runs, "decode", dec_ours, dec_coco))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--max-masks", type=int, default=1000)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # pycocotools + numpy 2
    rows = []
    garments = ccp_masks(args.max_masks)
    if garments:
        rows += bench_set("ccp garments 512x512", garments, args.repeat)
    rows += bench_set("random blobs 512x512", blob_masks(min(args.max_masks, 500)), args.repeat)
    print("| mask set | masks | mean runs | op | ours ms | pycocotools ms | speed-up |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: |")
    for name, n, runs, op, ours, coco in rows:
        print(
            f"| {name} | {n} | {runs:.0f} | {op} | {ours * 1e3:.3f} | {coco * 1e3:.3f} | "
            f"{coco / ours:.2f}x |"
        )


if __name__ == "__main__":
    main()
