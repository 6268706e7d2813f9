"""Scoring stages: a model against ground truth. ``evaluate`` (mask mAP, COCO AP, per-class
table, the Kaggle 2019 score by attribute policy; VOC box mAP on box-only data),
``error_analysis``, ``compare`` of two evaluations, and ``tune_postprocess`` (the
post-processing setting searched on the Kaggle metric).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

from fashion_mrcnn.errors import FashionDataError
from fashion_mrcnn.workflow.remote_weights import local_weights
from fashion_mrcnn.workflow.rundir import DETECTIONS_DIR, METRICS_FILE, PER_CLASS_FILE
from fashion_mrcnn.workflow.stages.common import finite_or_none, mkdir, write_json
from fashion_mrcnn.workflow.stages.data import check_ground_truth, is_box_only
from fashion_mrcnn.workflow.stages.infer import (
    _postprocess_setting,
    as_model,
    class_map_for,
    inference_config,
)

log = logging.getLogger(__package__)  # the stages' one logger, as before the split


#: What ``evaluate`` says instead of mask metrics on data without masks.
NO_MASK_METRICS = "mask metrics do not apply: the ground truth has boxes only (no masks)"


def evaluate(
    config,
    weights,
    dataset,
    out_dir,
    train_dataset=None,
    keep_predictions: bool = False,
    postprocess=None,
) -> dict:
    """Mask mAP@0.5 (Matterport), COCO mask and box AP (pycocotools), per-class table, and the
    iMaterialist 2019 score by attribute policy (:func:`kaggle_policies`).

    ``weights`` is a checkpoint path or an inference ``MaskRCNN``. Writes ``metrics.json``,
    ``per_class.csv``, ``confusion.csv``, the Kaggle files and ``sensitivity_vs_count.png``
    (when ``train_dataset`` gives training counts) into ``out_dir``.

    ``postprocess``: a ``PostprocessSetting`` (or its YAML path, read and checked before the
    model loads) applied to every image's detections with ``inference.postprocess.
    apply_postprocess``, as ``predict`` / ``submit`` apply it (soft masks asked of ``detect``
    when its ``mask_threshold`` needs them; its overlap policy for ``kaggle_pred.csv``); every
    metric then scores the post-processed detections, and ``metrics.json`` and the result say
    which setting it was (``postprocess``: the setting's dict). None: ``detect``'s detections
    as they are, and no ``postprocess`` key.

    Box-only data (:func:`is_box_only`, e.g. LabelImg VOC): VOC box mAP@0.5 instead
    (``evaluation.voc.voc_map``); ``metrics.json`` holds ``box_map50``, the counts and
    ``mask_metrics`` = :data:`NO_MASK_METRICS`; ``per_class.csv`` is the VOC table (``name,
    n_gt, n_det, tp, fp, ap``). The result has ``box_only`` True and no mask keys.
    """
    from fashion_mrcnn.evaluation import analysis
    from fashion_mrcnn.evaluation.coco_eval import evaluate_coco
    from fashion_mrcnn.evaluation.matching import evaluate_dataset

    check_ground_truth(dataset)  # a bad row stops here, not after the inference pass
    setting = _postprocess_setting(postprocess, int(config.NUM_CLASSES))
    applied = {} if setting is None else {"postprocess": setting.to_dict()}
    created = not Path(out_dir).exists()
    out_dir = mkdir(out_dir)  # before the inference pass: an unwritable place fails first
    model = as_model(config, weights)
    indices = list(dataset.image_ids)
    try:
        predictions = _detections(model, dataset, indices, setting)
    except BaseException:
        if created and not any(out_dir.iterdir()):  # leave no empty folder behind
            out_dir.rmdir()
        raise
    evaluation = evaluate_dataset(predictions, dataset, indices, keep_predictions=True)
    if is_box_only(dataset):
        return _evaluate_boxes(evaluation, predictions, dataset, out_dir, keep_predictions, applied)
    coco = evaluate_coco(dataset, predictions, indices)
    table = analysis.per_class_table(evaluation, train_dataset, dataset.class_names)
    table.to_csv(out_dir / PER_CLASS_FILE)
    confusion = analysis.confusion_matrix(evaluation, dataset.class_names)
    confusion.to_csv(out_dir / "confusion.csv")
    artifacts = [out_dir / PER_CLASS_FILE, out_dir / "confusion.csv"]
    if train_dataset is not None:
        from fashion_mrcnn.viz.plots import plot_sensitivity_vs_count

        plot_sensitivity_vs_count(table, out_dir / "sensitivity_vs_count.png")
        artifacts.append(out_dir / "sensitivity_vs_count.png")
    metrics = {
        "mask_map50": finite_or_none(evaluation["mAP"]),
        "segm_AP": finite_or_none(coco["segm"]["AP"]),
        "segm_AP50": finite_or_none(coco["segm"]["AP50"]),
        "bbox_AP": finite_or_none(coco["bbox"]["AP"]),
        "bbox_AP50": finite_or_none(coco["bbox"]["AP50"]),
        "num_images": len(indices),
        "num_predictions": int(sum(len(p["scores"]) for p in predictions)),
        "num_gt": int(sum(len(p["gt_class_ids"]) for p in evaluation["per_image"])),
        **applied,
    }
    overlap = "all" if setting is None else setting.overlap  # submit's: the setting's policy
    kaggle = kaggle_policies(dataset, indices, predictions, out_dir, overlap=overlap)
    metrics["kaggle_2019"] = None if kaggle is None else float(kaggle.loc["keep", "score"])
    if kaggle is not None:
        artifacts += [out_dir / n for n in ("kaggle_gt.csv", "kaggle_pred.csv", KAGGLE_TABLE)]
    write_json(out_dir / METRICS_FILE, metrics)
    result = {
        **metrics,
        "kaggle_policies": kaggle,
        "per_class": table,
        "confusion": confusion,
        "artifacts": [str(a) for a in artifacts],
        "evaluation": evaluation,
    }
    if keep_predictions:
        result["predictions"] = predictions
    return result


def _detections(model, dataset, indices, setting) -> list[dict]:
    """``detect()`` dicts of ``dataset`` images ``indices``, with the ``PostprocessSetting``
    ``setting`` applied to each (None: as ``detect`` gives them)."""
    from fashion_mrcnn.inference.detect import detect_dataset
    from fashion_mrcnn.inference.postprocess import apply_postprocess

    soft = setting is not None and setting.needs_soft_masks
    found = detect_dataset(model, dataset, indices, progress=True, soft_masks=soft)
    return found if setting is None else [apply_postprocess(result, setting) for result in found]


KAGGLE_TABLE = "kaggle_2019_policies.csv"


def kaggle_policies(dataset, indices, predictions, out_dir, size=(512, 512), overlap="all"):
    """The 2019 Kaggle score with attributes kept, stripped, attribute categories dropped.

    Writes the ground truth of ``indices`` as ``kaggle_gt.csv``, the predictions (one
    ``detect()`` dict per index) as a submission at ``size`` (``kaggle_pred.csv``, the submission
    defaults: attributes kept, overlaps removed by the ``overlap`` policy) and the table as
    ``kaggle_2019_policies.csv``;
    ``fashion-mrcnn score`` gives the same numbers from the two CSVs. Returns the table
    (``evaluation.kaggle_report.attribute_policy_table``), or None, with a warning, when the
    images have no ground-truth mask to score against.
    """
    from fashion_mrcnn.data.export import records_to_kaggle_csv
    from fashion_mrcnn.evaluation.kaggle_report import attribute_policy_table
    from fashion_mrcnn.submission import make_submission

    records = [dataset.record(i) for i in indices]
    if not any(rec["instances"] for rec in records):
        log.warning("Kaggle score skipped: the %d images have no ground-truth mask", len(records))
        return None
    gt_csv = records_to_kaggle_csv(records, Path(out_dir) / "kaggle_gt.csv")
    image_ids = [str(rec["image_id"]) for rec in records]
    pred = make_submission(
        predictions, image_ids, Path(out_dir) / "kaggle_pred.csv", size=tuple(size),
        overlap=overlap, class_map=class_map_for(dataset), placeholder=None,
    )  # fmt: skip
    with_gt = {str(rec["image_id"]) for rec in records if rec["instances"]}
    pred = pred[pred["ImageId"].isin(with_gt)]  # images without GT play no part in the score
    table = attribute_policy_table(gt_csv, pred, pred_size=tuple(size))
    table.to_csv(Path(out_dir) / KAGGLE_TABLE)
    return table


def _evaluate_boxes(evaluation, predictions, dataset, out_dir, keep_predictions, applied) -> dict:
    """``evaluate`` on box-only data: VOC box mAP@0.5 from the matched GT boxes
    (``evaluation["per_image"]``: ``gt_boxes`` [G, 4] pixels, ``gt_class_ids`` [G], crowds left
    out) and the detections' ``rois``; writes ``metrics.json`` (with ``applied``: the
    post-processing entry, or nothing) and ``per_class.csv``."""
    from fashion_mrcnn.evaluation.voc import voc_map

    gt = [{"boxes": r["gt_boxes"], "class_ids": r["gt_class_ids"]} for r in evaluation["per_image"]]
    voc = voc_map(gt, predictions, iou_threshold=0.5, class_names=dataset.class_names)
    table = voc["per_class"].reset_index().set_index("name")
    table.to_csv(out_dir / PER_CLASS_FILE)
    metrics = {
        "box_map50": finite_or_none(voc["mAP"]),
        "num_images": len(predictions),
        "num_predictions": int(sum(len(p["scores"]) for p in predictions)),
        "num_gt": int(sum(len(g["class_ids"]) for g in gt)),
        "mask_metrics": NO_MASK_METRICS,
        **applied,
    }
    write_json(out_dir / METRICS_FILE, metrics)
    result = {**metrics, "box_only": True, "per_class": table, "evaluation": evaluation,
              "artifacts": [str(out_dir / METRICS_FILE), str(out_dir / PER_CLASS_FILE)]}  # fmt: skip
    if keep_predictions:
        result["predictions"] = predictions
    return result


def error_analysis(config, weights, dataset, out_dir, train_dataset=None, postprocess=None) -> dict:
    """``evaluate`` plus the confusion heat map, top confused pairs, size buckets, galleries
    (of the detections after ``postprocess``, as :func:`evaluate` applies it).
    Refused (FashionDataError) on box-only data: the analysis is of masks."""
    from fashion_mrcnn.evaluation import analysis
    from fashion_mrcnn.viz.galleries import error_galleries
    from fashion_mrcnn.viz.plots import plot_confusion

    if is_box_only(dataset):
        raise FashionDataError(
            f"{NO_MASK_METRICS}: the error analysis (--analysis) needs masks; run evaluate "
            "without it for VOC box mAP@0.5"
        )
    out_dir = mkdir(out_dir)
    result = evaluate(
        config, weights, dataset, out_dir, train_dataset, keep_predictions=True,
        postprocess=postprocess,
    )  # fmt: skip
    evaluation = result["evaluation"]
    plot_confusion(result["confusion"], out_dir / "confusion.png")
    pairs = analysis.top_confused_pairs(result["confusion"])
    pairs.to_csv(out_dir / "confused_pairs.csv", index=False)
    sizes = analysis.size_buckets(evaluation)
    sizes.to_csv(out_dir / "size_buckets.csv")
    galleries = error_galleries(
        evaluation, dataset, out_dir / "galleries", predictions=result["predictions"]
    )
    result["artifacts"] += [
        str(out_dir / "confusion.png"),
        str(out_dir / "confused_pairs.csv"),
        str(out_dir / "size_buckets.csv"),
    ]
    result["artifacts"] += [str(p) for p in galleries.values()]
    result.update({"confused_pairs": pairs, "size_buckets": sizes, "galleries": galleries})
    return result


def compare(before: Mapping, after: Mapping, out_dir, names=("before", "after")):
    """Per-class deltas between two ``evaluate`` results; ``compare.csv`` + ``compare.png``."""
    from fashion_mrcnn.evaluation.analysis import compare_runs
    from fashion_mrcnn.viz.plots import plot_deltas

    out_dir = mkdir(out_dir)
    table = compare_runs(before["per_class"], after["per_class"], names=tuple(names))
    plot_deltas(table, "delta_ap50", out_dir / "compare.png", tuple(names))
    table.to_csv(out_dir / "compare.csv")
    return table


#: Detection settings of the one inference pass of :func:`tune_postprocess` (permissive: the
#: search, not the model, decides what to drop).
SEARCH_MIN_CONFIDENCE = 0.05
SEARCH_MAX_INSTANCES = 200


def tune_postprocess(
    config,
    weights,
    dataset,
    out_dir,
    metric: str = "2019",
    size=(512, 512),
    top: int = 10,
    tta=None,
) -> dict:
    """Search the post-processing setting that maximises the Kaggle ``metric`` on ``dataset``.

    Inference runs once with permissive detection settings, soft masks included, and is cached
    in ``out_dir/detections`` (reused by a second call with the same weights, data and images);
    ``evaluation.postprocess_search.search_postprocess`` then scores every candidate on it.
    Writes ``postprocess_search.csv`` (every setting, best first), ``postprocess.yaml`` (the
    best, for ``submit`` / ``predict --postprocess``) and ``kaggle_gt.csv``. Returns the table,
    its ``top`` rows, the ``best`` setting, its ``score``, the ``baseline`` score (no
    post-processing beyond the writer's overlap removal), the file paths, ``reused_cache`` and
    ``notes`` (lines for the report: ``MASK_THRESHOLD_SKIPPED`` when the detections, e.g. of a
    cache written before soft masks were kept, have none).

    ``weights``: a checkpoint or a list of them (an ensemble; each may be a run folder or a
    URL, ``remote_weights.local_weights``), loaded with the permissive
    settings, with the test-time views ``tta`` (``load_detector``) if given; or an
    inference model, used with its own detection settings and never cached for reuse.

    Raises:
        FashionDataError: no image of ``dataset`` has a ground-truth mask.
    """
    import pandas as pd

    from fashion_mrcnn.data.export import records_to_kaggle_csv
    from fashion_mrcnn.evaluation.postprocess_search import (
        MASK_THRESHOLD_SKIPPED,
        cached_detections,
        has_soft_masks,
        search_postprocess,
    )
    from fashion_mrcnn.inference.detect import detect_dataset
    from fashion_mrcnn.inference.postprocess import POSTPROCESS_YAML, write_postprocess

    indices = list(dataset.image_ids)
    records = [dataset.record(i) for i in indices]
    if not any(rec["instances"] for rec in records):
        raise FashionDataError(f"{len(records)} images without any ground-truth mask to score")
    check_ground_truth(dataset)  # before detections are computed and cached
    out_dir = mkdir(out_dir)
    layout = 2020 if metric == "2020" else 2019
    gt_csv = records_to_kaggle_csv(records, out_dir / "kaggle_gt.csv", layout=layout)
    gt = pd.read_csv(gt_csv, dtype=str, keep_default_na=False)
    image_ids = [str(rec["image_id"]) for rec in records]
    search_config = inference_config(config).replace(
        DETECTION_MIN_CONFIDENCE=SEARCH_MIN_CONFIDENCE,
        DETECTION_MAX_INSTANCES=max(
            int(config.DETECTION_MAX_INSTANCES),
            min(SEARCH_MAX_INSTANCES, int(config.POST_NMS_ROIS_INFERENCE)),
        ),
    )
    if not hasattr(weights, "detect"):  # checkpoints: the cache is reused while they are unchanged
        paths = [weights] if isinstance(weights, str | Path) else list(weights)
        weights = [local_weights(w) for w in paths]  # a URL: its cached copy (remote_weights)
        weights_key = [[str(Path(w).resolve()), Path(w).stat().st_mtime] for w in weights]
        weights_key = weights_key[0] if len(paths) == 1 else weights_key
    else:  # a model object, with its own detection settings: never reuse a cache
        weights_key = ["model object", time.time()]
        search_config = weights.config
    key = {
        "weights": weights_key,
        "min_confidence": search_config.DETECTION_MIN_CONFIDENCE,
        "max_instances": search_config.DETECTION_MAX_INSTANCES,
        **({"tta": [str(v) for v in tta]} if tta else {}),
    }

    def run():
        model = as_model(search_config, weights, tta)
        return detect_dataset(model, dataset, indices, progress=True, soft_masks=True)

    detections, reused = cached_detections(out_dir / DETECTIONS_DIR, key, image_ids, run)
    table, best = search_postprocess(
        detections, image_ids, gt, class_map_for(dataset), metric, tuple(size)
    )
    table.to_csv(out_dir / "postprocess_search.csv", index=False)
    yaml_path = write_postprocess(best, out_dir / POSTPROCESS_YAML)
    return {
        "table": table,
        "top": table.head(top),
        "best": best,
        "score": float(table["score"].iloc[0]),
        "baseline": float(table.loc[table["step"] == 0, "score"].iloc[0]),
        "csv": str(out_dir / "postprocess_search.csv"),
        "yaml": str(yaml_path),
        "reused_cache": reused,
        "notes": [] if has_soft_masks(detections) else [MASK_THRESHOLD_SKIPPED],
    }
