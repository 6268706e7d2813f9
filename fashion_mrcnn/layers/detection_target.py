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

    ``mask_crop``: how the mask targets are cropped, ``"crop_and_resize"`` or ``"xla"`` (the
    gather form XLA compiles: ``ops.roi_align.crop_and_resize_xla``; ``Config.ROI_ALIGN``).
    ``fixed_shapes`` (``Config.JIT_COMPILE``): the same targets computed in fixed-size tensors,
    which XLA compiles; the default gathers the kept rows, which runs faster uncompiled. With
    random sampling the two draw differently (the same distribution).
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
        mask_crop: str = "crop_and_resize",
        fixed_shapes: bool = False,
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
        self.mask_crop = str(mask_crop)
        self.fixed_shapes = bool(fixed_shapes)

    def _one_image_dynamic(self, args):
        """One image's targets, the kept rows gathered (dynamic sizes: the faster form
        uncompiled)."""
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
            masks, boxes, pos_rois, gi, self.mask_shape, self.use_mini_mask, self.mask_crop
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

    def _one_image_fixed(self, args):
        """One image's targets in fixed-size tensors (XLA compiles them): candidate rows are the
        N proposals then the G GT boxes, masked (padding, and GT rows not real or not added)
        rather than dropped, and the sampled ones are picked by ``top_k`` of a key: the row
        index (first rows first) when ``deterministic``, else a uniform draw (a random subset
        in random order, as a shuffle then a slice)."""
        import tensorflow as tf

        proposals, gt_class_ids, gt_boxes, gt_masks, gt_mask_valid = args[:5]
        t = self.train_rois_per_image
        limit = int(t * self.roi_positive_ratio)  # the most positives
        p = max(limit, 1)  # positive slots (one even at ratio 0, so every gather has a row)
        real_gt = gt_class_ids > 0  # [G]
        rows = tf.concat([proposals, gt_boxes], axis=0)  # [N + G, 4]
        valid = tf.concat(
            [
                tf.reduce_any(tf.not_equal(proposals, 0), axis=1),
                real_gt & self.add_gt_boxes,
            ],
            axis=0,
        )
        iou = box_iou_tf(rows, gt_boxes)  # [N + G, G]
        overlaps = tf.where(real_gt[None, :], iou, -1.0)
        best_iou = tf.maximum(tf.reduce_max(overlaps, axis=1), 0.0)  # 0 without a real GT
        best_gt = tf.argmax(overlaps, axis=1, output_type=tf.int32)  # first real GT of the max
        crowd_iou = tf.reduce_max(tf.where((gt_class_ids < 0)[None, :], iou, 0.0), axis=1)
        pos = valid & (best_iou >= self.positive_iou)
        neg = valid & (best_iou < self.negative_iou) & (crowd_iou < self.crowd_iou)

        def first(candidates, k, limit):
            """(row indices int32 [k] of the first / a random k candidates, how many of
            them count: at most ``limit``)."""
            n = tf.shape(candidates)[0]
            if self.deterministic:
                key = -tf.cast(tf.range(n), tf.float32)
            else:
                key = tf.random.uniform([n])
            picked = tf.math.top_k(tf.where(candidates, key, -np.inf), k, sorted=True)
            count = tf.minimum(tf.reduce_sum(tf.cast(candidates, tf.int32)), limit)
            return picked.indices, count

        pos_rows, pos_count = first(pos, p, limit)  # [P]
        neg_rows, neg_count = first(neg, t, t - pos_count)  # [T]
        slot = tf.range(t)
        is_pos = slot < pos_count  # [T]
        is_neg = ~is_pos & (slot < pos_count + neg_count)
        pos_take = tf.gather(pos_rows, tf.minimum(slot, p - 1))
        neg_take = tf.gather(neg_rows, tf.clip_by_value(slot - pos_count, 0, t - 1))
        taken = tf.where(is_pos, pos_take, neg_take)  # [T] row of each slot
        rois = tf.gather(rows, taken) * tf.cast(is_pos | is_neg, tf.float32)[:, None]

        gi = tf.gather(best_gt, taken)  # [T] the GT each slot matched (meaningful on positives)
        on_pos = tf.cast(is_pos, tf.float32)
        deltas = encode_deltas_tf(rois, tf.gather(gt_boxes, gi)) / tf.constant(self.bbox_std_dev)
        # the mask crops run on the P positive slots; slots past the count crop a safe box
        # (the whole GT mask: a zero-area box would divide by zero in the mini-mask frame)
        p_pos = is_pos[:p]
        safe_gt = tf.where(real_gt[:, None], gt_boxes, tf.constant([[0.0, 0.0, 1.0, 1.0]]))
        p_gi = tf.where(p_pos, gi[:p], 0)
        safe = tf.where(p_pos[:, None], rois[:p], tf.gather(safe_gt, p_gi))
        target_masks = roi_mask_targets_tf(
            gt_masks, safe_gt, safe, p_gi, self.mask_shape, self.use_mini_mask, self.mask_crop
        )
        target_masks = tf.where(p_pos[:, None, None], target_masks, 0.0)
        out = (
            rois,
            tf.where(is_pos, tf.gather(gt_class_ids, gi), 0),
            tf.where(is_pos[:, None], deltas, 0.0),
            tf.pad(target_masks, [[0, t - p], [0, 0], [0, 0]]),
            tf.gather(gt_mask_valid, gi) * on_pos,
        )
        if self.num_attributes:
            attrs = tf.gather(args[5], gi) * on_pos[:, None]  # [T, A] of each positive's GT
            out += (attrs, tf.gather(args[6], gi) * on_pos)
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
        one_image = self._one_image_fixed if self.fixed_shapes else self._one_image_dynamic
        outputs = tf.map_fn(one_image, elems, fn_output_signature=signature)
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
            mask_crop=self.mask_crop,
            fixed_shapes=self.fixed_shapes,
        )
        return config
