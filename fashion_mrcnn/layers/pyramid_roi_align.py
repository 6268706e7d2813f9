"""PyramidROIAlign: pool each box from the FPN level that matches its size.

Its numpy reference (level assignment + ``ops.roi_align.crop_and_resize_np``) is
``tests/reference/pyramid_roi_align.py``. Two crops give the same values (float rounding
apart): ``method="crop_and_resize"`` (``tf.image.crop_and_resize`` per level, the boxes of a
level picked by ``tf.where`` and put back by ``tf.scatter_nd``) and ``method="xla"``
(``ops.roi_align.multilevel_crop_and_resize_xla``: every box from its level in one gather, static
shapes, compiled by XLA).
"""

from __future__ import annotations

import keras

from fashion_mrcnn.constants import ROI_ALIGN_METHODS
from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.ops.roi_align import (
    multilevel_crop_and_resize_xla,
    roi_align_tf,
    roi_levels_tf,
)
from fashion_mrcnn.ops.shapes import with_static_shape

LEVELS = (2, 3, 4, 5)


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class PyramidROIAlign(keras.layers.Layer):
    """ROI Align over the feature pyramid (FPN paper, eq. 1).

    Each box goes to level ``clip(4 + round(log2(sqrt(h * w) / (224 / sqrt(H * W)))), 2, 5)``
    (h, w: normalised box size; H, W = image_shape[:2]; ``canonical_size`` replaces 224 when
    given, e.g. ``224 * H / 1024`` lets small images use every level) and is bilinearly resampled from that
    level to ``pool_shape`` (``tf.image.crop_and_resize``, one sample per cell). Zero-area
    (padding) boxes go to level 2. Gradients flow into the feature maps, not the boxes.

    ``method``: ``"crop_and_resize"`` raises ``tf.errors.InvalidArgumentError`` naming
    ``ops.roi_align.NON_FINITE_BOXES`` on a NaN / inf box; ``"xla"`` (XLA compiles it) gives
    that box a NaN output instead (``Config.ROI_ALIGN``).

    Inputs: ``[boxes [B, N, 4] normalised, P2, P3, P4, P5 ([B, h_l, w_l, C])]``.
    Output: float32 [B, N, pool_h, pool_w, C], in box order.
    """

    def __init__(
        self,
        pool_shape,
        image_shape,
        canonical_size: float = 224.0,
        method: str = "crop_and_resize",
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if method not in ROI_ALIGN_METHODS:
            raise ConfigError(
                f"PyramidROIAlign method must be one of {ROI_ALIGN_METHODS}, got {method!r}"
            )
        self.pool_shape = [int(v) for v in pool_shape]
        self.image_shape = [int(v) for v in image_shape]
        self.canonical_size = float(canonical_size)
        self.method = method

    def call(self, inputs):
        import tensorflow as tf

        boxes = tf.cast(inputs[0], tf.float32)
        feature_maps = inputs[1:]
        levels = roi_levels_tf(boxes, self.image_shape, self.canonical_size)  # [B, N]
        if self.method == "xla":
            return self._gathered(tf, boxes, levels, feature_maps)
        batch = tf.shape(boxes)[0]
        n = tf.shape(boxes)[1]
        channels = feature_maps[0].shape[-1]
        positions, pooled = [], []
        for level, fm in zip(LEVELS, feature_maps):
            ix = tf.where(tf.equal(levels, level))  # [K, 2] (batch, box)
            level_boxes = tf.gather_nd(boxes, ix)
            crops = roi_align_tf(
                tf.cast(fm, tf.float32), level_boxes, tf.cast(ix[:, 0], tf.int32), self.pool_shape
            )
            positions.append(ix)
            pooled.append(crops)
        shape = tf.stack([tf.cast(batch, tf.int64), tf.cast(n, tf.int64)])
        shape = tf.concat([shape, tf.constant(self.pool_shape + [channels], tf.int64)], axis=0)
        out = tf.scatter_nd(tf.concat(positions, 0), tf.concat(pooled, 0), shape)
        return with_static_shape(out, [None, boxes.shape[1]] + self.pool_shape + [channels])

    def _gathered(self, tf, boxes, levels, feature_maps):
        """``method="xla"``: all B * N boxes from their levels in one crop, in box order."""
        batch, n = tf.shape(boxes)[0], tf.shape(boxes)[1]
        channels = feature_maps[0].shape[-1]
        image_of_box = tf.reshape(tf.broadcast_to(tf.range(batch)[:, None], [batch, n]), [-1])
        crops = multilevel_crop_and_resize_xla(
            [tf.cast(fm, tf.float32) for fm in feature_maps],
            tf.reshape(boxes, [-1, 4]),
            image_of_box,
            tf.reshape(levels, [-1]) - LEVELS[0],
            self.pool_shape,
        )
        out = tf.reshape(crops, tf.concat([[batch, n], tf.shape(crops)[1:]], axis=0))
        return with_static_shape(out, [None, boxes.shape[1]] + self.pool_shape + [channels])

    def compute_output_shape(self, input_shape):
        boxes_shape, fm_shape = input_shape[0], input_shape[1]
        return (boxes_shape[0], boxes_shape[1], *self.pool_shape, fm_shape[-1])

    def compute_output_spec(self, inputs):
        shape = self.compute_output_shape([inputs[0].shape, inputs[1].shape])
        return keras.KerasTensor(shape, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            pool_shape=self.pool_shape,
            image_shape=self.image_shape,
            canonical_size=self.canonical_size,
            method=self.method,
        )
        return config
