"""The iMaterialist (Fashion) 2019 Kaggle score, computed from Kaggle CSVs without decoding masks.

Metric (DSB-2018 style, per image and per ClassId string, attributes included, so ``"10_1_2"`` and
``"10"`` are different classes): for each IoU threshold ``t`` in 0.50, 0.55, ..., 0.95, predicted
and ground-truth masks of the class are matched one-to-one where ``IoU > t`` and the class scores
``TP / (TP + FP + FN)``. The class score is the mean over the ten thresholds; the image score the
mean over the classes present in its ground truth or its prediction; the final score the mean over
the ground-truth images. Confidence scores play no part: every extra mask is a false positive.

Matching choice: a *maximum-cardinality* one-to-one matching of the pairs with ``IoU > t``
(Hungarian on the 0/1 edge matrix). The metric ignores scores, so there is no score order to be
greedy in; the maximum matching is the count "TP" is defined as, independent of row order. When no
mask overlaps two partners above ``t`` (always true for ``t >= 0.5`` when the masks on each side are
disjoint, as Kaggle requires of submissions) it equals the unique matching and greedy-by-IoU; the
Hungarian step only runs for the rare conflicting groups.

Speed: Kaggle RLE (``start length`` pairs, 1-indexed, column-major) is turned into COCO RLE
straight from the run list (``data.formats.coco_rle.to_coco_rle``), and ``pycocotools.mask.iou`` computes the IoU of every prediction against every
ground-truth mask of an image on the compressed runs.

Empty prediction rows (empty ``EncodedPixels``, the "nothing found" placeholder some submissions
use) are skipped. A non-empty placeholder such as Kaggle's ``"1 1"`` / ``"23"`` is a real one-pixel
mask and is scored as one. An image with neither ground truth nor predictions has no class to
average and is left out of the mean (counted in the details).

Layers, shared with the 2020 scorer (``kaggle2020``) and the policy table (``kaggle_report``):
:func:`load_masks` reads and encodes both tables once, :func:`score_masks` scores them (with an
optional second per-pair score, the 2020 attribute F1, that must also exceed each threshold);
:func:`load_ground_truth` decodes a ground truth once for scoring many prediction tables.
Over 400 lines: the CSV reader, both sides' decoders and the scorer share the per-image
mask records and the row-naming errors; splitting them would scatter one format's checks.
The tables' columns and ``ClassId`` forms: :mod:`fashion_mrcnn.data.formats.kaggle_csv`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pycocotools import mask as mask_utils
from scipy.optimize import linear_sum_assignment

from fashion_mrcnn.constants import COCO_IOU_THRESHOLDS
from fashion_mrcnn.data.formats import kaggle_csv
from fashion_mrcnn.data.formats.coco_rle import to_coco_rle
from fashion_mrcnn.data.formats.kaggle_csv import ATTRIBUTES_COLUMN, PRED_COLUMNS
from fashion_mrcnn.data.formats.kaggle_csv import GT_COLUMNS as GT_COLUMNS  # re-exported
from fashion_mrcnn.data.formats.rle import decode
from fashion_mrcnn.errors import FashionDataError, RLEError
from fashion_mrcnn.ops.image import resize_masks_nearest

log = logging.getLogger(__name__)

THRESHOLDS = np.asarray(COCO_IOU_THRESHOLDS)  # float64 [10]: 0.50 ... 0.95
_STRING_COLUMNS = (*PRED_COLUMNS, ATTRIBUTES_COLUMN)  # read as text, never as numbers


def read_kaggle_csv(
    source: str | Path | pd.DataFrame, columns: tuple[str, ...], name: str, layout: int = 2019
):
    """Load a Kaggle CSV (or copy a DataFrame) with string ids; returns ``(df, label, is_file)``.

    ``layout`` 2019: ClassId may carry ``_<attr>`` suffixes; 2020: ClassId is the category only
    and an ``AttributesIds`` column (when in ``columns``) holds ``"1,2"`` or nothing.

    Raises:
        FileNotFoundError: no such file.
        FashionDataError: naming the file: empty (0 bytes), not UTF-8 text (a binary file), not
            parseable as CSV, a missing column, a malformed ClassId or AttributesIds.
    """
    if isinstance(source, pd.DataFrame):
        df, label, is_file = source.copy(), name, False
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"{name}: no such file {path}")
        try:
            df = pd.read_csv(
                path,
                dtype=dict.fromkeys(_STRING_COLUMNS, str),
                keep_default_na=False,
            )
        except pd.errors.EmptyDataError as exc:
            raise FashionDataError(
                f"{path}: empty file; the {name} CSV needs a header {list(columns)}"
            ) from exc
        except UnicodeDecodeError as exc:
            raise FashionDataError(
                f"{path}: not a UTF-8 text file (binary data at byte {exc.start}); the {name} "
                f"must be a CSV with columns {list(columns)}"
            ) from exc
        except pd.errors.ParserError as exc:
            raise FashionDataError(f"{path}: cannot parse the {name} CSV ({exc})") from exc
        label, is_file = str(path), True
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise FashionDataError(f"{label}: missing column(s) {missing}; has {list(df.columns)}")
    ignored = [ATTRIBUTES_COLUMN] if ATTRIBUTES_COLUMN not in columns else []  # 2019: unread
    df = df.reset_index(drop=True).drop(columns=ignored, errors="ignore")
    for col in _STRING_COLUMNS:
        if col in df.columns:
            df[col] = df[col].fillna("").astype(str).str.strip()
    pattern, form = kaggle_csv.CLASS_ID_FORMS[layout]
    # ClassId written by pandas from floats ("23.0") is a common mistake; refuse it clearly.
    bad = ~df["ClassId"].str.fullmatch(pattern) & (df["EncodedPixels"] != "")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise FashionDataError(
            f"{_where(label, is_file, i, df)}: ClassId {df['ClassId'][i]!r} is not {form}"
        )
    if ATTRIBUTES_COLUMN in columns:
        pattern, form = kaggle_csv.ATTRIBUTES_FORM
        bad = ~df[ATTRIBUTES_COLUMN].str.fullmatch(pattern)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise FashionDataError(
                f"{_where(label, is_file, i, df)}: AttributesIds {df[ATTRIBUTES_COLUMN][i]!r} is "
                f"not {form}"
            )
    return df, label, is_file


def _where(label: str, is_file: bool, i: int, df: pd.DataFrame) -> str:
    row = f"line {i + 2}" if is_file else f"row {i}"
    return f"{label} {row} (image {df['ImageId'][i]}, class {df['ClassId'][i]})"


@dataclass
class ImageMasks:
    """One image's masks of one side: ClassId strings, COCO RLEs and attribute-id sets [N]."""

    classes: list[str] = field(default_factory=list)
    rles: list[dict] = field(default_factory=list)
    attributes: list[frozenset] = field(default_factory=list)


def _attribute_sets(df: pd.DataFrame) -> list[frozenset] | None:
    """Per-row attribute-id sets from a (validated) ``AttributesIds`` column, or None without it."""
    if ATTRIBUTES_COLUMN not in df.columns:
        return None
    return [
        frozenset(int(a) for a in text.split(",") if a.strip()) for text in df[ATTRIBUTES_COLUMN]
    ]


def _gt_masks(gt: pd.DataFrame, label: str, is_file: bool, pred_size) -> dict[str, ImageMasks]:
    """Ground-truth COCO RLEs per image, at the GT size or resized (nearest) to ``pred_size``."""
    out: dict[str, ImageMasks] = {}
    image_ids = gt["ImageId"].to_numpy()
    encoded = gt["EncodedPixels"].to_numpy()
    classes = gt["ClassId"].to_numpy()
    heights = pd.to_numeric(gt["Height"], errors="coerce").to_numpy()
    widths = pd.to_numeric(gt["Width"], errors="coerce").to_numpy()
    attributes = _attribute_sets(gt)
    for i in range(len(gt)):
        entry = out.setdefault(image_ids[i], ImageMasks())
        if not encoded[i]:
            continue
        h, w = heights[i], widths[i]
        if not (np.isfinite(h) and np.isfinite(w) and h >= 1 and w >= 1):
            raise FashionDataError(f"{_where(label, is_file, i, gt)}: bad Height/Width {h}/{w}")
        try:
            if pred_size is None:
                rle = to_coco_rle(encoded[i], int(h), int(w))
            else:
                mask = decode(encoded[i], int(h), int(w))[:, :, None]
                small = resize_masks_nearest(mask, pred_size)[:, :, 0]
                rle = mask_utils.encode(np.asfortranarray(small.astype(np.uint8)))
        except RLEError as exc:  # name the row only on failure: building it costs per row
            raise RLEError(f"{_where(label, is_file, i, gt)}: {exc}") from None
        entry.classes.append(classes[i])
        entry.rles.append(rle)
        entry.attributes.append(attributes[i] if attributes is not None else frozenset())
    return out


def _pred_masks(pred, label, is_file, sizes: dict[str, tuple[int, int]]) -> dict[str, ImageMasks]:
    out: dict[str, ImageMasks] = {}
    image_ids = pred["ImageId"].to_numpy()
    encoded = pred["EncodedPixels"].to_numpy()
    classes = pred["ClassId"].to_numpy()
    attributes = _attribute_sets(pred)
    for i in range(len(pred)):
        if not encoded[i] or image_ids[i] not in sizes:
            continue
        h, w = sizes[image_ids[i]]
        try:
            rle = to_coco_rle(encoded[i], h, w)
        except RLEError as exc:
            raise RLEError(f"{_where(label, is_file, i, pred)}: {exc}") from None
        entry = out.setdefault(image_ids[i], ImageMasks())
        entry.classes.append(classes[i])
        entry.rles.append(rle)
        entry.attributes.append(attributes[i] if attributes is not None else frozenset())
    return out


def max_matches(edges: np.ndarray) -> int:
    """Size of a maximum one-to-one matching in a boolean bipartite edge matrix ``[P, G]``."""
    if not edges.any():
        return 0
    if edges.sum(axis=0).max() <= 1 and edges.sum(axis=1).max() <= 1:
        return int(edges.sum())
    rows, cols = linear_sum_assignment(edges, maximize=True)
    return int(edges[rows, cols].sum())


def class_scores(ious: np.ndarray, thresholds: np.ndarray = THRESHOLDS) -> np.ndarray:
    """Per-threshold ``TP / (TP + FP + FN)`` for one (image, class) group.

    Args:
        ious: float [P, G] IoU of P predictions against G ground-truth masks (P or G may be 0).
        thresholds: float [T]; a pair matches at ``t`` when ``IoU > t``.

    Returns:
        float64 [T]; zeros when either side is empty.
    """
    n_pred, n_gt = ious.shape
    if n_pred == 0 or n_gt == 0:
        return np.zeros(len(thresholds))
    edges = ious[None, :, :] > np.asarray(thresholds)[:, None, None]  # [T, P, G]
    base = edges[0] if len(thresholds) else edges
    if base.sum(axis=0).max(initial=0) <= 1 and base.sum(axis=1).max(initial=0) <= 1:
        # higher thresholds only remove edges, so no conflicts anywhere: TP is the edge count
        tp = edges.sum(axis=(1, 2)).astype(np.float64)
    else:
        tp = np.array([max_matches(e) for e in edges], dtype=np.float64)
    return tp / (n_pred + n_gt - tp)


def _examples(ids, n: int = 3) -> str:
    ids = sorted(ids)
    shown = ", ".join(ids[:n]) + (", ..." if len(ids) > n else "")
    return f"{len(ids)} images, e.g. {shown}" if ids else "no rows"


def _require_rows(gt_df: pd.DataFrame, gt_label: str) -> None:
    if gt_df.empty:
        raise FashionDataError(f"{gt_label}: no data rows, only a header; nothing to score against")


def _check_overlap(gt_df, gt_label: str, pred_df, pred_label: str, allow_empty: bool) -> None:
    """Refuse inputs whose score would be a meaningless 0: a ground truth without rows, or
    predictions with rows but no ImageId in common with it (a wrong file or an id format
    mismatch); also a prediction table without rows unless ``allow_empty``. Partial overlap and
    (allowed) empty predictions only log a warning with the counts."""
    _require_rows(gt_df, gt_label)
    gt_ids, pred_ids = set(gt_df["ImageId"]), set(pred_df["ImageId"])
    common = gt_ids & pred_ids
    if pred_df.empty and allow_empty:
        log.warning("%s: no prediction rows; every ground-truth image scores 0", pred_label)
        return
    if not common:
        raise FashionDataError(
            f"no ImageId in common between {gt_label} ({_examples(gt_ids)}) and {pred_label} "
            f"({_examples(pred_ids)}); nothing to score (wrong file, or ids with / without a "
            "file extension?)"
        )
    missing, extra = len(gt_ids - common), len(pred_ids - common)
    if missing or extra:
        log.warning(
            "%s covers %d of the %d ground-truth images (%d without a prediction row score 0); "
            "%d predicted images are not in the ground truth and are ignored",
            pred_label,
            len(common),
            len(gt_ids),
            missing,
            extra,
        )


@dataclass
class KaggleMasks:
    """Both sides decoded once: ImageId -> masks (every GT image; predictions of GT images only)
    and the sorted ImageIds of ignored prediction rows."""

    gt: dict[str, ImageMasks]
    pred: dict[str, ImageMasks]
    pred_images_not_in_gt: list[str]


@dataclass(frozen=True)
class KaggleGroundTruth:
    """A ground-truth table read, checked and decoded once (:func:`load_ground_truth`), to score
    many prediction tables against (``tune-postprocess`` scores every candidate on one).

    ``frame``: the checked table; ``masks``: ImageId -> masks at ``pred_size`` (or their own size
    when None); ``sizes``: ImageId -> ``(height, width)`` the predictions' RLE is decoded at."""

    frame: pd.DataFrame
    label: str
    layout: int
    pred_size: tuple[int, int] | None
    masks: dict[str, ImageMasks]
    sizes: dict[str, tuple[int, int]]


def _decode_ground_truth(gt_df, label, is_file, layout, pred_size) -> KaggleGroundTruth:
    pred_size = None if pred_size is None else (int(pred_size[0]), int(pred_size[1]))
    masks = _gt_masks(gt_df, label, is_file, pred_size)
    if pred_size is None:
        first = gt_df.drop_duplicates("ImageId")
        shapes = zip(first["ImageId"], first["Height"], first["Width"])
        sizes = {k: (int(h), int(w)) for k, h, w in shapes}
    else:
        sizes = dict.fromkeys(masks, pred_size)
    return KaggleGroundTruth(gt_df, label, layout, pred_size, masks, sizes)


def load_ground_truth(gt, layout: int = 2019, pred_size=None) -> KaggleGroundTruth:
    """Read, check and RLE-encode a ground-truth table (CSV path or frame) once, resized to
    ``pred_size`` when given; pass the result as ``gt`` to :func:`kaggle_metric` or
    ``kaggle2020.kaggle_metric_2020`` (same ``layout`` and ``pred_size``) as often as needed.
    Errors as in :func:`kaggle_metric` (a table without rows included)."""
    gt_df, label, is_file = read_kaggle_csv(
        gt, kaggle_csv.gt_columns(layout), "ground truth", layout
    )
    _require_rows(gt_df, label)
    return _decode_ground_truth(gt_df, label, is_file, layout, pred_size)


def load_masks(
    gt, pred, layout: int = 2019, pred_size=None, allow_empty_predictions: bool = True
) -> KaggleMasks:
    """Read, check and RLE-encode a ground-truth and a prediction table (CSV path or frame);
    ``layout`` 2020 also needs ``AttributesIds`` on both. ``gt`` may be a
    :class:`KaggleGroundTruth` of the same ``layout`` and ``pred_size``, then not decoded again.
    Errors as in :func:`kaggle_metric`; ValueError for a prepared ``gt`` of another layout or
    size."""
    prepared = gt if isinstance(gt, KaggleGroundTruth) else None
    if prepared is None:
        gt_df, gt_label, gt_file = read_kaggle_csv(
            gt, kaggle_csv.gt_columns(layout), "ground truth", layout
        )
    else:
        size = None if pred_size is None else (int(pred_size[0]), int(pred_size[1]))
        if (prepared.layout, prepared.pred_size) != (layout, size):
            raise ValueError(
                f"ground truth {prepared.label} was prepared for layout {prepared.layout} at "
                f"pred_size {prepared.pred_size}; scored with layout {layout} at {size}"
            )
        gt_df, gt_label = prepared.frame, prepared.label
    pred_df, pred_label, pred_file = read_kaggle_csv(
        pred, kaggle_csv.pred_columns(layout), "predictions", layout
    )
    _check_overlap(gt_df, gt_label, pred_df, pred_label, allow_empty_predictions)
    if prepared is None:
        prepared = _decode_ground_truth(gt_df, gt_label, gt_file, layout, pred_size)
    pred_masks = _pred_masks(pred_df, pred_label, pred_file, prepared.sizes)
    extra = sorted(set(pred_df["ImageId"]) - set(prepared.masks))
    return KaggleMasks(prepared.masks, pred_masks, extra)


def score_masks(masks: KaggleMasks, thresholds=THRESHOLDS, gate=None, return_details=False):
    """The Kaggle score of decoded masks, per (image, ClassId) group as the module doc says.

    Args:
        masks: from :func:`load_masks`.
        thresholds: float [T]; a pair matches at ``t`` when its IoU ``> t``.
        gate: optional ``gate(pred_attributes, gt_attributes) -> float [P, G]``, a second
            per-pair score that must also be ``> t`` for a match (the 2020 attribute F1); the pair
            then matches when ``min(IoU, gate) > t``.
        return_details: also return the details dict of :func:`kaggle_metric`.
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    groups, per_image = [], []
    empty = ImageMasks()
    for image_id, g in masks.gt.items():
        p = masks.pred.get(image_id, empty)
        classes = sorted(set(g.classes) | set(p.classes))
        if not classes:
            per_image.append((image_id, np.nan, 0))
            continue
        if g.rles and p.rles:
            ious = np.asarray(mask_utils.iou(p.rles, g.rles, [0] * len(g.rles)), dtype=np.float64)
            ious = ious.reshape(len(p.rles), len(g.rles))
            if gate is not None:
                ious = np.minimum(ious, gate(p.attributes, g.attributes))
        else:
            ious = np.zeros((len(p.rles), len(g.rles)))
        g_cls = np.array(g.classes, dtype=object)
        p_cls = np.array(p.classes, dtype=object)
        scores = []
        for cls in classes:
            sub = ious[np.ix_(p_cls == cls, g_cls == cls)]
            per_t = class_scores(sub, thresholds)
            score = float(per_t.mean()) if len(per_t) else 0.0
            scores.append(score)
            groups.append((image_id, cls, sub.shape[1], sub.shape[0], score, float(per_t[0])))
        per_image.append((image_id, float(np.mean(scores)), len(classes)))

    image_df = pd.DataFrame(per_image, columns=["ImageId", "score", "n_classes"])
    score = float(image_df["score"].mean()) if image_df["score"].notna().any() else 0.0
    if not return_details:
        return score
    group_df = pd.DataFrame(
        groups, columns=["ImageId", "ClassId", "n_gt", "n_pred", "score", "score_at_0.5"]
    )
    sums = {"images": ("ImageId", "size"), "n_gt": ("n_gt", "sum"), "n_pred": ("n_pred", "sum")}
    per_class = (
        group_df.groupby("ClassId").agg(**sums, score=("score", "mean"))
        .sort_values("images", ascending=False)
        if len(group_df)
        else pd.DataFrame(columns=["images", "n_gt", "n_pred", "score"])
    )  # fmt: skip
    details = {
        "score": score,
        "per_image": image_df,
        "per_class": per_class,
        "groups": group_df,
        "thresholds": thresholds,
        "images_without_classes": int(image_df["score"].isna().sum()),
        "pred_images_not_in_gt": masks.pred_images_not_in_gt,
    }
    return score, details


def kaggle_metric(
    gt,
    pred,
    return_details: bool = False,
    pred_size=None,
    thresholds=THRESHOLDS,
    allow_empty_predictions: bool = True,
):
    """iMaterialist 2019 score of a prediction CSV against a ground-truth CSV.

    Args:
        gt: DataFrame or CSV path with ``ImageId, EncodedPixels, Height, Width, ClassId``
            (masks at ``Height x Width``), or a :class:`KaggleGroundTruth` from
            :func:`load_ground_truth` (layout 2019, the same ``pred_size``), not decoded again.
        pred: DataFrame or CSV path with ``ImageId, EncodedPixels, ClassId``; masks at the GT size,
            or at ``pred_size`` for every image when given.
        return_details: also return a dict with ``per_image`` and ``per_class`` DataFrames and the
            per (image, class) ``groups`` table.
        pred_size: ``(height, width)`` of the prediction masks (e.g. ``(512, 512)`` for a Kaggle
            submission); GT masks are then resized to it with nearest-neighbour sampling.
        thresholds: IoU thresholds (default 0.50:0.95:0.05).
        allow_empty_predictions: a prediction table without any row scores 0 (with a warning);
            ``False`` refuses it (the ``score`` command: an empty submission file is a mistake).

    Returns:
        The score in [0, 1] (float), or ``(score, details)`` with ``return_details``.

    Raises:
        FashionDataError / RLEError naming file, row, image and class for malformed input;
        FashionDataError for a ground truth without rows, or predictions that have rows but no
        ImageId in common with it (a partial overlap only logs a warning with the counts).
    """
    masks = load_masks(gt, pred, 2019, pred_size, allow_empty_predictions)
    return score_masks(masks, thresholds, return_details=return_details)
