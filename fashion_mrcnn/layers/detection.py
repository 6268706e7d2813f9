"""DetectionLayer: classified, refined ROIs -> final detections (inference).

Its numpy reference, which the tests compare it with, is ``tests/reference/detection.py``.
"""

from __future__ import annotations

import keras
import numpy as np

from fashion_mrcnn.ops.boxes import apply_deltas_tf, clip_boxes_tf, norm_boxes_tf
from fashion_mrcnn.ops.image import parse_image_meta_tf
from fashion_mrcnn.ops.nms import per_class_nms_fixed_tf, per_class_nms_tf


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
    by decreasing score. With ``return_rows``, a second output: int32 [B, max_instances], the
    ROI (index into N) each detection came from, -1 on padding rows (the attribute head's
    probabilities are gathered with it: ``model.graph.GatherRows``).

    ``fixed_shapes`` (``Config.JIT_COMPILE``): the same detections computed in fixed-size
    tensors, which XLA compiles (one NMS per class over all ROIs); the default gathers the
    candidates first, which runs faster uncompiled.
    """

    def __init__(
        self,
        bbox_std_dev,
        min_confidence,
        max_instances,
        nms_threshold,
        return_rows: bool = False,
        fixed_shapes: bool = False,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        kwargs.setdefault("name", "mrcnn_detection")
        super().__init__(**kwargs)
        self.bbox_std_dev = [float(v) for v in np.asarray(bbox_std_dev).reshape(-1)]
        self.min_confidence = float(min_confidence)
        self.max_instances = int(max_instances)
        self.nms_threshold = float(nms_threshold)
        self.return_rows = bool(return_rows)
        self.fixed_shapes = bool(fixed_shapes)

    def _candidates(self, args):
        """Per ROI of one image (``args`` = its rois [N, 4], probs [N, C], bbox [N, C, 4], meta):
        ``(refined [N, 4], scores [N], class_ids int32 [N], ok bool [N])``: the arg-max class,
        its score, the ROI refined by that class's deltas and clipped to the window, and whether
        the ROI may become a detection (not background, score >= min_confidence, not padding)."""
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
        return refined, scores, class_ids, ok

    @staticmethod
    def _rows(refined, class_ids, scores, take):
        """float32 [K, 6] ``(y1, x1, y2, x2, class_id, score)`` of the ROIs ``take`` [K]."""
        import tensorflow as tf

        return tf.concat(
            [
                tf.gather(refined, take),
                tf.cast(tf.gather(class_ids, take), tf.float32)[:, None],
                tf.gather(scores, take)[:, None],
            ],
            axis=1,
        )

    def _one_image_dynamic(self, args):
        """One image's detections, the candidates gathered (dynamic sizes: the faster form
        uncompiled)."""
        import tensorflow as tf

        refined, scores, class_ids, ok = self._candidates(args)
        ix = tf.where(ok)[:, 0]
        idx, count = per_class_nms_tf(
            tf.gather(refined, ix),
            tf.gather(scores, ix),
            tf.gather(class_ids, ix),
            self.max_instances,
            self.nms_threshold,
        )
        keep = tf.gather(ix, idx[:count])
        det = self._rows(refined, class_ids, scores, keep)
        det = tf.pad(det, [[0, self.max_instances - count], [0, 0]])
        if not self.return_rows:
            return det
        pad = [[0, self.max_instances - count]]
        rows = tf.pad(tf.cast(keep, tf.int32), pad, constant_values=-1)
        return det, rows

    def _one_image_fixed(self, args):
        """One image's detections in fixed-size tensors (XLA compiles them): per-class NMS
        over all N rows, the rows not kept masked."""
        import tensorflow as tf

        refined, scores, class_ids, ok = self._candidates(args)
        idx, _ = per_class_nms_fixed_tf(
            refined,
            scores,
            class_ids,
            self.max_instances,
            self.nms_threshold,
            num_classes=args[1].shape[-1],
            valid=ok,
        )
        found = idx >= 0  # [max_instances]: fixed-size, -1 after the count (XLA compiles it)
        take = tf.maximum(idx, 0)
        det = self._rows(refined, class_ids, scores, take)
        det = det * tf.cast(found, tf.float32)[:, None]
        if not self.return_rows:
            return det
        return det, idx

    def call(self, inputs):
        import tensorflow as tf

        rois, probs, bbox, meta = (tf.cast(x, tf.float32) for x in inputs)
        signature = tf.TensorSpec([self.max_instances, 6], tf.float32)
        if self.return_rows:
            signature = (signature, tf.TensorSpec([self.max_instances], tf.int32))
        one_image = self._one_image_fixed if self.fixed_shapes else self._one_image_dynamic
        return tf.map_fn(one_image, (rois, probs, bbox, meta), fn_output_signature=signature)

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0][0], self.max_instances, 6)
        return [shape, shape[:2]] if self.return_rows else shape

    def compute_output_spec(self, inputs):
        det = keras.KerasTensor((inputs[0].shape[0], self.max_instances, 6), dtype="float32")
        if not self.return_rows:
            return det
        return [det, keras.KerasTensor(det.shape[:2], dtype="int32")]

    def get_config(self):
        config = super().get_config()
        config.update(
            bbox_std_dev=self.bbox_std_dev,
            min_confidence=self.min_confidence,
            max_instances=self.max_instances,
            nms_threshold=self.nms_threshold,
            return_rows=self.return_rows,
            fixed_shapes=self.fixed_shapes,
        )
        return config
