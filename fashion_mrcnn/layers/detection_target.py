"""DetectionTargetLayer: sample training ROIs from the proposals and build their targets.

The numpy reference is ``tests/reference/detection_target.py`` (one image); with
``deterministic=True`` the layer takes positives and negatives in proposal order, exactly as the
reference does with ``rng=None``.
"""

from __future__ import annotations

import keras
import numpy as np

from fashion_mrcnn.constants import CROWD_IOU
from fashion_mrcnn.ops.boxes import box_iou_tf, encode_deltas_tf
from fashion_mrcnn.ops.masks import roi_mask_targets_tf


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class DetectionTargetLayer(keras.layers.Layer):
    """Training ROIs with class, box-delta and mask targets (Mask R-CNN paper, section 3).

    Per image: zero-padded proposals are dropped and (``add_gt_boxes``) the real GT boxes are
    appended; ROIs with IoU >= ``positive_iou`` (0.5) with a GT box are positive (at most
    ``int(train_rois_per_image * roi_positive_ratio)``), ROIs with IoU < ``negative_iou`` (0.5)
    whose IoU with every crowd box is below ``crowd_iou`` (``constants.CROWD_IOU``) are negative
    and fill the remaining slots; a random subset of each is taken unless ``deterministic``. Positives get their best GT's class, the deltas to it divided by
    ``bbox_std_dev`` and its mask cropped to the ROI and resized to ``mask_shape`` (rounded to
    0/1); ``target_mask_valid`` copies the GT's ``gt_mask_valid`` (0 for box-only instances,
    and for negatives and padding).

    Inputs: ``[proposals [B, N, 4] normalised (zero rows = padding), gt_class_ids [B, G] int32
    (0 = padding, < 0 = crowd), gt_boxes [B, G, 4] normalised, gt_masks [B, mh, mw, G] float
    (mini masks when ``use_mini_mask``, else full image size), gt_mask_valid [B, G] float]``.
    Outputs (T = train_rois_per_image; positives first, then negatives, then zero padding):
    ``rois [B, T, 4]``, ``target_class_ids [B, T] int32``, ``target_deltas [B, T, 4]``,
    ``target_masks [B, T, MH, MW]``, ``target_mask_valid [B, T]``. All are constants for the
    optimiser (no gradient).

    With ``num_attributes`` A > 0 (the attribute head), two more inputs, ``gt_attributes
    [B, G, A]`` (multi-hot) and ``gt_attribute_valid [B, G]`` (1 when the instance's class
    carries attributes), and two more outputs, ``target_attributes [B, T, A]`` and
    ``target_attribute_weight [B, T]``: each positive ROI's matched GT's rows (zeros for
    negatives and padding).
    """

    def __init__(
        self,
        train_rois_per_image: int,
        roi_positive_ratio: float,
        mask_shape,
        bbox_std_dev,
        use_mini_mask: bool,
        add_gt_boxes: bool = True,
        deterministic: bool = False,
        positive_iou: float = 0.5,
        negative_iou: float = 0.5,
        crowd_iou: float = CROWD_IOU,
        num_attributes: int = 0,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        kwargs.setdefault("name", "proposal_targets")
        super().__init__(**kwargs)
        self.train_rois_per_image = int(train_rois_per_image)
        self.roi_positive_ratio = float(roi_positive_ratio)
        self.mask_shape = [int(v) for v in mask_shape]
        self.bbox_std_dev = [float(v) for v in np.asarray(bbox_std_dev).reshape(-1)]
        self.use_mini_mask = bool(use_mini_mask)
        self.add_gt_boxes = bool(add_gt_boxes)
        self.deterministic = bool(deterministic)
        self.positive_iou = float(positive_iou)
        self.negative_iou = float(negative_iou)
        self.crowd_iou = float(crowd_iou)
        self.num_attributes = int(num_attributes)

    def _one_image(self, args):
        import tensorflow as tf

        proposals, gt_class_ids, gt_boxes, gt_masks, gt_mask_valid = args[:5]
        t = self.train_rois_per_image
        proposals = tf.boolean_mask(proposals, tf.reduce_any(tf.not_equal(proposals, 0), axis=1))
        crowd_boxes = tf.boolean_mask(gt_boxes, gt_class_ids < 0)
        real = tf.where(gt_class_ids > 0)[:, 0]
        boxes = tf.gather(gt_boxes, real)
        class_ids = tf.gather(gt_class_ids, real)
        masks = tf.gather(gt_masks, real, axis=2)
        valid = tf.gather(gt_mask_valid, real)
        if self.add_gt_boxes:
            proposals = tf.concat([proposals, boxes], axis=0)
        n = tf.shape(proposals)[0]

        # a zero column keeps max / argmax defined without GT; it never wins for a positive IoU
        overlaps = tf.concat([box_iou_tf(proposals, boxes), tf.zeros([n, 1])], axis=1)
        best_iou = tf.reduce_max(overlaps, axis=1)
        best_gt = tf.argmax(overlaps, axis=1, output_type=tf.int32)
        crowd_iou = tf.concat([box_iou_tf(proposals, crowd_boxes), tf.zeros([n, 1])], axis=1)
        not_crowd = tf.reduce_max(crowd_iou, axis=1) < self.crowd_iou

        pos = tf.where(best_iou >= self.positive_iou)[:, 0]
        neg = tf.where(tf.logical_and(best_iou < self.negative_iou, not_crowd))[:, 0]
        if not self.deterministic:
            pos = tf.random.shuffle(pos)
            neg = tf.random.shuffle(neg)
        pos = pos[: int(t * self.roi_positive_ratio)]
        neg = neg[: t - tf.shape(pos)[0]]

        pos_rois = tf.gather(proposals, pos)
        gi = tf.gather(best_gt, pos)
        deltas = encode_deltas_tf(pos_rois, tf.gather(boxes, gi)) / tf.constant(self.bbox_std_dev)
        target_masks = roi_mask_targets_tf(
            masks, boxes, pos_rois, gi, self.mask_shape, self.use_mini_mask
        )
        rois = tf.concat([pos_rois, tf.gather(proposals, neg)], axis=0)
        pad = t - tf.shape(rois)[0]
        pad_pos = t - tf.shape(pos)[0]
        out = (
            tf.pad(rois, [[0, pad], [0, 0]]),
            tf.pad(tf.gather(class_ids, gi), [[0, pad_pos]]),
            tf.pad(deltas, [[0, pad_pos], [0, 0]]),
            tf.pad(target_masks, [[0, pad_pos], [0, 0], [0, 0]]),
            tf.pad(tf.gather(valid, gi), [[0, pad_pos]]),
        )
        if self.num_attributes:
            attrs = tf.gather(tf.gather(args[5], real), gi)  # [P, A] of each positive's GT
            weight = tf.gather(tf.gather(args[6], real), gi)
            out += (tf.pad(attrs, [[0, pad_pos], [0, 0]]), tf.pad(weight, [[0, pad_pos]]))
        return out

    def call(self, inputs):
        import tensorflow as tf

        proposals, gt_class_ids, gt_boxes, gt_masks, gt_mask_valid = inputs[:5]
        t = self.train_rois_per_image
        mh, mw = self.mask_shape
        signature = (
            tf.TensorSpec([t, 4], tf.float32),
            tf.TensorSpec([t], tf.int32),
            tf.TensorSpec([t, 4], tf.float32),
            tf.TensorSpec([t, mh, mw], tf.float32),
            tf.TensorSpec([t], tf.float32),
        )
        elems = (
            tf.cast(proposals, tf.float32),
            tf.cast(gt_class_ids, tf.int32),
            tf.cast(gt_boxes, tf.float32),
            tf.cast(gt_masks, tf.float32),
            tf.cast(gt_mask_valid, tf.float32),
        )
        if self.num_attributes:
            a = self.num_attributes
            signature += (tf.TensorSpec([t, a], tf.float32), tf.TensorSpec([t], tf.float32))
            elems += (tf.cast(inputs[5], tf.float32), tf.cast(inputs[6], tf.float32))
        outputs = tf.map_fn(self._one_image, elems, fn_output_signature=signature)
        return [tf.stop_gradient(o) for o in outputs]

    def compute_output_shape(self, input_shape):
        b = input_shape[0][0]
        t = self.train_rois_per_image
        shapes = [(b, t, 4), (b, t), (b, t, 4), (b, t, *self.mask_shape), (b, t)]
        if self.num_attributes:
            shapes += [(b, t, self.num_attributes), (b, t)]
        return shapes

    def compute_output_spec(self, inputs):
        shapes = self.compute_output_shape([inputs[0].shape])
        dtypes = ["float32", "int32", "float32", "float32", "float32", "float32", "float32"]
        return [keras.KerasTensor(s, dtype=d) for s, d in zip(shapes, dtypes)]

    def get_config(self):
        config = super().get_config()
        config.update(
            train_rois_per_image=self.train_rois_per_image,
            roi_positive_ratio=self.roi_positive_ratio,
            mask_shape=self.mask_shape,
            bbox_std_dev=self.bbox_std_dev,
            use_mini_mask=self.use_mini_mask,
            add_gt_boxes=self.add_gt_boxes,
            deterministic=self.deterministic,
            positive_iou=self.positive_iou,
            negative_iou=self.negative_iou,
            crowd_iou=self.crowd_iou,
            num_attributes=self.num_attributes,
        )
        return config
