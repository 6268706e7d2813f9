"""Error analysis on top of :func:`fashion_mrcnn.evaluation.matching.evaluate_dataset`.

- :func:`per_class_table`: training count, AP@0.5, sensitivity (recall), precision, TP / FP / FN
  per class (``viz.plots.plot_sensitivity_vs_count`` shows whether rare classes are the weak
  ones).
- :func:`confusion_matrix`: GT instances matched to predictions by mask IoU >= 0.5 ignoring the
  class; unmatched GT go to the ``"missed"`` column, unmatched predictions to the
  ``"background"`` row; :func:`top_confused_pairs` lists the worst off-diagonal cells.
- :func:`size_buckets`: recall per COCO size bucket (area < 32^2, < 96^2, larger) at the
  original image size.
- :func:`compare_runs`: per-class deltas between two tables.

Tables only: the charts and the error galleries of these results are drawn by
:mod:`fashion_mrcnn.viz` (which imports this module, never the reverse).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fashion_mrcnn.evaluation.matching import ap_from_matches, match_from_overlaps

MISSED = "missed"
BACKGROUND = "background"
SIZE_EDGES = (32**2, 96**2)  # COCO small / medium / large area thresholds (pixels)


def class_name(class_names: Sequence[str], class_id: int) -> str:
    """``class_names[class_id]``, or the id as text when it is out of range."""
    return str(class_names[class_id]) if 0 <= class_id < len(class_names) else str(class_id)


def _train_counts(train_counts, class_names) -> dict[str, int]:
    """{class name: training instances} from a mapping (names or ids) or a dataset."""
    if train_counts is None:
        return {}
    if hasattr(train_counts, "class_counts"):
        return {str(k): int(v[0]) for k, v in train_counts.class_counts().items()}
    out = {}
    for key, value in dict(train_counts).items():
        count = value[0] if isinstance(value, tuple | list) else value
        name = class_name(class_names, key) if isinstance(key, int | np.integer) else str(key)
        out[name] = int(count)
    return out


def per_class_table(
    evaluation: dict,
    train_counts: Mapping | object | None = None,
    class_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per-class detection quality at the evaluation's IoU threshold (normally 0.5).

    Args:
        evaluation: the dict returned by ``evaluate_dataset``.
        train_counts: training instance counts, as a mapping keyed by class name or internal id
            (values int, or ``(instances, images)`` tuples), or a training ``Dataset`` with
            ``class_counts()``.
        class_names: names by internal class id (default: ``evaluation["class_names"]``).

    Returns:
        DataFrame indexed by class name, sorted by ``train_count`` (descending), columns
        ``class_id, train_count, n_gt, n_pred, tp, fp, fn, recall, precision, ap50``. ``recall``
        (sensitivity) = tp / n_gt, ``precision`` = tp / n_pred (NaN when undefined); ``ap50`` is
        the all-point AP of the class's predictions pooled over images, ranked by score.
    """
    names = list(class_names if class_names is not None else evaluation.get("class_names", []))
    counts = _train_counts(train_counts, names)
    tp_flags: dict[int, list] = {}
    scores: dict[int, list] = {}
    n_gt: dict[int, int] = {}
    for r in evaluation["per_image"]:
        for c in r["gt_class_ids"]:
            n_gt[int(c)] = n_gt.get(int(c), 0) + 1
        for c, s, m in zip(r["pred_class_ids"], r["pred_scores"], r["pred_match"]):
            tp_flags.setdefault(int(c), []).append(m > -1)
            scores.setdefault(int(c), []).append(float(s))
    rows = []
    for c in sorted(set(n_gt) | set(tp_flags)):
        flags = np.array(tp_flags.get(c, []), dtype=bool)
        g = n_gt.get(c, 0)
        tp = int(flags.sum())
        name = class_name(names, c)
        rows.append(
            {
                "name": name,
                "class_id": c,
                "train_count": counts.get(name, np.nan) if counts else np.nan,
                "n_gt": g,
                "n_pred": int(flags.size),
                "tp": tp,
                "fp": int(flags.size - tp),
                "fn": g - tp,
                "recall": tp / g if g else np.nan,
                "precision": tp / flags.size if flags.size else np.nan,
                "ap50": ap_from_matches(flags, scores.get(c, []), g)[0] if g else np.nan,
            }
        )
    table = pd.DataFrame(rows, columns=[
        "name", "class_id", "train_count", "n_gt", "n_pred", "tp", "fp", "fn", "recall",
        "precision", "ap50",
    ]).set_index("name")  # fmt: skip
    return table.sort_values(["train_count", "n_gt"], ascending=False, na_position="last")


def confusion_matrix(
    evaluation: dict, class_names: Sequence[str] | None = None, iou_threshold: float = 0.5
) -> pd.DataFrame:
    """Class confusion from class-agnostic matching.

    Each image's predictions are matched to its GT greedily by score with mask IoU >=
    ``iou_threshold`` regardless of class. Rows: GT class names + ``"background"`` (predictions
    matching no GT); columns: predicted class names + ``"missed"`` (GT matching no prediction).
    Returns an int DataFrame of counts.
    """
    names = list(class_names if class_names is not None else evaluation.get("class_names", []))
    pairs: list[tuple[int, int]] = []  # (gt class or -1, pred class or -1)
    for r in evaluation["per_image"]:
        gt_match, pred_match = match_from_overlaps(
            r["overlaps"], r["gt_class_ids"], r["pred_class_ids"], r["pred_scores"],
            iou_threshold, class_agnostic=True,
        )  # fmt: skip
        for g, p in enumerate(gt_match):
            pairs.append((int(r["gt_class_ids"][g]), int(r["pred_class_ids"][p]) if p > -1 else -1))
        for p in np.flatnonzero(pred_match < 0):
            pairs.append((-1, int(r["pred_class_ids"][p])))
    classes = sorted({c for pair in pairs for c in pair if c >= 0})
    labels = [class_name(names, c) for c in classes]
    conf = pd.DataFrame(
        0, index=pd.Index(labels + [BACKGROUND], name="gt"),
        columns=pd.Index(labels + [MISSED], name="pred"), dtype=np.int64,
    )  # fmt: skip
    for g, p in pairs:
        row = class_name(names, g) if g >= 0 else BACKGROUND
        col = class_name(names, p) if p >= 0 else MISSED
        conf.loc[row, col] += 1
    return conf


def top_confused_pairs(confusion: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """The ``k`` largest off-diagonal cells between two real classes (dress -> skirt, ...).

    Returns DataFrame ``gt, pred, count, share`` (share = count / GT instances of that class),
    sorted by count.
    """
    rows = []
    totals = confusion.sum(axis=1)
    for g in confusion.index:
        if g == BACKGROUND:
            continue
        for p in confusion.columns:
            if p in (MISSED, g) or confusion.loc[g, p] == 0:
                continue
            count = int(confusion.loc[g, p])
            rows.append((g, p, count, count / totals[g]))
    out = pd.DataFrame(rows, columns=["gt", "pred", "count", "share"])
    return out.sort_values(["count", "share"], ascending=False).head(k).reset_index(drop=True)


def size_buckets(
    evaluation: dict, edges: tuple[int, int] = SIZE_EDGES, by_class: bool = False
) -> pd.DataFrame:
    """Recall of GT instances per size bucket (mask area at the original image size).

    Buckets: ``small`` (area < edges[0]), ``medium`` (< edges[1]), ``large``. Returns DataFrame
    with ``n_gt, tp, recall`` indexed by bucket (or by (class name, bucket) with ``by_class``).
    """
    names = evaluation.get("class_names", [])
    rows = []
    for r in evaluation["per_image"]:
        for area, cid, m in zip(r["gt_areas"], r["gt_class_ids"], r["gt_match"]):
            bucket = "small" if area < edges[0] else "medium" if area < edges[1] else "large"
            rows.append((class_name(names, int(cid)), bucket, int(m > -1)))
    df = pd.DataFrame(rows, columns=["name", "bucket", "tp"])
    keys = ["name", "bucket"] if by_class else ["bucket"]
    out = df.groupby(keys).agg(n_gt=("tp", "size"), tp=("tp", "sum"))
    out["recall"] = out["tp"] / out["n_gt"]
    if not by_class:
        out = out.reindex(["small", "medium", "large"]).fillna({"n_gt": 0, "tp": 0})
        out[["n_gt", "tp"]] = out[["n_gt", "tp"]].astype(int)
    return out


def compare_runs(
    table_a: pd.DataFrame,
    table_b: pd.DataFrame,
    names: tuple[str, str] = ("before", "after"),
    metrics: Sequence[str] = ("ap50", "recall", "precision"),
) -> pd.DataFrame:
    """Per-class deltas between two :func:`per_class_table` results.

    Returns DataFrame indexed by class name (union of both), with ``<metric>_<name>`` for each
    run and ``delta_<metric>`` = b - a, sorted by the first delta (``viz.plots.plot_deltas``
    charts a delta column).
    """
    a_name, b_name = names
    out = pd.DataFrame(index=table_a.index.union(table_b.index))
    for m in metrics:
        out[f"{m}_{a_name}"] = table_a[m].reindex(out.index)
        out[f"{m}_{b_name}"] = table_b[m].reindex(out.index)
        out[f"delta_{m}"] = out[f"{m}_{b_name}"] - out[f"{m}_{a_name}"]
    return out.sort_values(f"delta_{metrics[0]}", ascending=False)
