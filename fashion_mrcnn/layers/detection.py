"""DetectionLayer: classified, refined ROIs -> final detections (inference).

``detections_np`` is the numpy reference the tests compare the layer with.
"""

from __future__ import annotations

import keras
import numpy as np

from fashion_mrcnn.ops.boxes import (
    apply_deltas_np,
    apply_deltas_tf,
    clip_boxes_np,
    clip_boxes_tf,
    norm_boxes,
    norm_boxes_tf,
)
from fashion_mrcnn.ops.image import parse_image_meta, parse_image_meta_tf
from fashion_mrcnn.ops.nms import per_class_nms_np, per_class_nms_tf


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


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class DetectionLayer(keras.layers.Layer):
    """Final detections from the classifier head's output.

    Per image and ROI: the arg-max class and its probability, the class-specific deltas (times
    ``bbox_std_dev``) applied to the ROI, the box clipped to the image window stored in
    ``image_meta``. ROIs whose class is background, whose score is below ``min_confidence`` or
    which are zero padding are dropped; NMS at ``nms_threshold`` runs inside each class; the
    ``max_instances`` best by score are kept, zero-padded.

    Inputs: ``[rois [B, N, 4] normalised, mrcnn_class [B, N, C] probabilities,
    mrcnn_bbox [B, N, C, 4] deltas (std-dev units), image_meta [B, 12 + C]]``.
    Output: float32 [B, max_instances, (y1, x1, y2, x2, class_id, score)], boxes normalised,
    by decreasing score.
    """

    def __init__(self, bbox_std_dev, min_confidence, max_instances, nms_threshold, **kwargs):
        kwargs.setdefault("dtype", "float32")
        kwargs.setdefault("name", "mrcnn_detection")
        super().__init__(**kwargs)
        self.bbox_std_dev = [float(v) for v in np.asarray(bbox_std_dev).reshape(-1)]
        self.min_confidence = float(min_confidence)
        self.max_instances = int(max_instances)
        self.nms_threshold = float(nms_threshold)

    def _one_image(self, args):
        import tensorflow as tf

        rois, probs, bbox, meta = args
        class_ids = tf.argmax(probs, axis=1, output_type=tf.int32)
        scores = tf.gather(probs, class_ids, batch_dims=1)
        deltas = tf.gather(bbox, class_ids, batch_dims=1) * tf.constant(self.bbox_std_dev)
        refined = apply_deltas_tf(rois, deltas)
        fields = parse_image_meta_tf(meta)
        window = norm_boxes_tf(fields["window"], fields["image_shape"])
        refined = clip_boxes_tf(refined, window)
        area = (rois[:, 2] - rois[:, 0]) * (rois[:, 3] - rois[:, 1])
        ok = (class_ids > 0) & (scores >= self.min_confidence) & (area > 0)
        ix = tf.where(ok)[:, 0]
        idx, count = per_class_nms_tf(
            tf.gather(refined, ix),
            tf.gather(scores, ix),
            tf.gather(class_ids, ix),
            self.max_instances,
            self.nms_threshold,
        )
        keep = tf.gather(ix, idx[:count])
        det = tf.concat(
            [
                tf.gather(refined, keep),
                tf.cast(tf.gather(class_ids, keep), tf.float32)[:, None],
                tf.gather(scores, keep)[:, None],
            ],
            axis=1,
        )
        return tf.pad(det, [[0, self.max_instances - count], [0, 0]])

    def call(self, inputs):
        import tensorflow as tf

        rois, probs, bbox, meta = (tf.cast(x, tf.float32) for x in inputs)
        return tf.map_fn(
            self._one_image,
            (rois, probs, bbox, meta),
            fn_output_signature=tf.TensorSpec([self.max_instances, 6], tf.float32),
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.max_instances, 6)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor((inputs[0].shape[0], self.max_instances, 6), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            bbox_std_dev=self.bbox_std_dev,
            min_confidence=self.min_confidence,
            max_instances=self.max_instances,
            nms_threshold=self.nms_threshold,
        )
        return config
