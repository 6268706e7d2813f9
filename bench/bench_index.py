"""Index speed of the iMaterialist CSV loader on a full-size synthetic train.csv.

Builds (once, cached in --workdir) a CSV the size of iMaterialist 2019's train.csv: 333,415 rows
over 45,625 images (2019 layout, ~4 % of rows with attributes). Each synthetic image copies the
size of a real ccp-fashion image and draws its rows' RLE strings from that image's real masks, so
string lengths and run statistics are those of real garment masks (~1.4 kB per row at about
550 x 830 px). An empty file per image is created so the image-existence check runs for real.

Times: pandas.read_csv alone, read_imaterialist (check_images on / off), and building the
prepared FashionDataset from the records.

    .venv/bin/python bench/bench_index.py [--rows 333415] [--images 45625] [--workdir /tmp/...]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fashion_mrcnn.data.dataset import FashionDataset
from fashion_mrcnn.data.imaterialist import read_imaterialist

CCP = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "ccp-fashion"


def build_csv(workdir: Path, n_rows: int, n_images: int, seed: int = 0) -> Path:
    csv_path = workdir / f"train_{n_rows}_{n_images}.csv"
    images = workdir / "images"
    if csv_path.is_file() and images.is_dir() and len(list(images.iterdir())) >= n_images:
        return csv_path
    source = pd.read_csv(CCP / "train.csv", dtype=str)
    groups = [g for _, g in source.groupby("ImageId")]
    rng = np.random.default_rng(seed)
    per_image = np.maximum(1, rng.poisson(n_rows / n_images, n_images))
    images.mkdir(parents=True, exist_ok=True)
    written = 0
    with csv_path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ImageId", "EncodedPixels", "Height", "Width", "ClassId"])
        for k in range(n_images):
            name = f"{k:032x}.jpg"
            (images / name).touch()
            g = groups[rng.integers(len(groups))]
            count = int(per_image[k]) if k < n_images - 1 else max(1, n_rows - written)
            for j in rng.integers(0, len(g), count):
                row = g.iloc[j]
                cls = str(row.ClassId)
                if rng.random() < 0.04:
                    cls += "_" + "_".join(str(a) for a in sorted(rng.choice(92, 3, False)))
                writer.writerow([name, row.EncodedPixels, row.Height, row.Width, cls])
            written += count
            if written >= n_rows:
                break
    return csv_path


def timed(label: str, fn):
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    print(f"| {label} | {dt:.2f} |")
    return out, dt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=333_415)
    parser.add_argument("--images", type=int, default=45_625)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/fashion_mrcnn_bench_index"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    csv_path = build_csv(args.workdir, args.rows, args.images)
    size_mb = csv_path.stat().st_size / 1e6
    print(f"CSV {csv_path} ({size_mb:.0f} MB) ready in {time.perf_counter() - t0:.1f} s\n")
    labels = CCP / "label_descriptions.json"
    images = args.workdir / "images"
    print("| step | seconds |\n| --- | ---: |")
    timed("pandas.read_csv (dtype=str) alone", lambda: pd.read_csv(csv_path, dtype=str))
    timed(
        "read_imaterialist, check_images=False",
        lambda: read_imaterialist(csv_path, labels, images, check_images=False),
    )
    (records, descr, report), _ = timed(
        "read_imaterialist, check_images=True", lambda: read_imaterialist(csv_path, labels, images)
    )
    timed(
        "FashionDataset.from_records (validate + prepare)",
        lambda: FashionDataset.from_records(records, descr["categories"]),
    )
    n_inst = sum(len(r["instances"]) for r in records)
    print(f"\n{len(records)} images, {n_inst} instances, {len(report)} skipped")


if __name__ == "__main__":
    main()
