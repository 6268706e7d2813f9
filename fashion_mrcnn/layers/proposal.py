"""ProposalLayer: RPN scores and deltas on the anchors -> NMS-filtered region proposals.

All boxes are normalised ``(y1, x1, y2, x2)`` of the molded image (``ops.boxes.norm_boxes``).
Its numpy reference, which the tests compare it with, is ``tests/reference/proposal.py``.
"""

from __future__ import annotations

import keras
import numpy as np

from fashion_mrcnn.ops.boxes import apply_deltas_tf, clip_boxes_tf
from fashion_mrcnn.ops.nms import nms_padded_tf


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class ProposalLayer(keras.layers.Layer):
    """Select region proposals from the RPN output.

    Per image: the ``pre_nms_limit`` anchors with the highest foreground score get their
    deltas (times ``rpn_bbox_std_dev``) applied, are clipped to [0, 1] and go through NMS at
    ``nms_threshold``; the first ``proposal_count`` survivors are kept, zero-padded.

    Inputs: ``[rpn_probs [B, A, 2], rpn_bbox [B, A, 4], anchors [B, A, 4] (or [A, 4])]``,
    anchors normalised. Output: proposals float32 [B, proposal_count, 4], normalised, by
    decreasing score. No gradient flows through the proposals.
    """

    def __init__(
        self,
        proposal_count: int,
        nms_threshold: float,
        pre_nms_limit: int,
        rpn_bbox_std_dev,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        kwargs.setdefault("name", "ROI")
        super().__init__(**kwargs)
        self.proposal_count = int(proposal_count)
        self.nms_threshold = float(nms_threshold)
        self.pre_nms_limit = int(pre_nms_limit)
        self.rpn_bbox_std_dev = [float(v) for v in np.asarray(rpn_bbox_std_dev).reshape(-1)]

    def call(self, inputs):
        import tensorflow as tf

        rpn_probs, rpn_bbox, anchors = inputs
        scores = tf.cast(rpn_probs[..., 1], tf.float32)
        deltas = tf.cast(rpn_bbox, tf.float32) * tf.constant(self.rpn_bbox_std_dev)
        anchors = tf.cast(anchors, tf.float32)
        if anchors.shape.rank == 2:
            anchors = tf.broadcast_to(anchors[None], tf.shape(deltas))
        k = tf.minimum(self.pre_nms_limit, tf.shape(scores)[1])
        top = tf.math.top_k(scores, k, sorted=True)
        deltas = tf.gather(deltas, top.indices, batch_dims=1)
        anchors = tf.gather(anchors, top.indices, batch_dims=1)
        boxes = apply_deltas_tf(anchors, deltas)
        boxes = clip_boxes_tf(boxes, tf.constant([0.0, 0.0, 1.0, 1.0]))
        count = self.proposal_count

        def one_image(args):
            b, s = args
            idx, _ = nms_padded_tf(b, s, count, self.nms_threshold)
            picked = tf.gather(b, tf.maximum(idx, 0))
            return picked * tf.cast(idx >= 0, tf.float32)[:, None]

        out = tf.map_fn(
            one_image,
            (boxes, top.values),
            fn_output_signature=tf.TensorSpec([count, 4], tf.float32),
        )
        return tf.stop_gradient(out)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.proposal_count, 4)

    def compute_output_spec(self, inputs):
        batch = inputs[0].shape[0]
        return keras.KerasTensor((batch, self.proposal_count, 4), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            proposal_count=self.proposal_count,
            nms_threshold=self.nms_threshold,
            pre_nms_limit=self.pre_nms_limit,
            rpn_bbox_std_dev=self.rpn_bbox_std_dev,
        )
        return config
