"""The TFLite export against ``detect``, on the starter model and ccp-fashion val photos (issue 19,
section 4: "a TFLite conversion ... with the latency and size measured here").

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python bench/bench_tflite.py [--photos 20] [--threads 2] \\
        [--weights float16]

What it does:

- exports ``weights/starter`` with ``export_tflite`` (what ``fashion-mrcnn export --format
  tflite`` runs) and reports the conversion time and the file size beside the ``.h5``;
- runs both on the first ``--photos`` photos of the val split (``../shared/datasets/ccp-fashion``):
  ``MaskRCNN.detect`` (TensorFlow, the default graph) and the flatbuffer in TensorFlow's TFLite
  interpreter (built-in kernels, XNNPACK, ``--threads`` threads);
- matches their instances (greedy by score, same class, best mask IoU) and reports how many
  instances each found, how many matched at mask IoU >= 0.9, the median matched mask IoU and the
  largest score difference;
- times each per photo (median over the photos of the second of two runs; the first warms up).

Like for like: the same weights, photos, min confidence and mask threshold, float32 both (the
starter's MIXED_PRECISION "auto" picks bfloat16 on this CPU; TFLite runs float32). What differs: the
TFLite graph crops by gathers (ROI_ALIGN "xla") and sizes images in integer ratios (see
``model/export_tflite.py``), and its kernels are XNNPACK's rather than oneDNN's. Run it alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import numpy as np
from bench_setup import tensorflow


def _match(a: dict, b: dict) -> tuple[int, list[float], float]:
    """(matched at mask IoU >= 0.9, the matched IoUs, the largest score difference of a match)
    between two results (``detect``'s layout: masks [H, W, N])."""
    from fashion_mrcnn.evaluation.matching import compute_overlaps_masks

    if len(a["class_ids"]) == 0 or len(b["class_ids"]) == 0:
        return 0, [], 0.0
    ious = compute_overlaps_masks(a["masks"], b["masks"])  # [Na, Nb]
    ious = np.where(a["class_ids"][:, None] == b["class_ids"][None, :], ious, -1.0)
    used, matched, score_gap = set(), [], 0.0
    for i in np.argsort(-a["scores"]):
        order = [j for j in np.argsort(-ious[i]) if j not in used and ious[i, j] >= 0]
        if order:
            j = order[0]
            used.add(j)
            matched.append(float(ious[i, j]))
            score_gap = max(score_gap, abs(float(a["scores"][i]) - float(b["scores"][j])))
    return sum(v >= 0.9 for v in matched), matched, score_gap


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--weights", choices=("float32", "float16"), default="float32",
                        help="how the flatbuffer stores the weights (export_tflite's weights)")  # fmt: skip
    args = parser.parse_args()
    tf = tensorflow(args.threads)
    from fashion_mrcnn.app.catalog import default_catalog_source
    from fashion_mrcnn.model.export_tflite import export_tflite
    from fashion_mrcnn.workflow import rundir, stages

    data = default_catalog_source()
    if data is None:
        print("ccp-fashion is not at ../shared/datasets/ccp-fashion: nothing to measure on")
        return 2
    config, categories = rundir.read_run(rundir.STARTER_WEIGHTS)
    config = config.replace(MIXED_PRECISION=False)  # float32, as the TFLite model computes
    model = stages.load_inference_model(config, rundir.STARTER_WEIGHTS)
    names = stages.class_names_for(categories)
    val = stages.open_dataset(data, split="val", categories=[c["id"] for c in categories])
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        path, _ = export_tflite(model, tmp, names, weights=args.weights)
        convert_s = time.perf_counter() - start
        size_mib = path.stat().st_size / 2**20
        interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=args.threads)
        run = interpreter.get_signature_runner()
    h5_mib = rundir.STARTER_WEIGHTS.stat().st_size / 2**20

    def lite(image):
        out = run(image=image)
        n = int(out["num_detections"])
        return {
            "rois": out["boxes"][:n],
            "class_ids": out["class_ids"][:n],
            "scores": out["scores"][:n],
            "masks": np.transpose(out["masks"][:n], (1, 2, 0)),
        }

    counts, matched90, ious, gaps, times = [0, 0], 0, [], [], {"detect": [], "tflite": []}
    for image_id in val.image_ids[: args.photos]:
        image = val.load_image(image_id)
        results = {}
        for name, fn in (("detect", lambda im: model.detect([im])[0]), ("tflite", lite)):
            fn(image)
            start = time.perf_counter()
            results[name] = fn(image)
            times[name].append(time.perf_counter() - start)
        counts[0] += len(results["detect"]["class_ids"])
        counts[1] += len(results["tflite"]["class_ids"])
        good, matched, gap = _match(results["detect"], results["tflite"])
        matched90, ious, gaps = matched90 + good, ious + matched, gaps + [gap]
    photos = len(times["detect"])
    print(f"starter model ({config.BACKBONE}, {config.IMAGE_MAX_DIM} px), {photos} ccp-fashion "
          f"val photos, {args.threads} threads, TensorFlow {tf.__version__}\n")  # fmt: skip
    print("| | detect (TensorFlow) | TFLite |")
    print("|---|---:|---:|")
    print(
        f"| file | {h5_mib:.1f} MiB (.h5) | {size_mib:.1f} MiB (.tflite, {args.weights} weights) |"
    )
    print(f"| conversion | | {convert_s:.0f} s |")
    detect_ms = statistics.median(times["detect"]) * 1000
    lite_ms = statistics.median(times["tflite"]) * 1000
    print(f"| median time per photo | {detect_ms:.0f} ms | {lite_ms:.0f} ms |")
    print(f"| instances found | {counts[0]} | {counts[1]} |")
    print(
        f"\nmatched (same class, greedy by detect's score): {len(ious)}; at mask IoU >= 0.9: "
        f"{matched90}; median matched mask IoU {statistics.median(ious) if ious else 0:.3f}; "
        f"largest score difference {max(gaps):.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
