"""Evaluation: the Kaggle iMaterialist metric, COCO AP/AR, VOC box mAP, Matterport-style per-image
matching and AP, and error analysis. No TensorFlow and no matplotlib at import time.

- :mod:`.kaggle`: ``kaggle_metric`` (iMaterialist 2019 score from CSVs).
- :mod:`.kaggle2020`: ``kaggle_metric_2020`` (FGVC7: IoU and attribute F1 thresholds jointly).
- :mod:`.kaggle_report`: ``attribute_policy_table`` (2019 score with attributes kept, stripped,
  attribute categories dropped), ``score_files`` (the ``score`` command's printout).
- :mod:`.coco_eval`: ``coco_evaluate``, ``evaluate_coco``, ``dataset_to_coco``,
  ``predictions_to_coco`` (pycocotools COCOeval).
- :mod:`.voc`: ``voc_map`` (VOC box mAP@0.5, all-point).
- :mod:`.matching`: ``compute_overlaps``, ``compute_overlaps_masks``, ``compute_matches``,
  ``compute_ap``, ``compute_ap_range``, ``compute_recall``, ``evaluate_dataset``.
- :mod:`.analysis`: ``per_class_table``, ``confusion_matrix``, ``top_confused_pairs``,
  ``size_buckets``, ``compare_runs`` (tables; ``fashion_mrcnn.viz`` draws them).
- :mod:`.postprocess_search`: ``search_postprocess`` (``tune-postprocess``).

The detect loop and the post-processing it scores are :mod:`fashion_mrcnn.inference`.
"""

from fashion_mrcnn.evaluation.analysis import (
    compare_runs,
    confusion_matrix,
    per_class_table,
    size_buckets,
    top_confused_pairs,
)
from fashion_mrcnn.evaluation.coco_eval import (
    coco_evaluate,
    dataset_to_coco,
    evaluate_coco,
    predictions_to_coco,
)
from fashion_mrcnn.evaluation.kaggle import kaggle_metric
from fashion_mrcnn.evaluation.kaggle2020 import kaggle_metric_2020
from fashion_mrcnn.evaluation.kaggle_report import attribute_policy_table, score_files
from fashion_mrcnn.evaluation.matching import (
    compute_ap,
    compute_ap_range,
    compute_matches,
    compute_overlaps,
    compute_overlaps_masks,
    compute_recall,
    evaluate_dataset,
)
from fashion_mrcnn.evaluation.voc import voc_map

__all__ = [
    "attribute_policy_table",
    "coco_evaluate",
    "compare_runs",
    "compute_ap",
    "compute_ap_range",
    "compute_matches",
    "compute_overlaps",
    "compute_overlaps_masks",
    "compute_recall",
    "confusion_matrix",
    "dataset_to_coco",
    "evaluate_coco",
    "evaluate_dataset",
    "kaggle_metric",
    "kaggle_metric_2020",
    "per_class_table",
    "predictions_to_coco",
    "score_files",
    "size_buckets",
    "top_confused_pairs",
    "voc_map",
]
