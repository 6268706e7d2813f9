"""Where a training step goes, stage by stage, in our Mask R-CNN and in torchvision's, side by side.

    .venv/bin/python bench/profile_vs_torchvision.py --tv-python /work/tv/bin/python \\
        [--sizes 256 512] [--precision float32] [--steps 6]

The two models are the ones ``bench_vs_torchvision.py`` times (same settings, same scenes, one
worker process per library in its own interpreter). Each worker runs a few untimed steps, then
``--steps`` steps under its library's profiler:

- ours: TensorFlow's profiler; every executor op goes to a stage by its layer path
  (``profile_step.stage_of``), ``gradient_tape/...`` ops to the backward pass;
- torchvision: ``torch.profiler``; the model's parts are wrapped in ``record_function`` scopes
  (backbone, fpn, rpn head, anchors and proposal filtering, target assignment and sampling,
  RoIAlign, box head, mask head, losses, mask-target projection), every op goes to its innermost
  scope, and a backward op to the scope of the forward op that made it (the autograd sequence
  number).

Per stage and pass: the summed op time per step in ms (self times; ops on parallel threads
overlap, so the sum may exceed the wall time). The input pipeline is timed apart: the wall and
CPU time to make one 2-image batch (ours: pulling from the ``tf.data`` pipeline alone, which in
training runs in parallel with the step; torchvision: reading the two samples in the loop).
The wall time per step is measured without the profiler. Writes ``bench/results/
profile_vs_torchvision.md``.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import bench_vs_torchvision as vs

STAGES = (
    "input",
    "backbone",
    "fpn",
    "rpn",
    "proposals",
    "targets",
    "roialign",
    "box head",
    "mask head",
    "losses",
    "optimizer",
    "other",
)


def _median(values):
    values = sorted(values)
    return values[len(values) // 2]


# ----------------------------------------------------------------------------- ours
def profile_ours(paths, size, threads, steps, precision) -> dict:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from profile_step import read_op_events, stage_of

    from fashion_mrcnn.data.pipeline import make_dataset
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    from fashion_mrcnn.model.training import MaskRCNNTrainer, make_optimizer

    cfg = vs._ours_config(size, 2, precision)
    scenes = vs._NpzScenes(paths)
    result = {"library": "ours", "versions": f"tensorflow {tf.__version__}"}
    with tempfile.TemporaryDirectory() as tmp:
        batches = iter(make_dataset(scenes, cfg, shuffle=True, seed=0).repeat())
        for _ in range(2):
            next(batches)
        count = 4 * steps  # enough batches that the prefetch buffer does not flatter the rate
        w, c = time.perf_counter(), time.process_time()
        for _ in range(count):
            next(batches)
        result["input_wall_ms"] = 1000 * (time.perf_counter() - w) / count
        result["input_cpu_ms"] = 1000 * (time.process_time() - c) / count

        model = MaskRCNN("training", cfg, tmp)
        model.set_trainable("all", verbose=0)
        trainer = MaskRCNNTrainer(model.keras_model, cfg)
        trainer.compile(optimizer=make_optimizer(cfg, 1e-3, 1000), jit_compile=False)
        for _ in range(3):
            trainer.train_on_batch(next(batches)[0])
        inputs = [next(batches)[0] for _ in range(steps)]
        walls = []
        for batch in inputs:
            t0 = time.perf_counter()
            trainer.train_on_batch(batch)
            walls.append(time.perf_counter() - t0)
        result["step_wall_ms"] = 1000 * _median(walls)
        logdir = os.path.join(tmp, "profile")
        tf.profiler.experimental.start(logdir)
        for batch in inputs:
            trainer.train_on_batch(batch)
        tf.profiler.experimental.stop()
        events = read_op_events(logdir)
    ms = collections.Counter()
    for name, duration in events:
        stage, backward = stage_of(name)
        ms[f"{stage}|{'backward' if backward else 'forward'}"] += duration / steps
    result["stage_ms"] = dict(ms)
    return result


# ----------------------------------------------------------------------------- torchvision
def _scoped(torch, stage, fn):
    def wrapper(*args, **kwargs):
        with torch.profiler.record_function("stage:" + stage):
            return fn(*args, **kwargs)

    return wrapper


def _wrap_stages(torch, model) -> None:
    """Put torchvision's Mask R-CNN parts in ``stage:<name>`` profiler scopes."""
    from torchvision.models.detection import roi_heads

    rpn, heads = model.rpn, model.roi_heads
    for obj, attr, stage in (
        (model, "transform", "input"),
        (model.backbone, "body", "backbone"),
        (model.backbone, "fpn", "fpn"),
        (rpn, "head", "rpn"),
        (rpn, "anchor_generator", "proposals"),
        (heads, "box_roi_pool", "roialign"),
        (heads, "mask_roi_pool", "roialign"),
        (heads, "box_head", "box head"),
        (heads, "box_predictor", "box head"),
        (heads, "mask_head", "mask head"),
        (heads, "mask_predictor", "mask head"),
    ):
        module = getattr(obj, attr)
        module.forward = _scoped(torch, stage, module.forward)
    rpn.filter_proposals = _scoped(torch, "proposals", rpn.filter_proposals)
    rpn.box_coder.decode = _scoped(torch, "proposals", rpn.box_coder.decode)
    rpn.assign_targets_to_anchors = _scoped(torch, "targets", rpn.assign_targets_to_anchors)
    rpn.box_coder.encode = _scoped(torch, "targets", rpn.box_coder.encode)
    rpn.compute_loss = _scoped(torch, "losses", rpn.compute_loss)
    heads.select_training_samples = _scoped(torch, "targets", heads.select_training_samples)
    roi_heads.fastrcnn_loss = _scoped(torch, "losses", roi_heads.fastrcnn_loss)
    roi_heads.maskrcnn_loss = _scoped(torch, "losses", roi_heads.maskrcnn_loss)
    roi_heads.project_masks_on_boxes = _scoped(torch, "targets", roi_heads.project_masks_on_boxes)


def _stage_of_event(event, seq_stage) -> tuple[str, bool]:
    """(stage, backward) of one ``torch.profiler`` event: its innermost ``stage:`` scope, or
    for backward ops the stage of the forward op with the same autograd sequence number."""
    node = event
    while node is not None:
        if node.name.startswith("autograd::engine::evaluate_function"):
            return seq_stage.get(node.sequence_nr, "other"), True
        if node.name.startswith("stage:"):
            return node.name[len("stage:") :], False
        node = node.cpu_parent
    return "other", False


def profile_torchvision(paths, size, threads, steps, precision) -> dict:
    import contextlib

    import numpy as np
    import torch
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(threads)
    torch.manual_seed(0)
    result = {"library": "torchvision", "versions": f"torch {torch.__version__}"}
    model = vs._torchvision_model(size)
    model.train()
    _wrap_stages(torch, model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-3, momentum=0.9, weight_decay=1e-4)
    order = np.random.default_rng(0).permutation(len(paths))

    def autocast():
        if precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast("cpu", dtype=getattr(torch, precision))

    input_walls, input_cpus = [], []

    def step(k):
        pair = [paths[order[(2 * k + j) % len(paths)]] for j in range(2)]
        w, c = time.perf_counter(), time.process_time()
        with torch.profiler.record_function("stage:input"):
            samples = [vs._tv_sample(torch, p) for p in pair]
        input_walls.append(time.perf_counter() - w)
        input_cpus.append(time.process_time() - c)
        with autocast():
            losses = model([s[0] for s in samples], [s[1] for s in samples])
            loss = sum(losses.values())
        with torch.profiler.record_function("stage:optimizer"):
            optimizer.zero_grad()
        loss.backward()
        with torch.profiler.record_function("stage:optimizer"):
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            optimizer.step()

    for k in range(3):
        step(k)
    walls = []
    for k in range(3, 3 + steps):
        t0 = time.perf_counter()
        step(k)
        walls.append(time.perf_counter() - t0)
    result["step_wall_ms"] = 1000 * _median(walls)
    result["input_wall_ms"] = 1000 * _median(input_walls[3:])
    result["input_cpu_ms"] = 1000 * _median(input_cpus[3:])
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for k in range(3, 3 + steps):
            step(k)
    events = list(prof.events())
    seq_stage = {}
    for event in events:
        if event.sequence_nr >= 0 and not event.name.startswith("autograd::"):
            stage, backward = _stage_of_event(event, seq_stage)
            if not backward and (event.sequence_nr not in seq_stage or stage != "other"):
                seq_stage[event.sequence_nr] = stage
    ms = collections.Counter()
    for event in events:
        stage, backward = _stage_of_event(event, seq_stage)
        key = f"{stage}|{'backward' if backward else 'forward'}"
        ms[key] += event.self_cpu_time_total / 1000.0 / steps
    result["stage_ms"] = dict(ms)
    return result


# ----------------------------------------------------------------------------- driver
def _run(python, which, paths, size, args) -> dict:
    cmd = [python, __file__, "--worker", which, "--size", str(size), "--threads", str(args.threads)]
    cmd += ["--steps", str(args.steps), "--precision", args.precision, "--paths", *paths]
    return vs.run_worker_process(cmd, args.threads, f"{which} worker at {size} px")


def _table(size, ours, tv) -> list[str]:
    lines = [
        f"### {size} px",
        "",
        "| stage | ours forward | ours backward | torchvision forward | torchvision backward |",
        "|---|---:|---:|---:|---:|",
    ]
    totals = {"ours": 0.0, "tv": 0.0}
    for stage in STAGES:
        cells = []
        for lib, result in (("ours", ours), ("tv", tv)):
            for kind in ("forward", "backward"):
                value = result["stage_ms"].get(f"{stage}|{kind}", 0.0)
                totals[lib] += value
                cells.append(f"{value:.0f}" if value else "-")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    lines.append(f"| **sum of op times** | {totals['ours']:.0f} | | {totals['tv']:.0f} | |")
    lines.append(
        f"| **wall per step, no profiler** | {ours['step_wall_ms']:.0f} | | "
        f"{tv['step_wall_ms']:.0f} | |"
    )
    lines.append(
        f"| input pipeline, one batch: wall / CPU | {ours['input_wall_ms']:.0f} / "
        f"{ours['input_cpu_ms']:.0f} | | {tv['input_wall_ms']:.0f} / {tv['input_cpu_ms']:.0f} | |"
    )
    return lines + [""]


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    if "--worker" in argv:
        ap.add_argument("--worker", choices=["ours", "torchvision"])
        ap.add_argument("--paths", nargs="+")
        ap.add_argument("--size", type=int)
        ap.add_argument("--threads", type=int)
        ap.add_argument("--steps", type=int)
        ap.add_argument("--precision")
        a = ap.parse_args(argv)
        run = profile_ours if a.worker == "ours" else profile_torchvision
        print("RESULT " + json.dumps(run(a.paths, a.size, a.threads, a.steps, a.precision)))
        return
    ap.add_argument("--tv-python", required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--precision", choices=vs.PRECISIONS, default="float32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--scenes", type=int, default=16)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "profile_vs_tv.md"))
    args = ap.parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    sections = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            paths = vs.write_scenes(Path(tmp), size, args.scenes)
            ours = _run(sys.executable, "ours", paths, size, args)
            tv = _run(args.tv_python, "torchvision", paths, size, args)
            sections += _table(size, ours, tv)
            print("\n".join(sections[-20:]), flush=True)
    load_after = os.getloadavg()
    lines = [
        "# A training step stage by stage: ours vs torchvision (issue 17, item 2)",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC; commit {vs._commit()}",
        f"- Machine: {vs._machine()}; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after",
        f"- Versions: {ours['versions']}; {tv['versions']}",
        f"- Command: `.venv/bin/python bench/profile_vs_torchvision.py --tv-python PYTHON "
        f"--sizes {' '.join(map(str, args.sizes))} --precision {args.precision} "
        f"--steps {args.steps}`",
        "- The models and settings of `bench/bench_vs_torchvision.py` (ResNet50-FPN, 47 classes, "
        "random weights, 2-image steps). Summed op self time per step, ms, by stage and pass: "
        "see this script's docstring for how ops are put in stages. Ops on two threads "
        "overlap, so the sums can exceed the wall time; the profilers add their own cost.",
        "",
        *sections,
    ]
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
