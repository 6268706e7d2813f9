"""Where a training step's time goes, stage by stage (issue 17): TensorFlow's profiler traces a few
steps and every op the executor ran is put into one stage by its name.

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python bench/profile_step.py --preset cpu-smoke --size 128 \\
        [--precision float32] [--steps 10] [--top 0] [--set RPN_CONV_CHANNELS=64 ...]

Stages: backbone, fpn, rpn, proposals, targets (detection targets), roialign, box head, mask
head, losses (+ L2), optimizer (gradient clipping and the SGD update), other. Each op's time goes
to its stage, forward and backward (``gradient_tape/...``) apart. Per stage: op count per step,
the summed op time per step (ms; ops on parallel threads overlap, so the sum may exceed the
wall) and the share of the sum. The wall time per step is measured apart, without the profiler.
Many ops with a small sum point at executor overhead (a few microseconds per op), few ops with
a large sum at arithmetic.
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import re
import sys
import tempfile
import time

import numpy as np

# (stage, regex on the op's layer path) in order: the first match wins.
STAGES = [
    ("optimizer", r"(^|/)(SGD|sgd|clipped_momentum_sgd|LossScaleOptimizer|clip|optimizer)(/|_|$)"),
    ("losses", r"(l2_regular|_loss|losses|Mean|mean_metric|tracker)"),
    ("proposals", r"(^|/)(ROI|proposal_layer|anchors)(/|_\d|$)"),
    ("targets", r"(^|/)proposal_targets(/|_\d|$)"),
    ("roialign", r"(^|/)roi_align_(classifier|mask)(/|_\d|$)"),
    ("mask head", r"(^|/)mrcnn_mask"),
    ("box head", r"(^|/)mrcnn_(class|bbox)"),
    ("rpn", r"(^|/)(rpn_|rpn_model)"),
    ("fpn", r"(^|/)fpn_"),
    ("backbone", r"."),
]


def stage_of(op_name: str) -> tuple[str, bool]:
    """``op_name`` (an executor op's full name) -> (stage, backward)."""
    backward = op_name.startswith("gradient_tape/") or "/gradients/" in op_name
    path = op_name.split("gradient_tape/", 1)[-1]
    for stage, pattern in STAGES:
        if re.search(pattern, path):
            if stage == "backbone" and not path.startswith(("mask_rcnn", "model", "functional")):
                return "other", backward
            return stage, backward
    return "other", backward


def read_op_events(logdir: str) -> list[tuple[str, float]]:
    """(op name, duration ms) of every TensorFlow op event in the profiler's xplane files."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    events = []
    for path in glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb")):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as f:
            space.ParseFromString(f.read())
        for plane in space.planes:
            if not plane.name.startswith("/host:CPU"):
                continue
            names = {k: m.name for k, m in plane.event_metadata.items()}
            for line in plane.lines:
                for event in line.events:
                    name = names.get(event.metadata_id, "")
                    # executor op events are named "<op name>:<op type>"; the executor's own
                    # spans ("ExecutorState::Process", "EagerLocalExecute: ...") contain others
                    op, _, kind = name.rpartition(":")
                    if op and kind and kind.isidentifier() and " " not in name and "::" not in name:
                        events.append((op, event.duration_ps / 1e9))
    return events


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="cpu-smoke")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--precision", default="float32", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--top", type=int, default=0, help="also list the N op names of most time")
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="Config override (YAML)"
    )
    args = ap.parse_args(argv)

    import yaml
    from bench_setup import SceneDataset, synthetic_config, synthetic_scenes, tensorflow

    tf = tensorflow(args.threads)
    from fashion_mrcnn.data.pipeline import make_dataset
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    from fashion_mrcnn.model.precision import mixed_precision_setting
    from fashion_mrcnn.model.training import MaskRCNNTrainer, make_optimizer

    cfg = synthetic_config(
        args.preset,
        args.size,
        MIXED_PRECISION=mixed_precision_setting(args.precision),
        **{k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)},
    )
    scenes = synthetic_scenes(args.size, 8)

    with tempfile.TemporaryDirectory() as tmp:
        model = MaskRCNN("training", cfg, tmp)
        model.set_trainable("all", verbose=0)
        trainer = MaskRCNNTrainer(model.keras_model, cfg)
        trainer.compile(optimizer=make_optimizer(cfg, 1e-3, 1000), jit_compile=False)
        batches = iter(make_dataset(SceneDataset(scenes, cfg.NUM_CLASSES), cfg, seed=0).repeat())
        for _ in range(3):  # trace, then settle
            trainer.train_on_batch(next(batches)[0])
        inputs = [next(batches)[0] for _ in range(args.steps)]
        walls = []
        for batch in inputs:
            t0 = time.perf_counter()
            trainer.train_on_batch(batch)
            walls.append(1000 * (time.perf_counter() - t0))
        logdir = os.path.join(tmp, "profile")
        tf.profiler.experimental.start(logdir)
        for batch in inputs:
            trainer.train_on_batch(batch)
        tf.profiler.experimental.stop()
        events = read_op_events(logdir)

    print(
        f"preset={args.preset} size={args.size} precision={args.precision} "
        f"batch={cfg.BATCH_SIZE} threads={args.threads} set={args.set} "
        f"python={sys.version.split()[0]} "
        f"tf={tf.__version__}"
    )
    print(f"wall per step (no profiler): median {np.median(walls):.1f} ms over {args.steps}")
    count = collections.Counter()
    total = collections.Counter()
    by_name = collections.Counter()
    for name, ms in events:
        stage, backward = stage_of(name)
        key = (stage, "backward" if backward else "forward")
        count[key] += 1
        total[key] += ms
        by_name[name] += ms
    grand = sum(total.values())
    print(f"{'stage':<12} {'pass':<9} {'ops/step':>9} {'ms/step':>9} {'share':>7}")
    for key in sorted(total, key=lambda k: -total[k]):
        print(
            f"{key[0]:<12} {key[1]:<9} {count[key] / args.steps:>9.0f} "
            f"{total[key] / args.steps:>9.1f} {100 * total[key] / grand:>6.1f}%"
        )
    print(
        f"{'all':<12} {'':<9} {sum(count.values()) / args.steps:>9.0f} {grand / args.steps:>9.1f}"
    )
    for name, ms in by_name.most_common(args.top):
        print(f"  {ms / args.steps:8.2f} ms  {name}")
    if args.top:
        others = collections.Counter(
            re.sub(r"_\d+", "", n) for n, _ in events if stage_of(n)[0] == "other"
        )
        print("most frequent 'other' op names:")
        for name, n in others.most_common(args.top):
            print(f"  {n / args.steps:8.0f} x  {name}")


if __name__ == "__main__":
    main()
