"""The set-up the model benchmarks share: TensorFlow's thread counts, a config for the synthetic
categories, a few rendered scenes as an in-memory dataset, and the median timer.

Scripts in ``bench/`` import it by name (``from bench_setup import ...``): Python puts a script's
own folder first on ``sys.path``.
"""

from __future__ import annotations

import statistics
import time

import numpy as np


def tensorflow(threads: int):
    """TensorFlow, imported with ``threads`` intra-op and inter-op threads (before any op runs)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    return tf


def synthetic_config(preset: str, size: int, **overrides):
    """``preset``'s Config for the synthetic generator's categories (background + 7) at ``size``
    px square, with ``overrides`` (Config attribute names)."""
    from fashion_mrcnn.data.synthetic import CATEGORY_IDS
    from fashion_mrcnn.workflow.stages import make_config

    return make_config(
        preset,
        num_classes=1 + len(CATEGORY_IDS),
        IMAGE_MIN_DIM=size,
        IMAGE_MAX_DIM=size,
        **overrides,
    )


def synthetic_scenes(size: int, count: int, seed: int = 0) -> list[tuple]:
    """``count`` rendered scenes from one generator seeded ``seed``, each ``(image, masks,
    class_ids)``: uint8 [size, size, 3], bool [size, size, N], int32 [N] contiguous ids 1..7
    (``synthetic_config``'s classes)."""
    from fashion_mrcnn.data.synthetic import CATEGORY_IDS, render_scene

    rng = np.random.default_rng(seed)
    lookup = {c: i + 1 for i, c in enumerate(CATEGORY_IDS)}
    scenes = []
    for _ in range(count):
        image, masks, cats = render_scene(rng, size)
        scenes.append((image, masks, np.array([lookup[int(c)] for c in cats], np.int32)))
    return scenes


class SceneDataset:
    """``scenes`` (as ``synthetic_scenes`` makes them) with the ``Dataset`` methods that
    ``data.pipeline.make_dataset`` calls."""

    def __init__(self, scenes, num_classes: int):
        self.scenes, self.num_classes = scenes, num_classes
        self.image_ids = np.arange(len(scenes))
        self.image_info = [{"source": "synthetic"} for _ in scenes]

    def load_image(self, i):
        return self.scenes[i][0]

    def load_mask(self, i):
        return self.scenes[i][1], self.scenes[i][2]


def timed(fn, repeats: int) -> tuple[float, float]:
    """(median wall ms, median process CPU ms) of ``repeats`` calls of ``fn`` after one warm-up
    call (tracing, caches). The CPU time shows the cost on a busy machine."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000
