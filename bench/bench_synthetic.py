"""Time the data extras: synthetic scene generation, augmentation, shard-cache packing / reading.

    .venv/bin/python bench/bench_synthetic.py [--images 100] [--size 256]

Prints wall-clock seconds for: rendering scenes in memory; ``synthetic.generate`` (render + JPEG
+ RLE + CSV); ``default_augmentation`` per image; ``cache.pack_dataset`` of the generated set;
reading it back through ``CachedDataset`` (numpy) and ``read_cache`` (tf.data).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from fashion_mrcnn.data import cache, synthetic  # noqa: E402
from fashion_mrcnn.data.augment import default_augmentation  # noqa: E402
from fashion_mrcnn.data.dataset import FashionDataset  # noqa: E402


def timed(label: str, fn, per: int | None = None):
    """Run ``fn``; print wall-clock and process CPU seconds (CPU time is steadier when other
    jobs share the machine; TensorFlow's worker threads make it exceed wall time)."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    sec, cpu = time.perf_counter() - start, time.process_time() - cpu
    extra = f"  ({1000 * sec / per:.1f} ms each)" if per else ""
    print(f"{label:<52s} wall {sec:6.2f} s  cpu {cpu:6.2f} s{extra}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    n, size = args.images, args.size
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        scenes = timed(
            f"render_scene x{n} at {size} px (memory)",
            lambda: [synthetic.render_scene(synthetic.image_rng(0, i), size) for i in range(n)],
            n,
        )
        counts = [s[1].shape[-1] for s in scenes]
        mean = np.mean(counts)
        print(f"  instances per image: mean {mean:.1f}, min {min(counts)}, max {max(counts)}")
        timed(
            f"generate({n}, size={size}) to disk", lambda: synthetic.generate(tmp / "s", n, size), n
        )
        aug = default_augmentation(p=0.5)
        rng = np.random.default_rng(0)
        timed(
            f"default_augmentation x{n} (p=0.5)",
            lambda: [aug(image=s[0], masks=s[1], rng=rng) for s in scenes],
            n,
        )
        ds = FashionDataset.from_imaterialist(
            tmp / "s" / "train.csv", tmp / "s" / "label_descriptions.json"
        )
        timed(
            f"pack_dataset({n} images, image_size={size}, shards of 25)",
            lambda: cache.pack_dataset(ds, tmp / "c", size, shard_size=25),
            n,
        )
        cached = cache.CachedDataset(tmp / "c")
        timed(
            "CachedDataset load_image + load_instances (all)",
            lambda: [(cached.load_image(i), cached.load_instances(i)) for i in cached.image_ids],
            n,
        )
        timed(
            "read_cache tf.data iteration (all)",
            lambda: list(cache.read_cache(tmp / "c").as_numpy_iterator()),
            n,
        )
        total = sum(p.stat().st_size for p in (tmp / "c").glob("shard-*"))
        print(f"  cache size: {total / 1e6:.2f} MB for {n} images")


if __name__ == "__main__":
    main()
