"""Search the post-processing setting that maximises the Kaggle metric on cached detections.

Inference runs once with permissive settings (:func:`cached_detections` keeps the raw
``detect()`` dicts on disk); every candidate :class:`PostprocessSetting` is then applied with
:func:`~fashion_mrcnn.inference.postprocess.apply_postprocess`, written with the submission
writer and scored with the project's Kaggle scorer (2019, or 2020 with attributes), without
running the model again. The ground truth is read, decoded and resized once per search
(:func:`~fashion_mrcnn.evaluation.kaggle.load_ground_truth`); only the candidates' predictions
are encoded and decoded for each.

The search is a coordinate ascent, one parameter at a time with the others at their current
best: global score threshold, class-wise box-NMS IoU, max instances, overlap policy, mask
threshold, min area, then each class's own score threshold (in class-id order, after the global
one is fixed). A value replaces the current one only when it scores strictly higher, so the
starting setting ``PostprocessSetting()`` (no mask threshold: ``detect``'s masks, binarised at
the config's ``MASK_THRESHOLD``) stays unless a candidate beats it.

The mask threshold re-binarises the soft masks ``detect(..., soft_masks=True)`` returns (uint8
levels of 1/200, ``ops.masks``), which the cache keeps. Detections without them (a cache written
before soft masks were kept, or a detector that does not return them) cannot be re-thresholded:
the search then leaves the mask threshold out and says so (:data:`MASK_THRESHOLD_SKIPPED`, logged
as a warning; ``tune-postprocess`` prints it).

The cache (:func:`cached_detections`) records in its index whether it holds soft masks. A cache
written before this, for the same key and images, is reused, not run again (inference is the
expensive part), with a warning naming it: the search then skips the mask threshold; delete the
folder to run inference again with soft masks and search it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from fashion_mrcnn.constants import KAGGLE_METRICS, OVERLAP_POLICIES
from fashion_mrcnn.data.formats.kaggle_csv import to_2020_layout
from fashion_mrcnn.evaluation.kaggle import KaggleGroundTruth, kaggle_metric, load_ground_truth
from fashion_mrcnn.evaluation.kaggle2020 import kaggle_metric_2020
from fashion_mrcnn.inference.postprocess import PostprocessSetting, apply_postprocess
from fashion_mrcnn.ops.masks import SOFT_MASK_LEVELS
from fashion_mrcnn.submission import make_submission

log = logging.getLogger(__name__)

_SCORERS = dict(zip(KAGGLE_METRICS, (kaggle_metric, kaggle_metric_2020), strict=True))
SCORE_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
DEFAULT_GRID = {
    "score_threshold": SCORE_GRID,
    "nms_iou": (None, 0.3, 0.5, 0.7),
    "max_instances": (None, 5, 10, 20, 50),
    "overlap": OVERLAP_POLICIES,
    "min_area": (0, 16, 64, 256, 1024),
    "mask_threshold": (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7),
    "class_thresholds": SCORE_GRID,
}
CACHE_INDEX = "index.json"
#: How the cache stores soft masks (its index's ``soft_masks``; absent in older caches).
SOFT_MASK_FORMAT = f"uint8 levels floor(p * {SOFT_MASK_LEVELS})"
#: Why a search leaves the mask threshold out.
MASK_THRESHOLD_SKIPPED = (
    "mask threshold not searched: the detections have no soft masks (a detections cache "
    "written before they were kept, or a detector that does not return them); the masks stay "
    "as detect binarised them"
)


def has_soft_masks(detections: Sequence[dict]) -> bool:
    """True when every detection dict carries ``soft_masks`` (the mask threshold can be
    searched)."""
    return all("soft_masks" in d for d in detections)


def prepare_ground_truth(
    gt: pd.DataFrame, metric: str = "2019", size: tuple[int, int] = (512, 512)
) -> KaggleGroundTruth:
    """The ground-truth frame ``gt`` (2020 layout for ``metric="2020"``) read, checked and its
    masks resized to ``size`` once, for :func:`score_setting`."""
    return load_ground_truth(gt, int(metric), tuple(size))


def score_setting(
    detections: Sequence[dict],
    image_ids: Sequence[str],
    gt: pd.DataFrame | KaggleGroundTruth,
    setting: PostprocessSetting,
    class_map,
    metric: str = "2019",
    size: tuple[int, int] = (512, 512),
) -> float:
    """Kaggle score of ``setting`` applied to cached ``detections`` (one ``detect()`` dict per
    image of ``image_ids``) against the ground truth ``gt``: a frame (masks at their own size,
    2020 layout for ``metric="2020"``, decoded on each call) or :func:`prepare_ground_truth`'s
    result for the same ``metric`` and ``size``; predictions are written at ``size`` as
    ``submit`` does."""
    predictions = [apply_postprocess(d, setting) for d in detections]
    submission = make_submission(
        predictions, list(image_ids), None, size=tuple(size), overlap=setting.overlap,
        class_map=class_map, placeholder=None,
    )  # fmt: skip
    frame = gt.frame if isinstance(gt, KaggleGroundTruth) else gt
    submission = submission[submission["ImageId"].isin(set(frame["ImageId"]))]
    if metric == "2020":
        submission = to_2020_layout(submission)
    return float(_SCORERS[metric](gt, submission, pred_size=tuple(size)))


def search_postprocess(
    detections: Sequence[dict],
    image_ids: Sequence[str],
    gt: pd.DataFrame,
    class_map,
    metric: str = "2019",
    size: tuple[int, int] = (512, 512),
    grid: Mapping[str, Sequence] | None = None,
) -> tuple[pd.DataFrame, PostprocessSetting]:
    """Coordinate-ascent search (see the module doc) over ``grid`` (default
    :data:`DEFAULT_GRID`; a key left out is not searched). ``mask_threshold`` is searched only
    when every detection has ``soft_masks`` (:func:`has_soft_masks`); otherwise a warning says
    :data:`MASK_THRESHOLD_SKIPPED`.

    Returns:
        ``(table, best)``: every setting scored, one row each (its fields, ``class_thresholds``
        as ``"id:threshold,..."``, ``score``, ``step`` = evaluation order, 0 for the starting
        setting ``PostprocessSetting()``), best first (ties: earlier step first); and
        the best :class:`PostprocessSetting`.
    """
    if metric not in KAGGLE_METRICS:
        raise ValueError(f"metric must be one of {KAGGLE_METRICS}, got {metric!r}")
    grid = DEFAULT_GRID if grid is None else grid
    prepared = prepare_ground_truth(gt, metric, size)  # decoded once, not per candidate
    scored: dict[str, tuple[PostprocessSetting, float]] = {}

    def score(setting: PostprocessSetting) -> float:
        key = setting.describe()
        if key not in scored:
            value = score_setting(detections, image_ids, prepared, setting, class_map, metric, size)
            scored[key] = (setting, value)
        return scored[key][1]

    best = PostprocessSetting()
    best_score = score(best)

    def ascend(make: Callable[[object], PostprocessSetting], values) -> None:
        nonlocal best, best_score
        for value in values:
            candidate = make(value)
            value_score = score(candidate)
            if value_score > best_score:
                best, best_score = candidate, value_score

    if "mask_threshold" in grid and not has_soft_masks(detections):
        log.warning(MASK_THRESHOLD_SKIPPED)
        grid = {k: v for k, v in grid.items() if k != "mask_threshold"}
    names = ("score_threshold", "nms_iou", "max_instances", "overlap", "mask_threshold", "min_area")
    for name in names:
        if name in grid:
            current = best
            ascend(lambda v, n=name, c=current: replace(c, **{n: v}), grid[name])
    if "class_thresholds" in grid:
        classes = sorted({int(c) for d in detections for c in np.asarray(d["class_ids"])})
        for class_id in classes:
            current = best

            def with_class(v, c=current, k=class_id):
                return replace(c, class_thresholds={**c.class_thresholds, k: float(v)})

            ascend(with_class, grid["class_thresholds"])
    rows = [{**s.to_dict(), "score": v, "step": k} for k, (s, v) in enumerate(scored.values())]
    for row in rows:
        row["class_thresholds"] = ",".join(f"{k}:{t:g}" for k, t in row["class_thresholds"].items())
    table = pd.DataFrame(rows).sort_values("score", ascending=False, kind="stable")
    return table.reset_index(drop=True), best


# ----------------------------------------------------------------------------- cache
def _save(path: Path, detection: dict) -> None:
    keys = ("rois", "class_ids", "scores", "masks", "soft_masks")
    np.savez_compressed(path, **{k: np.asarray(detection[k]) for k in keys if k in detection})


def _load(path: Path) -> dict:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def cached_detections(
    cache_dir: str | Path,
    key: Mapping,
    image_ids: Sequence[str],
    run: Callable[[], Sequence[dict]],
) -> tuple[list[dict], bool]:
    """Raw detections of ``image_ids``, from ``cache_dir`` when it was written for the same
    ``key`` (weights, data, split, detection settings) and images, else from ``run()`` (one
    ``detect()`` dict per image, in order, with ``soft_masks`` when the detector gives them),
    then saved there (``soft_masks`` too: the index records :data:`SOFT_MASK_FORMAT`, or null
    when the detections had none).

    A cache of the same key and images written before soft masks were kept (no ``soft_masks``
    in its index) is reused as it is, with a warning naming the folder: its detections have no
    ``soft_masks``, so the search skips the mask threshold (module doc). A cache whose soft
    masks are in another format is run again.

    Returns:
        ``(detections, reused)``.
    """
    cache_dir = Path(cache_dir)
    index_path = cache_dir / CACHE_INDEX
    wanted = {"key": dict(key), "image_ids": [str(i) for i in image_ids]}
    if index_path.is_file():
        try:
            found = json.loads(index_path.read_text())
        except json.JSONDecodeError:
            found = None
            log.warning("%s: unreadable cache index; running inference again", index_path)
        if isinstance(found, dict) and found.get("soft_masks") in (SOFT_MASK_FORMAT, None):
            soft = found.pop("soft_masks", None)
            if found == wanted:
                if soft is None:
                    log.warning(
                        "%s: reused; it holds no soft masks (written before they were kept); %s. "
                        "Delete the folder to run inference again and search it",
                        cache_dir, MASK_THRESHOLD_SKIPPED,
                    )  # fmt: skip
                return [_load(cache_dir / f"{k:06d}.npz") for k in range(len(image_ids))], True
        if found is not None:
            log.warning("%s: cached for other weights / data / settings; re-running", cache_dir)
    detections = list(run())
    if len(detections) != len(image_ids):
        raise RuntimeError(f"{len(detections)} detections for {len(image_ids)} images")
    cache_dir.mkdir(parents=True, exist_ok=True)
    index_path.unlink(missing_ok=True)
    for k, detection in enumerate(detections):
        _save(cache_dir / f"{k:06d}.npz", detection)
    wanted["soft_masks"] = SOFT_MASK_FORMAT if has_soft_masks(detections) else None
    index_path.write_text(json.dumps(wanted, indent=1) + "\n")  # last: marks the cache complete
    return detections, False
