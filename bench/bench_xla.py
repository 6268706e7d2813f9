"""The XLA-compiled training step and detect against the uncompiled ones, like for like (issue 19,
section 3).

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python bench/bench_xla.py [--preset cpu-smoke] \\
        [--size 128] [--steps 20] [--rounds 3] [--threads 2] [--float32]

Three variants of one preset, on the same rendered scenes (batches of IMAGES_PER_GPU from one
``make_dataset`` stream each, same seed) and the same starting weights:

- ``default``: the graph users train today (JIT_COMPILE False, ROI_ALIGN crop_and_resize; the
  mask head on the positives only), uncompiled;
- ``fixed``: the JIT_COMPILE graph (fixed shapes: the mask head on every positive slot,
  ROI_ALIGN xla), uncompiled;
- ``xla``: the same graph, ``jit_compile=True`` (what ``train --jit-compile`` runs).

Training (all layers, ``MaskRCNNTrainer.train_on_batch``): the first step's time (tracing, and
for ``xla`` the compile), then ``--rounds`` rounds in which each variant runs ``--steps`` steps
in turn; the median step of each variant over all rounds. Detect: ``detect`` on one image,
the same way (``default`` and ``xla``). Random weights (the step's work does not depend on them
beyond the positive count, which the ``fixed`` graph does not shrink). Run it alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time


def _train_variant(cfg, start_weights, tmp):
    """A compiled trainer over ``cfg``'s training graph, from ``start_weights``."""
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    from fashion_mrcnn.model.training import MaskRCNNTrainer, make_optimizer

    model = MaskRCNN("training", cfg, tmp)
    model.set_trainable("all", verbose=0)
    if start_weights is not None:
        model.keras_model.set_weights(start_weights)
    trainer = MaskRCNNTrainer(model.keras_model, cfg)
    trainer.compile(
        optimizer=make_optimizer(cfg, 0.01, 10_000), jit_compile=getattr(cfg, "JIT_COMPILE", False)
    )
    return model, trainer


def _report(title: str, first: dict, times: dict) -> None:
    """Print each variant's first call (s) and median call (ms), and its median over the first
    variant's."""
    print(f"\n{title}")
    base = statistics.median(next(iter(times.values())))
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"  {name:8s} first {first[name] / 1000:6.1f} s   median {median:7.1f} ms   "
            f"x{median / base:.2f} of the first"
        )


def _ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="cpu-smoke")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20, help="steps per variant and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--float32", action="store_true", help="MIXED_PRECISION False (default: the preset's)"
    )
    ap.add_argument(
        "--variants",
        nargs="+",
        default=["default", "fixed", "xla"],
        choices=["default", "fixed", "xla"],
        help="which to run (default alone also runs on a checkout before JIT_COMPILE, put first "
        "on PYTHONPATH: the default graph before and after a change)",
    )
    args = ap.parse_args(argv)

    from bench_setup import SceneDataset, synthetic_config, synthetic_scenes, tensorflow

    tf = tensorflow(args.threads)
    import keras

    from fashion_mrcnn.data.pipeline import make_dataset
    from fashion_mrcnn.model.maskrcnn import MaskRCNN

    jit = {"JIT_COMPILE": True, "ROI_ALIGN": "xla"}
    configs = {
        name: synthetic_config(
            args.preset,
            args.size,
            BACKBONE_WEIGHTS=None,
            **({"MIXED_PRECISION": False} if args.float32 else {}),
            **({} if name == "default" else jit),
        )
        for name in ("default", "fixed", "xla")
        if name in args.variants
    }
    import fashion_mrcnn

    print(f"fashion_mrcnn from {fashion_mrcnn.__file__}")
    scenes = synthetic_scenes(args.size, 16)
    print(
        f"preset {args.preset} {args.size} px, batch {next(iter(configs.values())).BATCH_SIZE}, "
        f"precision {next(iter(configs.values())).MIXED_PRECISION}, "
        f"python {sys.version.split()[0]}, tf {tf.__version__}, keras {keras.__version__}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        keras.utils.set_random_seed(0)
        start = None
        trainers, batches, first = {}, {}, {}
        for name, cfg in configs.items():
            model, trainer = _train_variant(cfg, start, tmp)
            start = start or model.keras_model.get_weights()
            if name == "fixed":  # same config as xla: compile flag off
                trainer.compile(optimizer=trainer.optimizer, jit_compile=False)
            ds = make_dataset(SceneDataset(scenes, cfg.NUM_CLASSES), cfg, shuffle=True, seed=0)
            batches[name] = iter(ds.repeat())
            trainers[name] = trainer
            first[name] = _ms(lambda t=trainer, b=batches[name]: t.train_on_batch(next(b)[0]))
        steps = {name: [] for name in configs}
        for _ in range(args.rounds):
            for name, trainer in trainers.items():
                data = [next(batches[name])[0] for _ in range(args.steps)]
                for batch in data:
                    steps[name].append(_ms(lambda t=trainer, b=batch: t.train_on_batch(b)))
        _report(
            "training step (all layers): first step (trace / compile), median step", first, steps
        )
        del trainers

        detectors, calls = {}, {}
        images = [scene[0] for scene in scenes[:8]]
        for name in [n for n in ("default", "xla") if n in configs]:
            cfg = configs[name].replace(IMAGES_PER_GPU=1)
            model = MaskRCNN("inference", cfg, tmp)
            if detectors:  # the same weights (the two graphs hold the same ones, in order)
                model.keras_model.set_weights(
                    next(iter(detectors.values())).keras_model.get_weights()
                )
            detectors[name] = model
            first[name] = _ms(lambda m=model: m.detect(images[:1]))
            calls[name] = []
        for _ in range(args.rounds):
            for name, model in detectors.items():
                for image in images:
                    calls[name].append(_ms(lambda m=model, i=image: m.detect([i])))
        _report("detect (1 image): first call (trace / compile), median call", first, calls)


if __name__ == "__main__":
    main()
