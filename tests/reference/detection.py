"""Numpy reference of ``fashion_mrcnn.layers.DetectionLayer``."""

import numpy as np

from fashion_mrcnn.ops.boxes import apply_deltas_np, clip_boxes_np, norm_boxes
from fashion_mrcnn.ops.image import parse_image_meta
from fashion_mrcnn.ops.nms import per_class_nms_np


def detections_np(
    rois,
    mrcnn_class,
    mrcnn_bbox,
    image_meta,
    bbox_std_dev,
    min_confidence,
    max_instances,
    nms_threshold,
) -> np.ndarray:
    """Numpy reference of :class:`DetectionLayer`; same shapes, float32 [B, max_instances, 6]."""
    rois = np.asarray(rois, dtype=np.float32)
    probs = np.asarray(mrcnn_class, dtype=np.float32)
    bbox = np.asarray(mrcnn_bbox, dtype=np.float32)
    meta = np.asarray(image_meta, dtype=np.float32)
    batch, n = rois.shape[:2]
    out = np.zeros((batch, max_instances, 6), dtype=np.float32)
    std = np.asarray(bbox_std_dev, dtype=np.float32)
    for b in range(batch):
        class_ids = probs[b].argmax(axis=1)
        scores = probs[b, np.arange(n), class_ids]
        deltas = bbox[b, np.arange(n), class_ids] * std
        refined = apply_deltas_np(rois[b], deltas)
        shape_and_window = parse_image_meta(meta[b])
        window = norm_boxes(shape_and_window["window"], shape_and_window["image_shape"])
        refined = clip_boxes_np(refined, window)
        area = (rois[b, :, 2] - rois[b, :, 0]) * (rois[b, :, 3] - rois[b, :, 1])
        ok = np.flatnonzero((class_ids > 0) & (scores >= min_confidence) & (area > 0))
        keep = ok[
            per_class_nms_np(refined[ok], scores[ok], class_ids[ok], nms_threshold, max_instances)
        ]
        k = len(keep)
        out[b, :k, :4] = refined[keep]
        out[b, :k, 4] = class_ids[keep]
        out[b, :k, 5] = scores[keep]
    return out
