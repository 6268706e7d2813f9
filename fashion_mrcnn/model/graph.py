"""The Mask R-CNN functional graphs (training and inference), Matterport layer names.

The config is unpacked here, once; every layer receives plain arguments. Boxes inside the graph
are normalised ``(y1, x1, y2, x2)`` of the molded image (``ops.boxes.norm_boxes``). Anchors are
computed in numpy for IMAGE_SHAPE and held as a constant by :class:`AnchorsConstant` (both modes).

Over 400 lines: the two graphs share their branches (features, proposals, box and mask
branches), and the small glue layers they alone use (anchors, leading positives, row gathers)
are read best beside the wiring, in both the dynamic and the fixed-shape (JIT_COMPILE) form.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from fashion_mrcnn.model.backbone import build_backbone
from fashion_mrcnn.model.fpn import fpn_graph
from fashion_mrcnn.model.heads import (
    HasClass,
    attribute_head_graph,
    box_head_graph,
    mask_head_graph,
)
from fashion_mrcnn.model.norm import config_norm
from fashion_mrcnn.model.rpn import rpn_graph
from fashion_mrcnn.ops.anchors import get_anchors
from fashion_mrcnn.ops.image import parse_image_meta_tf

# The detection layer keeps everything scoring at least this (or the config's lower value);
# ``MaskRCNN.detect`` then applies DETECTION_MIN_CONFIDENCE or a per-call value. Filtering after
# per-class NMS and top-k by score gives the same result as filtering before.
DETECTION_SCORE_FLOOR = 0.05


def detection_score_floor(min_confidence: float) -> float:
    """The lowest score the detection layer keeps for a model asked for ``min_confidence``:
    ``DETECTION_SCORE_FLOOR``, or ``min_confidence`` where that is lower."""
    return min(float(min_confidence), DETECTION_SCORE_FLOOR)


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class AnchorsConstant(keras.layers.Layer):
    """Holds the pyramid anchors of the molded image as a constant.

    Call on any ``[B, ...]`` tensor (the image); returns float32 ``[B, A, 4]`` normalised anchors
    (the same for every image). The anchors are recomputed from the plain arguments in
    ``get_config`` (cheap, cached), so they never enter a weights file.
    """

    def __init__(self, image_shape, scales, ratios, strides, anchor_stride=1, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = [int(v) for v in image_shape[:2]]
        self.scales = [float(s) for s in scales]
        self.ratios = [float(r) for r in ratios]
        self.strides = [int(s) for s in strides]
        self.anchor_stride = int(anchor_stride)
        self.anchors = get_anchors(
            self.image_shape, self.scales, self.ratios, self.strides, self.anchor_stride
        ).astype(np.float32)

    def call(self, image):
        anchors = ops.convert_to_tensor(self.anchors, dtype="float32")
        batch = ops.shape(image)[0]
        return ops.broadcast_to(anchors[None], (batch,) + tuple(self.anchors.shape))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(self.anchors.shape)

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "scales": self.scales,
            "ratios": self.ratios,
            "strides": self.strides,
            "anchor_stride": self.anchor_stride,
        }


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class MetaActiveClasses(keras.layers.Layer):
    """``image_meta [B, 12 + K] -> active_class_ids float32 [B, K]`` (``parse_image_meta_tf``)."""

    def call(self, meta):
        return parse_image_meta_tf(meta)["active_class_ids"]


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class DetectionBoxes(keras.layers.Layer):
    """``detections [B, D, 6] -> boxes [B, D, 4]`` (the normalised box columns)."""

    def call(self, detections):
        return detections[..., :4]


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class LeadingPositives(keras.layers.Layer):
    """``(x [B, T, ...], target_class_ids [B, T]) -> x[:, :n]``: the slots the mask branch sees.

    DetectionTargetLayer puts each image's positive ROIs first (at most :func:`positive_slots`),
    so ``n`` = the largest positive count in the batch (at least 1) covers every positive.
    RoIAlign then crops ``n`` boxes per image instead of a fixed ``positive_slots``, and the
    mask head's convolutions run on the positives among them only (``heads.HasClass``), as
    torchvision's run on its positives. The count is dynamic, which XLA cannot compile; with
    ``slots`` (fixed shapes, ``Config.JIT_COMPILE``) ``n`` is that constant instead
    (:func:`positive_slots`: every slot a positive can take).

    numpy: ``n = slots or max(1, (ids > 0).sum(axis=1).max()); x[:, :n]``.
    """

    def __init__(self, slots: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.slots = None if slots is None else int(slots)

    def call(self, x, target_class_ids):
        if self.slots is not None:
            return x[:, : self.slots]
        positives = ops.sum(ops.cast(target_class_ids > 0, "int32"), axis=1)
        count = ops.maximum(ops.max(positives), 1)
        return x[:, :count]

    def compute_output_shape(self, x_shape, target_class_ids_shape):
        return (x_shape[0], self.slots, *x_shape[2:])

    def get_config(self):
        return {**super().get_config(), "slots": self.slots}


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class GatherRows(keras.layers.Layer):
    """``(x [B, N, A], rows int32 [B, D]) -> [B, D, A]``: row ``rows[b, d]`` of ``x[b]``, zeros
    where ``rows[b, d] < 0`` (the detections' padding).

    numpy: ``out[b, d] = x[b, rows[b, d]] if rows[b, d] >= 0 else 0``.
    """

    def call(self, x, rows):
        rows = ops.cast(rows, "int32")
        taken = ops.take_along_axis(x, ops.expand_dims(ops.maximum(rows, 0), -1), axis=1)
        return taken * ops.cast(ops.expand_dims(rows >= 0, -1), x.dtype)

    def compute_output_shape(self, x_shape, rows_shape):
        return (x_shape[0], rows_shape[1], x_shape[2])


def positive_slots(config) -> int:
    """How many leading training ROIs can be positive (the mask head's ROI count)."""
    return max(1, int(config.TRAIN_ROIS_PER_IMAGE * config.ROI_POSITIVE_RATIO))


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class CastFloat(keras.layers.Layer):
    """Cast any tensor to float32 (used for the uint8 ground-truth masks)."""

    def call(self, x):
        return ops.cast(x, "float32")


def _gt_mask_shape(config):
    if config.USE_MINI_MASK:
        return tuple(int(v) for v in config.MINI_MASK_SHAPE)
    return int(config.IMAGE_SHAPE[0]), int(config.IMAGE_SHAPE[1])


def _features(input_image, config):
    """Backbone + FPN + RPN: (P2..P5 list, P2..P6 list, rpn logits, rpn probs, rpn bbox)."""
    c2, c3, c4, c5 = build_backbone(input_image, config)
    pyramid = fpn_graph(c2, c3, c4, c5, size=config.TOP_DOWN_PYRAMID_SIZE)
    rpn_logits, rpn_probs, rpn_bbox = rpn_graph(
        pyramid,
        config.RPN_ANCHOR_STRIDE,
        len(config.RPN_ANCHOR_RATIOS),
        config.TOP_DOWN_PYRAMID_SIZE,
        config.RPN_CONV_CHANNELS,
    )
    return pyramid[:4], rpn_logits, rpn_probs, rpn_bbox


def _anchors(input_image, config):
    return AnchorsConstant(
        config.IMAGE_SHAPE,
        config.RPN_ANCHOR_SCALES,
        config.RPN_ANCHOR_RATIOS,
        config.BACKBONE_STRIDES,
        config.RPN_ANCHOR_STRIDE,
        name="anchors",
    )(input_image)


def _image_input(config):
    h, w = int(config.IMAGE_SHAPE[0]), int(config.IMAGE_SHAPE[1])
    image = keras.Input((h, w, int(config.IMAGE_SHAPE[2])), name="input_image")
    meta = keras.Input((config.IMAGE_META_SIZE,), name="input_image_meta")
    return image, meta


def build_training_graph(config) -> keras.Model:
    """The training graph.

    Inputs (per image; see ``data.pipeline``): ``input_image`` float32 [H, W, 3],
    ``input_image_meta`` [M], ``input_gt_class_ids`` int32 [G], ``input_gt_boxes`` [G, 4]
    normalised, ``input_gt_masks`` uint8 [mh, mw, G], ``input_gt_mask_valid`` [G]. The RPN
    targets of a batch (``input_rpn_match``, ``input_rpn_bbox``) are not graph inputs: nothing in
    the network reads them, only the losses (``training.compute_losses``), which take them from
    the batch. (An input that only passed through to an output is rejected by Keras <= 3.10's
    functional-model check, "inputs not connected to outputs".)

    Outputs (dict): ``rpn_class_logits`` [B, A, 2], ``rpn_bbox`` [B, A, 4], ``rpn_rois``
    [B, POST_NMS_ROIS_TRAINING, 4], ``rois`` [B, T, 4], ``target_class_ids`` int32 [B, T],
    ``target_deltas`` [B, T, 4], ``target_masks`` [B, P, MH, MW], ``target_mask_valid`` [B, P],
    ``mask_target_class_ids`` int32 [B, P] (P = the batch's largest positive count, at most
    :func:`positive_slots`: the mask branch runs on the leading, positive, ROIs only;
    :class:`LeadingPositives`), ``mask_head_rows`` bool [B, P] (the rows the mask head's
    convolutions ran on: the positives, or one row when there is none),
    ``mrcnn_class_logits`` [B, T, K], ``mrcnn_class`` [B, T, K], ``mrcnn_bbox`` [B, T, K, 4],
    ``mrcnn_mask`` [B, P, MH, MW, K], ``active_class_ids`` [B, K].

    With the attribute head (NUM_ATTRIBUTES A > 0; else the graph is exactly the one above):
    inputs ``input_gt_attributes`` uint8 [G, A] and ``input_gt_attribute_valid`` [G]
    (``data.pipeline``), outputs ``target_attributes`` [B, T, A], ``target_attribute_weight``
    [B, T], ``mrcnn_attr_logits`` [B, T, A] and ``mrcnn_attr`` [B, T, A] (sigmoid).
    """
    from fashion_mrcnn.layers import DetectionTargetLayer, PyramidROIAlign

    norm = config_norm(config)
    g = config.MAX_GT_INSTANCES
    image, meta = _image_input(config)
    gt_class_ids = keras.Input((g,), dtype="int32", name="input_gt_class_ids")
    gt_boxes = keras.Input((g, 4), name="input_gt_boxes")
    gt_masks = keras.Input(_gt_mask_shape(config) + (g,), dtype="uint8", name="input_gt_masks")
    gt_mask_valid = keras.Input((g,), name="input_gt_mask_valid")
    n_attr = int(config.NUM_ATTRIBUTES)
    attr_inputs = {}
    if n_attr:
        attr_inputs = {
            "input_gt_attributes": keras.Input(
                (g, n_attr), dtype="uint8", name="input_gt_attributes"
            ),
            "input_gt_attribute_valid": keras.Input((g,), name="input_gt_attribute_valid"),
        }

    p2_p5, rpn_logits, rpn_probs, rpn_bbox = _features(image, config)
    rpn_rois = _proposals(image, rpn_probs, rpn_bbox, config, config.POST_NMS_ROIS_TRAINING)
    masks_f = CastFloat(name="gt_masks_float")(gt_masks)
    target_inputs = [rpn_rois, gt_class_ids, gt_boxes, masks_f, gt_mask_valid]
    if n_attr:
        target_inputs += [
            CastFloat(name="gt_attributes_float")(attr_inputs["input_gt_attributes"]),
            attr_inputs["input_gt_attribute_valid"],
        ]
    targets = DetectionTargetLayer(
        train_rois_per_image=config.TRAIN_ROIS_PER_IMAGE,
        roi_positive_ratio=config.ROI_POSITIVE_RATIO,
        mask_shape=[int(v) for v in config.MASK_SHAPE],
        bbox_std_dev=np.asarray(config.BBOX_STD_DEV, dtype=float).tolist(),
        use_mini_mask=bool(config.USE_MINI_MASK),
        num_attributes=n_attr,
        mask_crop=config.ROI_ALIGN,
        fixed_shapes=bool(config.JIT_COMPILE),
        name="proposal_targets",
    )(target_inputs)
    rois, target_class_ids, target_deltas, target_masks, target_mask_valid = targets[:5]
    slots = positive_slots(config) if config.JIT_COMPILE else None
    mask_rois = LeadingPositives(slots, name="mask_rois")(rois, target_class_ids)
    mask_ids = LeadingPositives(slots, name="mask_target_class_ids")(
        target_class_ids, target_class_ids
    )
    class_logits, class_probs, bbox, *attr = _box_branch(rois, p2_p5, config, norm, PyramidROIAlign)
    keep = HasClass(name="mask_head_rows")(mask_ids)
    mask = _mask_branch(mask_rois, p2_p5, config, norm, PyramidROIAlign, keep)
    outputs = {
        "rpn_class_logits": rpn_logits,
        "rpn_bbox": rpn_bbox,
        "rpn_rois": rpn_rois,
        "rois": rois,
        "target_class_ids": target_class_ids,
        "target_deltas": target_deltas,
        "target_masks": LeadingPositives(slots, name="mask_targets")(
            target_masks, target_class_ids
        ),
        "target_mask_valid": LeadingPositives(slots, name="mask_targets_valid")(
            target_mask_valid, target_class_ids
        ),
        "mask_target_class_ids": mask_ids,
        "mask_head_rows": keep,
        "mrcnn_class_logits": class_logits,
        "mrcnn_class": class_probs,
        "mrcnn_bbox": bbox,
        "mrcnn_mask": mask,
        "active_class_ids": MetaActiveClasses(name="active_class_ids")(meta),
    }
    if n_attr:
        outputs.update(
            target_attributes=targets[5],
            target_attribute_weight=targets[6],
            mrcnn_attr_logits=attr[0],
            mrcnn_attr=attr[1],
        )
    inputs = {
        "input_image": image,
        "input_image_meta": meta,
        "input_gt_class_ids": gt_class_ids,
        "input_gt_boxes": gt_boxes,
        "input_gt_masks": gt_masks,
        "input_gt_mask_valid": gt_mask_valid,
        **attr_inputs,
    }
    return keras.Model(inputs, outputs, name="mask_rcnn")


def _proposals(image, rpn_probs, rpn_bbox, config, proposal_count):
    """The ``ROI`` layer over the model's constant anchors: ``[B, proposal_count, 4]``."""
    from fashion_mrcnn.layers import ProposalLayer

    return ProposalLayer(
        proposal_count=proposal_count,
        nms_threshold=config.RPN_NMS_THRESHOLD,
        pre_nms_limit=config.PRE_NMS_LIMIT,
        rpn_bbox_std_dev=np.asarray(config.RPN_BBOX_STD_DEV, dtype=float).tolist(),
        name="ROI",
    )([rpn_probs, rpn_bbox, _anchors(image, config)])


def _box_branch(rois, p2_p5, config, norm, roi_align_cls):
    """ROI align at POOL_SIZE + box head: ``(class_logits, class_probs, bbox)``, then, with the
    attribute head (NUM_ATTRIBUTES > 0), ``attr_logits, attr_probs [B, N, A]``."""
    image_shape = [int(v) for v in config.IMAGE_SHAPE]
    pooled = roi_align_cls(
        [config.POOL_SIZE, config.POOL_SIZE],
        image_shape,
        method=config.ROI_ALIGN,
        name="roi_align_classifier",
    )([rois] + list(p2_p5))
    n_attr = int(config.NUM_ATTRIBUTES)
    heads = box_head_graph(
        pooled,
        config.NUM_CLASSES,
        config.FPN_CLASSIF_FC_LAYERS_SIZE,
        norm,
        conv_head=bool(config.BOX_HEAD_CONV),
        return_features=bool(n_attr),
    )
    if not n_attr:
        return heads
    logits, probs, bbox, features = heads
    attr = attribute_head_graph(features, pooled, n_attr, config.FPN_CLASSIF_FC_LAYERS_SIZE)
    return (logits, probs, bbox, *attr)


def _mask_branch(boxes, p2_p5, config, norm, roi_align_cls, keep=None):
    """ROI align at MASK_POOL_SIZE + mask head on the ``keep`` rows (on all rows under
    JIT_COMPILE, fixed shapes): ``mrcnn_mask [B, N, MH, MW, K]`` (zeros where not kept)."""
    image_shape = [int(v) for v in config.IMAGE_SHAPE]
    mask_pooled = roi_align_cls(
        [config.MASK_POOL_SIZE, config.MASK_POOL_SIZE],
        image_shape,
        method=config.ROI_ALIGN,
        name="roi_align_mask",
    )([boxes] + list(p2_p5))
    return mask_head_graph(
        mask_pooled,
        config.NUM_CLASSES,
        config.MASK_HEAD_CHANNELS,
        norm,
        keep=keep,
        all_rows=bool(config.JIT_COMPILE),
    )


def build_inference_graph(config) -> keras.Model:
    """The inference graph.

    Inputs: ``input_image`` float32 [B, H, W, 3] (molded), ``input_image_meta`` [B, M]; any B.
    Outputs (dict): ``detections`` [B, D, (y1, x1, y2, x2, class_id, score)] normalised,
    zero-padded (D = DETECTION_MAX_INSTANCES; scores >= min(DETECTION_MIN_CONFIDENCE,
    DETECTION_SCORE_FLOOR)), ``mrcnn_mask`` [B, D, MH, MW, K], ``mrcnn_class`` [B, N, K],
    ``mrcnn_bbox`` [B, N, K, 4], ``rpn_rois`` [B, N, 4] (N = POST_NMS_ROIS_INFERENCE),
    ``rpn_class`` [B, A, 2], ``rpn_bbox`` [B, A, 4]; with the attribute head (NUM_ATTRIBUTES
    A > 0) also ``mrcnn_attr`` [B, D, A]: each detection's attribute probabilities (those of
    the ROI it came from; zeros on padding rows).
    """
    from fashion_mrcnn.layers import DetectionLayer, PyramidROIAlign

    norm = config_norm(config)
    image, meta = _image_input(config)
    p2_p5, _, rpn_probs, rpn_bbox = _features(image, config)
    rpn_rois = _proposals(image, rpn_probs, rpn_bbox, config, config.POST_NMS_ROIS_INFERENCE)
    _, class_probs, bbox, *attr = _box_branch(rpn_rois, p2_p5, config, norm, PyramidROIAlign)
    detections = DetectionLayer(
        bbox_std_dev=np.asarray(config.BBOX_STD_DEV, dtype=float).tolist(),
        min_confidence=detection_score_floor(config.DETECTION_MIN_CONFIDENCE),
        max_instances=config.DETECTION_MAX_INSTANCES,
        nms_threshold=config.DETECTION_NMS_THRESHOLD,
        return_rows=bool(attr),
        fixed_shapes=bool(config.JIT_COMPILE),
        name="mrcnn_detection",
    )([rpn_rois, class_probs, bbox, meta])
    if attr:
        detections, rows = detections
        attr_det = GatherRows(name="mrcnn_attr_detections")(attr[1], rows)
    boxes = DetectionBoxes(name="detection_boxes")(detections)
    real = HasClass(column=4, name="detection_real")(detections)
    mask = _mask_branch(boxes, p2_p5, config, norm, PyramidROIAlign, real)
    outputs = {
        "detections": detections,
        "mrcnn_mask": mask,
        "mrcnn_class": class_probs,
        "mrcnn_bbox": bbox,
        "rpn_rois": rpn_rois,
        "rpn_class": rpn_probs,
        "rpn_bbox": rpn_bbox,
    }
    if attr:
        outputs["mrcnn_attr"] = attr_det
    return keras.Model({"input_image": image, "input_image_meta": meta}, outputs, name="mask_rcnn")
