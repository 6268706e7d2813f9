"""The attribute head (Attribute-Mask R-CNN, issue 18 section 1): two cpu-small models trained on
the same synthetic scenes within the same wall-time budget, without and with the head, scored on
held-out scenes.

    .venv/bin/python bench/bench_attributes.py --minutes 30 [--images 400] [--size 256] \\
        [--out bench/results/attributes] [--seed 0]

Data: ``fashion-mrcnn synth --attributes`` scenes (``data.synthetic.generate``), written once to
``OUT/data``; its ``splits.json`` holds the last ``--val-fraction`` out. Each model trains with
``workflow.stages.train`` (the cpu-small recipe, the schedule fitted to ``--minutes``, one after
the other, same seed, same images); the head model adds ``train --attributes``'s settings
(``data.attributes.attribute_settings`` of the training split).

Scores on the held-out scenes, per model (detections at the config's threshold):

- attribute F1: detections matched one-to-one to ground-truth instances of the classes that carry
  attributes (same class, mask IoU >= 0.5, by decreasing score); micro precision / recall / F1
  of the predicted against the true attribute sets over the matched pairs (ground truth
  without attributes included: any predicted attribute there is a false positive). The model
  without the head is scored twice: with no attributes (what it submits) and with the class
  prior (each class's most frequent attribute set in the training split);
- Kaggle 2019 (ClassId with attribute suffixes, ``submission.make_submission``) and 2020
  (``AttributesIds``; ``evaluation.kaggle2020``), masks at the scenes' size.

Prints a Markdown table and writes it, with the settings, to ``OUT/attributes.md`` and
``OUT/attributes.json``. A run with a tiny budget (``--minutes 1 --images 24``) checks the
script end to end; its scores mean nothing.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU [N, M] of bool masks a [H, W, N] and b [H, W, M]."""
    fa = a.reshape(-1, a.shape[-1]).astype(np.float32)
    fb = b.reshape(-1, b.shape[-1]).astype(np.float32)
    inter = fa.T @ fb
    union = fa.sum(0)[:, None] + fb.sum(0)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def match(pred: dict, gt: dict, carriers: set[int], iou: float = 0.5) -> list[tuple[int, int]]:
    """(detection, ground truth) pairs: same class (one that carries attributes), mask IoU >=
    ``iou``, greedy by decreasing score, each side used once."""
    if not len(pred["class_ids"]) or not len(gt["class_ids"]):
        return []
    ious = mask_iou(pred["masks"], gt["masks"])
    pairs, used = [], set()
    for d in np.argsort(-np.asarray(pred["scores"]), kind="stable"):
        c = int(pred["class_ids"][d])
        if c not in carriers:
            continue
        best, best_iou = None, iou
        for g in range(len(gt["class_ids"])):
            if g not in used and int(gt["class_ids"][g]) == c and ious[d, g] >= best_iou:
                best, best_iou = g, ious[d, g]
        if best is not None:
            used.add(best)
            pairs.append((int(d), best))
    return pairs


def attribute_f1(pairs_sets) -> dict:
    """Micro precision / recall / F1 over (predicted set, true set) pairs."""
    tp = fp = fn = 0
    for pred, true in pairs_sets:
        tp += len(pred & true)
        fp += len(pred - true)
        fn += len(true - pred)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "pairs": len(pairs_sets)}


def class_prior(dataset) -> dict[int, list[int]]:
    """Each internal class's most frequent attribute set in ``dataset`` (records)."""
    counts: dict[int, Counter] = {}
    for rec in dataset.records:
        for inst in rec["instances"]:
            c = dataset.internal_class_id(int(inst["category_id"]))
            counts.setdefault(c, Counter())[tuple(sorted(inst.get("attribute_ids", [])))] += 1
    return {c: list(cnt.most_common(1)[0][0]) for c, cnt in counts.items()}


def with_prior(result: dict, prior: dict[int, list[int]]) -> dict:
    return {**result, "attribute_ids": [prior.get(int(c), []) for c in result["class_ids"]]}


def score(name, results, val, carriers, class_map, out: Path, size) -> dict:
    """Attribute F1 and the Kaggle 2019 / 2020 scores of one model's detections on ``val``."""
    import pandas as pd

    from fashion_mrcnn.data.export import records_to_kaggle_csv
    from fashion_mrcnn.evaluation.kaggle import kaggle_metric
    from fashion_mrcnn.evaluation.kaggle2020 import kaggle_metric_2020
    from fashion_mrcnn.submission import make_submission

    sets = []
    for i, result in zip(val.image_ids, results):
        inst = val.load_instances(int(i))
        gt = {"class_ids": np.abs(inst["class_ids"]), "masks": inst["masks"]}
        for d, g in match(result, gt, carriers):
            sets.append((set(result.get("attribute_ids", [[]] * (d + 1))[d]),
                         set(inst["attribute_ids"][g])))  # fmt: skip
    row = {"model": name, **{f"attr_{k}": v for k, v in attribute_f1(sets).items()}}
    image_ids = [str(val.image_info[int(i)]["id"]) for i in val.image_ids]
    for layout in (2019, 2020):
        gt_csv = records_to_kaggle_csv(val.records, out / f"gt_{layout}.csv", layout=layout)
        pred_csv = out / f"{name}_{layout}.csv"
        make_submission(results, image_ids, pred_csv, size=size, class_map=class_map,
                        layout=layout)  # fmt: skip
        gt = pd.read_csv(gt_csv, dtype=str, keep_default_na=False)
        scorer = kaggle_metric if layout == 2019 else kaggle_metric_2020
        row[f"kaggle_{layout}"] = float(scorer(gt, pred_csv))
    return row


def train_one(name, config, train_ds, out: Path, minutes: float, seed: int, steps: int) -> dict:
    from fashion_mrcnn.workflow import stages

    start = time.monotonic()
    summary = stages.train(
        config,
        train_ds,
        None,
        out / name,
        steps_per_epoch=steps,
        time_budget_minutes=minutes,
        seed=seed,
        verbose=2,
    )
    if summary["checkpoint"] is None:
        raise SystemExit(f"{name}: no checkpoint after {minutes} minutes; give it more time")
    return {**summary, "wall_seconds": round(time.monotonic() - start, 1)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=float, required=True, help="training budget per model")
    ap.add_argument("--images", type=int, default=400, help="synthetic scenes (train + val)")
    ap.add_argument("--size", type=int, default=256, help="scene side in pixels")
    ap.add_argument("--val-fraction", type=float, default=0.2)
    ap.add_argument("--preset", default="cpu-small")
    ap.add_argument("--steps-per-epoch", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("bench/results/attributes"))
    args = ap.parse_args(argv)

    from fashion_mrcnn.data.attributes import attribute_settings
    from fashion_mrcnn.data.synthetic import generate
    from fashion_mrcnn.inference.detect import detect_dataset
    from fashion_mrcnn.workflow import stages

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    data = generate(out / "data", n_images=args.images, size=args.size, seed=args.seed,
                    attributes=True, val_fraction=args.val_fraction)  # fmt: skip
    train_ds = stages.open_dataset(data, split="train")
    val = stages.open_dataset(data, split="val")
    settings = attribute_settings(train_ds)
    base = stages.make_config(args.preset, num_classes=train_ds.num_classes, name="attrbench")
    configs = {"without head": base, "with head": base.replace(**settings)}
    carriers = set(settings["ATTRIBUTE_CLASS_IDS"])
    class_map = stages.class_map_for(train_ds)
    size = (args.size, args.size)
    rows, runs = [], {}
    for name, config in configs.items():
        slug = name.replace(" ", "_")
        runs[name] = train_one(slug, config, train_ds, out, args.minutes, args.seed,
                               args.steps_per_epoch)  # fmt: skip
        model = stages.load_inference_model(config, runs[name]["checkpoint"])
        results = detect_dataset(model, val, list(val.image_ids), progress=False)
        rows.append(score(slug, results, val, carriers, class_map, out, size))
        if name == "without head":
            prior = class_prior(train_ds)
            primed = [with_prior(r, prior) for r in results]
            rows.append(score("without_head+class_prior", primed, val, carriers, class_map, out,
                              size))  # fmt: skip
    header = ["model", "attr_f1", "attr_precision", "attr_recall", "attr_pairs",
              "kaggle_2019", "kaggle_2020"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [f"{row[k]:.3f}" if isinstance(row[k], float) else str(row[k]) for k in header]
        lines.append("| " + " | ".join(cells) + " |")
    steps = {k: v["steps"] for k, v in runs.items()}
    note = (f"{args.images} synthetic scenes at {args.size} px ({len(train_ds.image_ids)} train, "
            f"{len(val.image_ids)} held out), {args.preset}, {args.minutes:g} minutes each, "
            f"optimizer steps {steps}; {settings['NUM_ATTRIBUTES']} attributes on classes "
            f"{sorted(carriers)}")  # fmt: skip
    table = "\n".join(lines)
    print(note + "\n\n" + table)
    (out / "attributes.md").write_text(note + "\n\n" + table + "\n")
    (out / "attributes.json").write_text(
        json.dumps(
            {
                "args": {k: str(v) for k, v in vars(args).items()},
                "settings": settings,
                "rows": rows,
                "steps": steps,
            },
            indent=1,
        )  # fmt: skip
    )


if __name__ == "__main__":
    main()
