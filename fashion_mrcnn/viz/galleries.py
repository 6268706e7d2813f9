"""Error galleries: crop grids of the worst false positives and false negatives of every class,
from an ``evaluation.matching.evaluate_dataset`` result."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fashion_mrcnn.evaluation.analysis import class_name
from fashion_mrcnn.viz.colors import GT_COLOR, PRED_COLOR, apply_mask, mask_outline
from fashion_mrcnn.viz.overlay import crop_grid, save_image


def _crop(image, mask, box, color, margin: float = 0.15):
    """Crop of ``image`` around ``box`` (y1, x1, y2, x2) with the mask outline drawn in color."""
    h, w = image.shape[:2]
    y1, x1, y2, x2 = (int(v) for v in box)
    my, mx = int((y2 - y1) * margin) + 2, int((x2 - x1) * margin) + 2
    y1, x1, y2, x2 = max(0, y1 - my), max(0, x1 - mx), min(h, y2 + my), min(w, x2 + mx)
    sub = apply_mask(image[y1:y2, x1:x2], mask[y1:y2, x1:x2], color, 0.3)
    sub[mask_outline(mask[y1:y2, x1:x2], 2)] = [int(255 * c) for c in color]
    return sub


def error_galleries(
    evaluation: dict,
    dataset,
    out_dir: str | Path,
    predictions: Sequence[dict] | None = None,
    per_class: int = 12,
    classes: Sequence[int] | None = None,
) -> dict[str, Path]:
    """Write ``fp_<class>.png`` and ``fn_<class>.png`` crop grids into ``out_dir``.

    False positives (predictions matching no GT of their class) are ranked by score, highest
    first, and captioned ``"score IoU <best IoU> <class of that GT>"``; false negatives
    (unmatched GT) by area, largest first, captioned ``"<area>px IoU <best IoU> <class of that
    prediction>"`` (the IoU part only when something overlaps). Predictions come from ``predictions`` or
    ``evaluation["predictions"]`` (``evaluate_dataset(..., keep_predictions=True)``). Returns
    ``{file stem: path}``.
    """
    preds = predictions if predictions is not None else evaluation.get("predictions")
    if preds is None:
        raise ValueError("error_galleries needs predictions (evaluate_dataset keep_predictions)")
    names = evaluation.get("class_names", [])
    fps: dict[int, list] = {}
    fns: dict[int, list] = {}
    for k, r in enumerate(evaluation["per_image"]):
        ov = r["overlaps"]
        for p in np.flatnonzero(r["pred_match"] < 0):
            caption = f"{r['pred_scores'][p]:.2f}"
            if ov.shape[1] and ov[p].max() > 0:
                g = int(ov[p].argmax())
                other = class_name(names, int(r["gt_class_ids"][g]))
                caption += f" IoU {ov[p, g]:.2f} {other}"
            fps.setdefault(int(r["pred_class_ids"][p]), []).append(
                (-r["pred_scores"][p], k, int(p), caption)
            )
        for g in np.flatnonzero(r["gt_match"] < 0):
            caption = f"{int(r['gt_areas'][g])}px"
            if ov.shape[0] and ov[:, g].max() > 0:
                p = int(ov[:, g].argmax())
                other = class_name(names, int(r["pred_class_ids"][p]))
                caption += f" IoU {ov[p, g]:.2f} {other}"
            fns.setdefault(int(r["gt_class_ids"][g]), []).append(
                (-int(r["gt_areas"][g]), k, int(g), caption)
            )
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    cache: dict[int, tuple] = {}

    def image_and_gt(k):
        if k not in cache:
            i = evaluation["per_image"][k]["index"]
            cache.clear()  # keep one image in memory; items are grouped by image below
            cache[k] = (np.asarray(dataset.load_image(i)), dataset.load_mask(i)[0])
        return cache[k]

    for kind, items_by_class in (("fp", fps), ("fn", fns)):
        for c, items in sorted(items_by_class.items()):
            if classes is not None and c not in classes:
                continue
            chosen = sorted(items)[:per_class]
            crops: dict[int, np.ndarray] = {}
            for rank, (_, k, j, _caption) in sorted(enumerate(chosen), key=lambda t: t[1][1]):
                image, gt_masks = image_and_gt(k)
                r = evaluation["per_image"][k]
                if kind == "fp":
                    mask = np.asarray(preds[k]["masks"])[:, :, j].astype(bool)
                    box, color = r["pred_boxes"][j], PRED_COLOR
                else:
                    mask, box, color = gt_masks[:, :, j].astype(bool), r["gt_boxes"][j], GT_COLOR
                crops[rank] = _crop(image, mask, box, color)
            if not crops:
                continue
            grid = crop_grid([crops[i] for i in range(len(chosen))], [t[3] for t in chosen])
            stem = f"{kind}_{class_name(names, c)}".replace(" ", "_").replace(",", "")
            stem = stem.replace("/", "-")
            written[stem] = save_image(grid, out_dir / f"{stem}.png")
    return written
