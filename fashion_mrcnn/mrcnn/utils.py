"""Matterport's ``mrcnn.utils`` over this project's own functions.

Same names and arguments as Matterport: ``Dataset`` (:mod:`fashion_mrcnn.data.dataset`);
``resize_image``, ``resize_mask`` (:mod:`fashion_mrcnn.ops.image`); ``extract_bboxes``,
``norm_boxes``, ``denorm_boxes`` (:mod:`fashion_mrcnn.ops.boxes`); ``minimize_mask``,
``expand_mask``, ``unmold_mask`` (:mod:`fashion_mrcnn.ops.masks`); ``compute_overlaps``,
``compute_overlaps_masks``, ``compute_matches``, ``compute_ap``, ``compute_ap_range``,
``compute_recall``, ``trim_zeros`` (:mod:`fashion_mrcnn.evaluation.matching`);
``generate_pyramid_anchors`` (:mod:`fashion_mrcnn.ops.anchors`).

Adapted or different here:

- ``non_max_suppression(boxes, scores, threshold)`` is ``ops.nms.nms_np`` (int32 indices by
  decreasing score, as Matterport).
- :func:`download_trained_weights` keeps Matterport's ``(coco_model_path, verbose=1)`` and calls
  ``model.weights.download`` with the COCO v2.0 release URL (needs internet).
- ``compute_matches`` returns ``gt_match`` / ``pred_match`` / ``overlaps`` in the caller's
  prediction order (Matterport: score-sorted order); ``compute_ap``'s mAP, precisions and recalls
  are the same.
- ``resize_image(..., mode="crop")`` takes an optional ``rng`` (numpy Generator) for the crop.
"""

from __future__ import annotations

from pathlib import Path

from fashion_mrcnn.data.dataset import Dataset
from fashion_mrcnn.evaluation.matching import (
    compute_ap,
    compute_ap_range,
    compute_matches,
    compute_overlaps,
    compute_overlaps_masks,
    compute_recall,
    trim_zeros,
)
from fashion_mrcnn.model import weights as _weights
from fashion_mrcnn.ops.anchors import generate_pyramid_anchors
from fashion_mrcnn.ops.boxes import denorm_boxes, extract_bboxes, norm_boxes
from fashion_mrcnn.ops.image import resize_image, resize_mask
from fashion_mrcnn.ops.masks import expand_mask, minimize_mask, unmold_mask
from fashion_mrcnn.ops.nms import nms_np as non_max_suppression

__all__ = [
    "Dataset",
    "resize_image",
    "resize_mask",
    "extract_bboxes",
    "norm_boxes",
    "denorm_boxes",
    "minimize_mask",
    "expand_mask",
    "unmold_mask",
    "compute_overlaps",
    "compute_overlaps_masks",
    "compute_matches",
    "compute_ap",
    "compute_ap_range",
    "compute_recall",
    "trim_zeros",
    "generate_pyramid_anchors",
    "non_max_suppression",
    "download_trained_weights",
]


def download_trained_weights(coco_model_path, verbose: int = 1) -> Path:
    """Download Matterport's COCO weights (``mask_rcnn_coco.h5``, v2.0 release) to
    ``coco_model_path`` with a progress bar when ``verbose`` > 0; returns the path.

    Needs internet; raises WeightsError naming the URL and the destination when it fails (a
    partial download is deleted). Loading the file: ``model.load_weights(path, by_name=True,
    exclude=["mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_bbox", "mrcnn_mask"])``.
    """
    if verbose:
        print(f"Downloading pretrained model to {coco_model_path} ...")
    path = _weights.download(_weights.COCO_URL, coco_model_path, progress=verbose > 0)
    if verbose:
        print("... done downloading pretrained model!")
    return path
