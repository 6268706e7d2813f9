"""Like-for-like speed: our Mask R-CNN and torchvision's, the same work, the same settings, one run.

    python3 -m venv /work/tv && /work/tv/bin/pip install torch==2.14.1 torchvision==0.29.1
    .venv/bin/python bench/bench_vs_torchvision.py --tv-python /work/tv/bin/python [--sizes 256 512]

torchvision is not a dependency of the project, so each library runs in a worker process of its
own interpreter (this file, ``--worker ours|torchvision``), one after the other, on the same
synthetic scenes written once to ``.npz`` files. The driver writes ``bench/results/
vs_torchvision.md`` (settings, machine, date, commit, load average) and prints the table.

Both models, as configured here:
- ResNet50-FPN, 47 classes (46 + background), random weights, square ``size`` x ``size`` input,
  2 intra-op and 2 inter-op threads; frozen BatchNorm (torchvision: ``FrozenBatchNorm2d``), every
  stage trainable; anchors 16..256 px on P2..P6 (one size per level), ratios 0.5 / 1 / 2.
- RPN: a 3x3 conv of 256 channels (torchvision's ``RPNHead``; ours ``RPN_CONV_CHANNELS=256``,
  Matterport's default is 512); 256 sampled anchors per image, up to half positive; NMS 0.7;
  2000 proposals after NMS in training and 1000 at inference.
- Box head on 200 sampled ROIs per image, 0.33 positive (IoU 0.5); mask head on the positives;
  28 x 28 mask targets; RoIAlign with one bilinear sample per bin (torchvision
  ``sampling_ratio=1``; ours ``crop_and_resize``).
- Inference: class-wise NMS 0.3, score threshold 0, exactly 100 detections kept and their masks
  pasted into the full image (the workers assert the count).
- Training: SGD momentum 0.9, gradient norm clipped at 5, batch of 2 images read from the
  ``.npz`` files, no augmentation; the timed loop is the whole step at steady state: input
  pipeline, target building, forward, backward, update (median over steps after a warm-up).

What still differs (structure, not settings): the pre-NMS proposal cut (ours: top 6000 over all
levels; torchvision: top 2000 per level, about 6,960 at 512 px); mask targets (ours: 56 x 56 mini
masks cropped in the input pipeline; torchvision: RoIAlign of the full masks inside the model);
weight decay (ours: Matterport's L2 term in the loss, 1e-4; torchvision: SGD ``weight_decay``
1e-4); our input pipeline runs in parallel ``tf.data`` workers, torchvision's in the loop
(``num_workers=0``), as each library's documentation shows. Inference: ours keeps the top class
of each ROI (Matterport), torchvision scores every class of every ROI before its NMS.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NUM_CLASSES = 47
PRECISIONS = ("float32", "bfloat16")
ANCHOR_SIZES = (16, 32, 64, 128, 256)
DETECTIONS = 100


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _median(values) -> float:
    return float(statistics.median(values))


# ----------------------------------------------------------------------------- scenes
def write_scenes(out: Path, size: int, count: int, seed: int = 0) -> list[str]:
    """``count`` synthetic scenes at ``size`` px as ``.npz`` (image uint8 [H, W, 3], masks bool
    [H, W, N], labels int [N] in 1..46)."""
    import numpy as np

    from fashion_mrcnn.data.synthetic import render_scene

    rng = np.random.default_rng(seed)
    paths = []
    for k in range(count):
        image, masks, cats = render_scene(rng, size)
        labels = (np.asarray(cats) % (NUM_CLASSES - 1) + 1).astype(np.int64)
        path = out / f"scene_{size}_{k:03d}.npz"
        np.savez(path, image=image, masks=masks, labels=labels)
        paths.append(str(path))
    return paths


# ----------------------------------------------------------------------------- ours
def _ours_config(size: int, images_per_gpu: int, precision: str = "float32"):
    from fashion_mrcnn.config import FashionConfig

    return FashionConfig(
        MIXED_PRECISION=False if precision == "float32" else precision,
        IMAGE_MIN_DIM=size,
        IMAGE_MAX_DIM=size,
        IMAGES_PER_GPU=images_per_gpu,
        NUM_CLASSES=NUM_CLASSES,
        BACKBONE="resnet50",
        NORM="frozen_bn",
        RPN_ANCHOR_SCALES=ANCHOR_SIZES,
        RPN_CONV_CHANNELS=256,  # torchvision's RPNHead: a 3x3 conv of the FPN width
        TRAIN_ROIS_PER_IMAGE=200,
        ROI_POSITIVE_RATIO=0.33,
        POST_NMS_ROIS_TRAINING=2000,
        POST_NMS_ROIS_INFERENCE=1000,
        DETECTION_MIN_CONFIDENCE=0.0,
        DETECTION_MAX_INSTANCES=DETECTIONS,
        DETECTION_NMS_THRESHOLD=0.3,
        GRADIENT_CLIP_NORM=5.0,
        LEARNING_MOMENTUM=0.9,
    )


class _NpzScenes:
    """The minimal Dataset ``make_dataset`` reads: scenes loaded from ``.npz`` on every call."""

    def __init__(self, paths):
        import numpy as np

        self.paths = list(paths)
        self.image_ids = np.arange(len(self.paths))
        self.image_info = [{"source": "synthetic", "path": p} for p in self.paths]

    def _load(self, i):
        import numpy as np

        with np.load(self.paths[i]) as z:
            return z["image"], z["masks"], z["labels"].astype(np.int32)

    def load_image(self, i):
        return self._load(i)[0]

    def load_mask(self, i):
        _, masks, labels = self._load(i)
        return masks, labels

    def image_reference(self, i):
        return self.paths[i]


def run_ours(paths, size, threads, repeats, warmup, steps, precision) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from flops import keras_forward_flops, pyramid_positions, tf_gemm_flops_per_s

    from fashion_mrcnn.data.pipeline import make_dataset
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    from fashion_mrcnn.model.training import MaskRCNNTrainer, make_optimizer
    from fashion_mrcnn.ops.image import mold_image

    result = {
        "library": "ours",
        "versions": f"tensorflow {tf.__version__}, keras {keras.__version__}",
        "gemm_flops_per_s": tf_gemm_flops_per_s("float32" if precision == "float32" else precision),
    }
    positions = pyramid_positions(size)
    scenes = _NpzScenes(paths)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = _ours_config(size, 1, precision)
        infer = MaskRCNN("inference", cfg, tmp)
        images = [scenes.load_image(i) for i in range(len(paths))]
        counts = []
        for i in range(warmup):
            counts.append(len(infer.detect([images[i % len(images)]])[0]["scores"]))
        times = []
        for i in range(repeats):
            t0 = time.perf_counter()
            r = infer.detect([images[i % len(images)]])[0]
            times.append(time.perf_counter() - t0)
            counts.append(len(r["scores"]))
        assert set(counts) == {DETECTIONS}, f"ours: detections per image {sorted(set(counts))}"
        result["inference_s"] = _median(times)
        result["inference_flops"] = keras_forward_flops(
            infer.keras_model, 1, cfg.POST_NMS_ROIS_INFERENCE, DETECTIONS, positions
        )["total"]

        graph = infer.keras_model
        image_input = [t for t in graph.inputs if t.name.split(":")[0] == "input_image"]
        pyramid = [graph.get_layer(f"fpn_p{k}").output for k in (2, 3, 4, 5)]
        pyramid.append(graph.get_layer("fpn_p6").output)
        floor = keras.Model(image_input, pyramid)
        molded = mold_image(images[0], cfg).astype(np.float32)[None]
        for _ in range(warmup):
            floor.predict_on_batch(molded)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            floor.predict_on_batch(molded)
            times.append(time.perf_counter() - t0)
        result["backbone_fpn_s"] = _median(times)
        del infer, floor, graph

        tcfg = _ours_config(size, 2, precision)
        train = MaskRCNN("training", tcfg, tmp)
        train.set_trainable("all", verbose=0)
        trainer = MaskRCNNTrainer(train.keras_model, tcfg)
        trainer.compile(optimizer=make_optimizer(tcfg, 1e-3, 1000), jit_compile=False)
        stamps, last_logs = [], {}

        class Stamp(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                stamps.append(time.perf_counter())
                last_logs.update(logs or {})

        data = make_dataset(scenes, tcfg, shuffle=True, seed=0)
        t0 = time.perf_counter()
        trainer.fit(data, epochs=1, steps_per_epoch=warmup + steps, callbacks=[Stamp()], verbose=0)
        stamps.insert(0, t0)
        deltas = [b - a for a, b in zip(stamps, stamps[1:])]
        result["train_step_s"] = _median(deltas[warmup:])
        result["train_first_step_s"] = deltas[0]
        # RoIs per step (2 images), the epoch's means: the box head runs on every sampled slot
        # (zero padding included), the mask head on the batch's largest positive count per image
        rois = 2 * tcfg.TRAIN_ROIS_PER_IMAGE
        mask_rois = 2 * float(last_logs["mask_rois"])
        result["box_head_rois"] = rois
        result["positive_rois"] = 2 * float(last_logs["positive_rois"])
        result["mask_head_rois"] = mask_rois
        result["train_flops"] = (
            3 * keras_forward_flops(train.keras_model, 2, rois, mask_rois, positions)["total"]
        )
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


# ----------------------------------------------------------------------------- torchvision
def _torchvision_model(size: int):
    from torchvision.models import resnet50
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.ops import MultiScaleRoIAlign
    from torchvision.ops.misc import FrozenBatchNorm2d

    backbone = _resnet_fpn_extractor(
        resnet50(weights=None, norm_layer=FrozenBatchNorm2d), trainable_layers=5
    )
    levels = ["0", "1", "2", "3"]
    return MaskRCNN(
        backbone,
        num_classes=NUM_CLASSES,
        min_size=size,
        max_size=size,
        rpn_anchor_generator=AnchorGenerator(
            sizes=tuple((s,) for s in ANCHOR_SIZES), aspect_ratios=((0.5, 1.0, 2.0),) * 5
        ),
        rpn_pre_nms_top_n_train=2000,
        rpn_pre_nms_top_n_test=2000,
        rpn_post_nms_top_n_train=2000,
        rpn_post_nms_top_n_test=1000,
        rpn_nms_thresh=0.7,
        rpn_batch_size_per_image=256,
        rpn_positive_fraction=0.5,
        box_roi_pool=MultiScaleRoIAlign(levels, 7, sampling_ratio=1),
        mask_roi_pool=MultiScaleRoIAlign(levels, 14, sampling_ratio=1),
        box_score_thresh=0.0,
        box_nms_thresh=0.3,
        box_detections_per_img=DETECTIONS,
        box_batch_size_per_image=200,
        box_positive_fraction=0.33,
        box_fg_iou_thresh=0.5,
        box_bg_iou_thresh=0.5,
    )


def _tv_sample(torch, path):
    """One scene as torchvision wants it: (float image [3, H, W] in 0..1, target dict)."""
    import numpy as np

    with np.load(path) as z:
        image, masks, labels = z["image"], z["masks"], z["labels"]
    ys = masks.any(axis=1)
    xs = masks.any(axis=0)
    boxes = []
    for k in range(masks.shape[2]):
        y = np.flatnonzero(ys[:, k])
        x = np.flatnonzero(xs[:, k])
        boxes.append([x[0], y[0], x[-1] + 1, y[-1] + 1])
    return torch.from_numpy(image).permute(2, 0, 1).float() / 255.0, {
        "boxes": torch.tensor(boxes, dtype=torch.float32),
        "labels": torch.from_numpy(labels),
        "masks": torch.from_numpy(np.ascontiguousarray(masks.transpose(2, 0, 1))).to(torch.uint8),
    }


def _count_training_rois(model, counts: dict) -> None:
    """Wrap ``model.roi_heads.select_training_samples`` to count, per image, the RoIs it samples
    for the box head and the positives among them (the mask head's RoIs)."""
    sample = model.roi_heads.select_training_samples

    def counting(proposals, targets):
        out = sample(proposals, targets)
        for labels in out[2]:  # (proposals, matched_idxs, labels, regression_targets)
            counts["box"].append(int(labels.numel()))
            counts["positive"].append(int((labels > 0).sum()))
        return out

    model.roi_heads.select_training_samples = counting


def run_torchvision(paths, size, threads, repeats, warmup, steps, precision) -> dict:
    import contextlib

    import numpy as np
    import torch
    import torchvision
    from flops import torch_gemm_flops_per_s
    from torch.utils.flop_counter import FlopCounterMode

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(threads)
    torch.manual_seed(0)
    result = {
        "library": "torchvision",
        "versions": f"torch {torch.__version__}, torchvision {torchvision.__version__}",
        "gemm_flops_per_s": torch_gemm_flops_per_s(precision),
    }

    def autocast():
        if precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast("cpu", dtype=getattr(torch, precision))

    model = _torchvision_model(size)
    model.eval()
    images = []
    for p in paths:
        with np.load(p) as z:
            images.append(z["image"])

    def detect(image):
        tensor = torch.from_numpy(image).permute(2, 0, 1).float() / 255.0
        with autocast():
            return model([tensor])[0]

    with torch.no_grad():
        counts = [len(detect(images[i % len(images)])["scores"]) for i in range(warmup)]
        times = []
        for i in range(repeats):
            t0 = time.perf_counter()
            out = detect(images[i % len(images)])
            times.append(time.perf_counter() - t0)
            counts.append(len(out["scores"]))
            assert out["masks"].shape[-2:] == (size, size)
        assert set(counts) == {DETECTIONS}, f"torchvision: detections {sorted(set(counts))}"
        result["inference_s"] = _median(times)
        with FlopCounterMode(display=False) as counter:
            detect(images[0])
        result["inference_flops"] = float(counter.get_total_flops())
        tensor = torch.from_numpy(images[0]).permute(2, 0, 1).float() / 255.0
        batch = model.transform([tensor])[0].tensors
        with autocast():
            for _ in range(warmup):
                model.backbone(batch)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                model.backbone(batch)
                times.append(time.perf_counter() - t0)
        result["backbone_fpn_s"] = _median(times)

    model.train()
    counts = {"box": [], "positive": []}
    _count_training_rois(model, counts)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-3, momentum=0.9, weight_decay=1e-4)
    order = np.random.default_rng(0).permutation(len(paths))

    def step(k):
        pair = [paths[order[(2 * k + j) % len(paths)]] for j in range(2)]
        samples = [_tv_sample(torch, p) for p in pair]
        with autocast():
            losses = model([s[0] for s in samples], [s[1] for s in samples])
            loss = sum(losses.values())
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        optimizer.step()

    stamps = [time.perf_counter()]
    for k in range(warmup + steps):
        step(k)
        stamps.append(time.perf_counter())
    deltas = [b - a for a, b in zip(stamps, stamps[1:])]
    result["train_step_s"] = _median(deltas[warmup:])
    result["train_first_step_s"] = deltas[0]
    # RoIs per step (2 images), the means over the timed loop's steps; the mask head runs on
    # the positives (torchvision's roi_heads keeps the positive proposals for it)
    result["box_head_rois"] = 2 * statistics.mean(counts["box"])
    result["positive_rois"] = 2 * statistics.mean(counts["positive"])
    result["mask_head_rois"] = result["positive_rois"]
    # the FLOPs of the mean step: one more (untimed) step, scaled by its mask-head RoIs would
    # mix two counts, so the extra step's own FLOPs are reported as they are
    before = len(counts["positive"])
    with FlopCounterMode(display=False) as counter:
        step(warmup + steps)
    result["train_flops"] = float(counter.get_total_flops())
    result["train_flops_positive_rois"] = sum(counts["positive"][before:])
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


# ----------------------------------------------------------------------------- driver
def _worker(argv) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", choices=["ours", "torchvision"], required=True)
    ap.add_argument("--paths", nargs="+", required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--precision", choices=PRECISIONS, default="float32")
    a = ap.parse_args(argv)
    run = run_ours if a.worker == "ours" else run_torchvision
    result = run(a.paths, a.size, a.threads, a.repeats, a.warmup, a.steps, a.precision)
    print("RESULT " + json.dumps(result), flush=True)


def _run_worker(python, which, paths, size, precision, args) -> dict:
    cmd = [
        python,
        __file__,
        "--worker",
        which,
        "--size",
        str(size),
        "--threads",
        str(args.threads),
        "--repeats",
        str(args.repeats),
        "--warmup",
        str(args.warmup),
        "--steps",
        str(args.steps),
        "--precision",
        precision,
        "--paths",
        *paths,
    ]
    return run_worker_process(cmd, args.threads, f"{which} worker at {size} px in {precision}")


def run_worker_process(cmd, threads: int, label: str) -> dict:
    """Run a worker command (``bench/`` on its path, ``threads`` OpenMP threads, TensorFlow's
    logs quiet) and return the JSON of its last ``RESULT`` line; exit naming ``label`` and
    showing the worker's output tail when it fails."""
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="2",
        OMP_NUM_THREADS=str(threads),
        PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]),
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"{label} failed (exit {proc.returncode})")
    return json.loads(lines[-1][len("RESULT ") :])


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.machine()}, Python {platform.python_version()}"
    )


def _commit() -> str:
    root = Path(__file__).resolve().parents[1]
    sha = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "fashion_mrcnn", "bench"],
        cwd=root,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return sha + (" (with uncommitted changes)" if dirty else "")


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if "--worker" in argv:
        _worker(argv)
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tv-python", required=True, help="an interpreter with torch + torchvision")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7, help="timed inference calls")
    ap.add_argument("--warmup", type=int, default=3, help="untimed calls / steps first")
    ap.add_argument("--steps", type=int, default=8, help="timed training steps")
    ap.add_argument("--scenes", type=int, default=16)
    ap.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS))
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "vs_torchvision.md"))
    args = ap.parse_args(argv)

    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            paths = write_scenes(Path(tmp), size, args.scenes)
            for precision in args.precisions:
                ours = _run_worker(sys.executable, "ours", paths, size, precision, args)
                tv = _run_worker(args.tv_python, "torchvision", paths, size, precision, args)
                rows.append((size, precision, ours, tv))
                print(f"{size} px {precision}: ours {ours}\n  torchvision {tv}", flush=True)
    load_after = os.getloadavg()
    text = _report(rows, args, started, load_before, load_after)
    Path(args.out).write_text(text)
    print(text)


def _floor_ratio(seconds: float, flops: float, gemm: float) -> str:
    return f"{seconds / (flops / gemm):.1f}x"


def _report(rows, args, started, load_before, load_after) -> str:
    """The markdown of ``bench/results/vs_torchvision.md``."""
    first = rows[0]
    lines = [
        "# Like for like: ours vs torchvision Mask R-CNN (speed)",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC; commit {_commit()}",
        f"- Machine: {_machine()}; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after",
        f"- Versions: ours {first[2]['versions']}; {first[3]['versions']}",
        f"- Command: `.venv/bin/python bench/bench_vs_torchvision.py --tv-python PYTHON "
        f"--sizes {' '.join(map(str, args.sizes))} --precisions {' '.join(args.precisions)} "
        f"--threads {args.threads} --repeats {args.repeats} --warmup {args.warmup} "
        f"--steps {args.steps}`",
        "- Settings (both): see the docstring of `bench/bench_vs_torchvision.py`: ResNet50-FPN, "
        "47 classes, random weights, frozen BN, all stages trainable, 200 ROIs at 0.33 positive, "
        "NMS 0.3, exactly 100 detections pasted at inference, training = the whole steady-state "
        "loop of 2-image steps (input pipeline and target building included); medians. "
        "bfloat16: ours `MIXED_PRECISION='bfloat16'` (Keras `mixed_bfloat16`), torchvision "
        "`torch.autocast('cpu', dtype=torch.bfloat16)` around the forward passes.",
        "- Head work per training step (2 images): the box head's RoIs, the real positives among "
        "them and the RoIs the mask head ran on; ours: the epoch's means from the training logs "
        "(`positive_rois`, `mask_rois`), torchvision: the means over the loop's steps "
        "(counted in `roi_heads.select_training_samples`).",
        "- Floor: matmul/convolution FLOPs (`bench/flops.py`: ours counted from the Keras layers "
        "and the RoIs they ran on, torchvision by `torch.utils.flop_counter.FlopCounterMode` on "
        "one more step) over this machine's 4096 x 4096 GEMM throughput in the same precision, "
        "measured by each worker in its own library; `time / floor` is how many times slower "
        "than that limit a measure ran.",
        "",
        "| size | precision | measure | ours | torchvision | ours / torchvision |",
        "|---:|---|---|---:|---:|---:|",
    ]
    for size, precision, ours, tv in rows:

        def row(label, a, b, ratio=True, fmt="{:.3f}", size=size, precision=precision):
            r = f"{a / b:.2f}" if ratio else ""
            lines.append(
                f"| {size} | {precision} | {label} | {fmt.format(a)} | {fmt.format(b)} | {r} |"
            )

        row(
            "inference s, batch 1 (mold, detect, paste 100 masks)",
            ours["inference_s"],
            tv["inference_s"],
        )
        row("backbone + FPN forward alone s, batch 1", ours["backbone_fpn_s"], tv["backbone_fpn_s"])
        row("training step s, 2 images (whole loop)", ours["train_step_s"], tv["train_step_s"])
        row("box-head RoIs / step", ours["box_head_rois"], tv["box_head_rois"], fmt="{:.0f}")
        row("real positives / step", ours["positive_rois"], tv["positive_rois"], fmt="{:.1f}")
        row("mask-head RoIs / step", ours["mask_head_rois"], tv["mask_head_rois"], fmt="{:.1f}")
        row(
            "inference GFLOP",
            ours["inference_flops"] / 1e9,
            tv["inference_flops"] / 1e9,
            fmt="{:.1f}",
        )
        row(
            f"training step GFLOP (torchvision's step: {tv['train_flops_positive_rois']} "
            "positives)",
            ours["train_flops"] / 1e9,
            tv["train_flops"] / 1e9,
            fmt="{:.1f}",
        )
        row(
            "GEMM GFLOP/s (4096 x 4096, this precision)",
            ours["gemm_flops_per_s"] / 1e9,
            tv["gemm_flops_per_s"] / 1e9,
            ratio=False,
            fmt="{:.0f}",
        )
        gemm = ours["gemm_flops_per_s"]
        lines.append(
            f"| {size} | {precision} | inference time / floor (TensorFlow's GEMM) | "
            f"{_floor_ratio(ours['inference_s'], ours['inference_flops'], gemm)} | "
            f"{_floor_ratio(tv['inference_s'], tv['inference_flops'], gemm)} | |"
        )
        lines.append(
            f"| {size} | {precision} | training step time / floor (TensorFlow's GEMM) | "
            f"{_floor_ratio(ours['train_step_s'], ours['train_flops'], gemm)} | "
            f"{_floor_ratio(tv['train_step_s'], tv['train_flops'], gemm)} | |"
        )
        row("peak RSS MB", ours["peak_rss_mb"], tv["peak_rss_mb"], ratio=False, fmt="{:.0f}")
    differs = __doc__[__doc__.index("What still differs") :].strip()
    lines += ["", " ".join(differs.split())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
