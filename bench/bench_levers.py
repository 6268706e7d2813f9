"""What each Kaggle lever buys on one run (issue 18's with/without table): the tuned
post-processing, test-time augmentation, a checkpoint ensemble, and all of them.

    .venv/bin/python bench/bench_levers.py --run RUN --data DATA [--split val] \\
        [--tune-data TUNE --tune-split train] [--checkpoints 3 --spacing 1] [--tta flip 1.25] \\
        [--out DIR] [--size 512 512] [--detectors plain tta ensemble ensemble+tta]

``RUN`` is a ``train`` (or demo ``train/``) folder: ``train_config.yaml``, ``classes.json`` and
its checkpoints under ``logs/*/``. The detectors:

- plain: the last checkpoint;
- TTA: the last checkpoint with the ``--tta`` views (``inference.tta``);
- ensemble: the last checkpoint and ``--checkpoints`` - 1 earlier ones, ``--spacing`` epochs
  apart (with a schedule that decays to zero, neighbouring checkpoints hardly differ);
- ensemble + TTA.

Each detector runs once on the scored images with the permissive settings ``tune-postprocess``
uses (score >= 0.05, up to 200 instances) and its soft masks (``detect(..., soft_masks=True)``,
so the search can tune the mask threshold as ``tune-postprocess`` does; the time per image
includes them), timed per image. Each is then scored twice:

- without post-processing: the config's own detection threshold and instance cap;
- with post-processing: the setting ``search_postprocess`` finds for that detector (2019 metric)
  on the tuning images (``--tune-data``; without it, the even-indexed images of the scored split
  tune and the odd ones are scored).

Scores: COCO mask AP and AP@0.5 (pycocotools; the setting applied with overlaps kept, so the
row without post-processing is what ``evaluate`` reports), Kaggle 2019 and 2020 (the project's
scorers at ``--size``, overlaps removed as the setting says: ``submit``'s default is all). Prints a Markdown table and writes it with the settings to ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path


def last_checkpoints(run: Path, count: int, spacing: int = 1) -> list[Path]:
    """The run's last checkpoint and the ``count - 1`` before it, ``spacing`` epochs apart,
    oldest first."""
    found = sorted(run.glob("logs/*/mask_rcnn_*.h5"))
    picked = found[::-1][: (count - 1) * spacing + 1 : spacing][::-1]
    if len(picked) < count:
        raise SystemExit(f"{run}: {len(found)} checkpoints, {count} at spacing {spacing} needed")
    return picked


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--run", required=True, type=Path)
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", default="val")
    ap.add_argument("--tune-data")
    ap.add_argument("--tune-split", default="train")
    ap.add_argument("--checkpoints", type=int, default=3)
    ap.add_argument("--spacing", type=int, default=1, help="epochs between ensemble checkpoints")
    ap.add_argument("--tta", nargs="+", default=["flip", "1.25"])
    ap.add_argument("--size", type=int, nargs=2, default=(512, 512))
    ap.add_argument(
        "--detectors",
        nargs="+",
        default=["plain", "tta", "ensemble", "ensemble+tta"],
        choices=["plain", "tta", "ensemble", "ensemble+tta"],
    )
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench_levers"))
    args = ap.parse_args(argv)

    import pandas as pd

    from fashion_mrcnn.data.export import records_to_kaggle_csv
    from fashion_mrcnn.evaluation.coco_eval import evaluate_coco
    from fashion_mrcnn.evaluation.postprocess_search import (
        prepare_ground_truth,
        score_setting,
        search_postprocess,
    )
    from fashion_mrcnn.inference.detect import detect_dataset
    from fashion_mrcnn.inference.postprocess import PostprocessSetting, apply_postprocess
    from fashion_mrcnn.workflow import stages
    from fashion_mrcnn.workflow.rundir import read_run
    from fashion_mrcnn.workflow.stages.scoring import SEARCH_MAX_INSTANCES, SEARCH_MIN_CONFIDENCE

    ckpts = last_checkpoints(args.run, args.checkpoints, args.spacing)
    config, categories = read_run(ckpts[-1], None, None)
    cat_ids = None if categories is None else [int(c["id"]) for c in categories]
    scored = stages.open_dataset(args.data, split=args.split, categories=cat_ids)
    indices = list(scored.image_ids)
    if args.tune_data:
        tuning = stages.open_dataset(args.tune_data, split=args.tune_split, categories=cat_ids)
        tune_indices = list(tuning.image_ids)
    else:
        tuning, tune_indices, indices = scored, indices[0::2], indices[1::2]
    class_map = stages.class_map_for(scored)
    search_config = stages.inference_config(config).replace(
        DETECTION_MIN_CONFIDENCE=SEARCH_MIN_CONFIDENCE,
        DETECTION_MAX_INSTANCES=max(int(config.DETECTION_MAX_INSTANCES), SEARCH_MAX_INSTANCES),
    )
    plain_setting = PostprocessSetting(
        score_threshold=float(config.DETECTION_MIN_CONFIDENCE),
        max_instances=int(config.DETECTION_MAX_INSTANCES),
    )
    args.out.mkdir(parents=True, exist_ok=True)

    def gt_of(dataset, idx, layout):
        records = [dataset.record(i) for i in idx]
        path = args.out / f"gt_{id(dataset)}_{layout}_{len(idx)}.csv"
        records_to_kaggle_csv(records, path, layout=layout)
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        return frame, [str(r["image_id"]) for r in records]

    gt_scored = {m: prepare_ground_truth(gt_of(scored, indices, int(m))[0], m, tuple(args.size))
                 for m in ("2019", "2020")}  # fmt: skip
    scored_ids = gt_of(scored, indices, 2019)[1]
    tune_gt, tune_ids = gt_of(tuning, tune_indices, 2019)

    detectors = {
        "plain": ("plain", [ckpts[-1]], None),
        f"TTA ({' '.join(args.tta)})": ("tta", [ckpts[-1]], args.tta),
        f"ensemble of {len(ckpts)}": ("ensemble", ckpts, None),
        f"ensemble of {len(ckpts)} + TTA": ("ensemble+tta", ckpts, args.tta),
    }
    detectors = {k: v[1:] for k, v in detectors.items() if v[0] in args.detectors}
    rows = []
    for name, (weights, tta) in detectors.items():
        model = stages.load_detector(search_config, weights, tta)
        detect_dataset(model, scored, indices[:1])  # trace the graphs before timing
        t0 = time.perf_counter()
        dets = detect_dataset(model, scored, indices, soft_masks=True)
        per_image = (time.perf_counter() - t0) / len(indices)
        tune_dets = detect_dataset(model, tuning, tune_indices, soft_masks=True)
        _, best = search_postprocess(tune_dets, tune_ids, tune_gt, class_map, "2019",
                                     tuple(args.size))  # fmt: skip
        for pp_name, setting in (("no", plain_setting), ("tuned", best)):
            as_detected = dataclasses.replace(setting, overlap="none")  # COCO: overlaps stay
            coco = evaluate_coco(scored, [apply_postprocess(d, as_detected) for d in dets], indices)
            row = {
                "detector": name,
                "post-processing": pp_name,
                "COCO mask AP": coco["segm"]["AP"],
                "mask AP@0.5": coco["segm"]["AP50"],
                **{
                    f"Kaggle {m}": score_setting(
                        dets, scored_ids, gt_scored[m], setting, class_map, m, tuple(args.size)
                    )  # fmt: skip
                    for m in ("2019", "2020")
                },
                "s / image": per_image,
                "setting": setting.describe(),
            }
            rows.append(row)
            print(json.dumps(row, default=float), flush=True)
    table = pd.DataFrame(rows)
    show = table.drop(columns="setting")
    lines = ["| " + " | ".join(show.columns) + " |", "|" + "---|" * len(show.columns)]
    for _, r in show.iterrows():
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in r]
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text)
    (args.out / "levers.md").write_text(text + "\n")
    table.to_csv(args.out / "levers.csv", index=False)
    print(f"scored {len(indices)} images of {args.data} ({args.split}); tuned on "
          f"{len(tune_indices)}; checkpoints {[p.name for p in ckpts]}")  # fmt: skip
    print("settings:", *(f"{r['detector']} / {r['post-processing']}: {r['setting']}" for r in rows),
          sep="\n  ")  # fmt: skip


if __name__ == "__main__":
    main()
