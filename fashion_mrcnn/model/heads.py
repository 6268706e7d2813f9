"""Box (classifier) head and mask head, applied to ROI-aligned features.

Matterport wrapped every per-ROI layer in ``TimeDistributed``; here the ROI axis is folded into the
batch (``[B, N, ...] -> [B * N, ...]``) around ordinary layers carrying the same names and weight
shapes, so ``mask_rcnn_coco.h5`` binds: ``mrcnn_class_conv1`` kernel ``[pool, pool, C, fc]``,
``mrcnn_class_conv2`` ``[1, 1, fc, fc]``, ``mrcnn_class_logits`` ``[fc, K]``, ``mrcnn_bbox_fc``
``[fc, 4K]``, ``mrcnn_mask_conv1..4`` ``[3, 3, C, ch]``, ``mrcnn_mask_deconv`` ``[2, 2, ch, ch]``,
``mrcnn_mask`` ``[1, 1, ch, K]``. The optional attribute head (:func:`attribute_head_graph`,
Attribute-Mask R-CNN) adds ``mrcnn_attr_fc`` ``[fc, fc]`` and ``mrcnn_attr_logits`` ``[fc, A]``
(:data:`ATTRIBUTE_LAYERS`), absent from Matterport's files.
"""

from __future__ import annotations

import keras
from keras import ops

from fashion_mrcnn.model.norm import norm_layer

#: The attribute head's weighted layers (a weights file made without the head lacks them).
ATTRIBUTE_LAYERS = ("mrcnn_attr_fc", "mrcnn_attr_logits")


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class MergeRois(keras.layers.Layer):
    """``[B, N, *S] -> [B * N, *S]`` (fold the ROI axis into the batch axis).

    With ``keep`` (bool ``[B, N]``) only the kept rows: ``[K, *S]``, K = ``keep.sum()``, in
    row-major order (numpy: ``x[keep]``), so a head runs on real RoIs only. With ``all_rows``
    (fixed shapes, for XLA: ``Config.JIT_COMPILE``) ``keep`` is ignored: every row, ``[B * N,
    *S]``.
    """

    def __init__(self, all_rows: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.all_rows = bool(all_rows)

    def call(self, x, keep=None):
        if keep is not None and not self.all_rows:
            import tensorflow as tf

            return tf.boolean_mask(x, keep)
        shape = ops.shape(x)
        return ops.reshape(x, (-1,) + tuple(shape[2:]))

    def compute_output_shape(self, x_shape, keep_shape=None):
        return (None,) + tuple(x_shape[2:])

    def get_config(self):
        return {**super().get_config(), "all_rows": self.all_rows}


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class SplitRois(keras.layers.Layer):
    """``(x [B * N, *S], reference [B, N, ...]) -> [B, N, *S]`` (undo :class:`MergeRois`).

    With ``keep``: ``x`` is ``[K, *S]`` (the kept rows) and the rows not kept are zeros (numpy:
    ``out = zeros((B, N, *S)); out[keep] = x``). With ``all_rows`` (:class:`MergeRois`'s), ``x``
    is every row, ``[B * N, *S]``, and the rows not kept are zeroed (numpy: ``out = x.reshape(B,
    N, *S) * keep[..., None, ...]``): the same result in fixed shapes.
    """

    def __init__(self, all_rows: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.all_rows = bool(all_rows)

    def call(self, x, reference, keep=None):
        ref = ops.shape(reference)
        if keep is not None and self.all_rows:
            out = ops.reshape(x, (ref[0], ref[1]) + tuple(ops.shape(x)[1:]))
            kept = ops.cast(keep, out.dtype)
            for _ in range(len(out.shape) - 2):
                kept = ops.expand_dims(kept, -1)
            return out * kept
        if keep is not None:
            import tensorflow as tf

            shape = tf.concat([tf.shape(keep, out_type=tf.int64), tf.shape(x, tf.int64)[1:]], 0)
            return tf.scatter_nd(tf.where(keep), x, shape)
        return ops.reshape(x, (ref[0], ref[1]) + tuple(ops.shape(x)[1:]))

    def compute_output_shape(self, x_shape, reference_shape, keep_shape=None):
        return tuple(reference_shape[:2]) + tuple(x_shape[1:])

    def get_config(self):
        return {**super().get_config(), "all_rows": self.all_rows}


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class HasClass(keras.layers.Layer):
    """``ids [B, N] -> bool [B, N]``: ``ids > 0`` (a positive RoI, a real detection).

    When no id is positive, row ``[0, 0]`` is kept all the same: a head then runs on one row
    rather than none (TensorFlow's CPU convolution mis-shapes an empty batch). ``column``: read
    the ids from ``x[..., column]`` (the detections' class column).

    numpy: ``keep = ids > 0; keep[0, 0] |= not keep.any()``.
    """

    def __init__(self, column: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.column = None if column is None else int(column)

    def call(self, x):
        ids = x if self.column is None else x[..., self.column]
        keep = ops.greater(ids, 0)
        shape = ops.shape(keep)
        first = ops.logical_and(
            ops.expand_dims(ops.equal(ops.arange(shape[0]), 0), 1),
            ops.expand_dims(ops.equal(ops.arange(shape[1]), 0), 0),
        )
        return ops.logical_or(keep, ops.logical_and(first, ops.logical_not(ops.any(keep))))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape if self.column is None else input_shape[:-1])

    def compute_output_spec(self, x):
        return keras.KerasTensor(self.compute_output_shape(x.shape), dtype="bool")

    def get_config(self):
        return {**super().get_config(), "column": self.column}


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class WindowConv(keras.layers.Conv2D):
    """A ``Conv2D`` whose kernel covers its whole input (valid padding): ``x [N, kh, kw, C] ->
    [N, 1, 1, F]``, computed as one matrix product of the flattened window and the flattened
    kernel. The kernel keeps Conv2D's shape ``[kh, kw, C, F]`` (so Matterport's box head binds);
    a 7 x 7 "convolution" over a 7 x 7 input ran 2-4x slower than the same product as a matmul
    on oneDNN (``bench/results/profile_vs_tv.md``: box head 577 ms against torchvision's 206 ms
    at 512 px, same FLOPs).

    numpy: ``x.reshape(N, -1) @ kernel.reshape(-1, F) + bias``, then the activation.
    """

    def build(self, input_shape):
        window = tuple(input_shape[1:3])
        if window != tuple(self.kernel_size) or self.padding != "valid" or self.strides != (1, 1):
            raise ValueError(
                f"{self.name}: WindowConv needs a kernel covering its input, valid padding and "
                f"stride 1; got input {window}, kernel {self.kernel_size}, {self.padding}"
            )
        super().build(input_shape)

    def call(self, inputs):
        kh, kw, c, f = (int(v) for v in self.kernel.shape)
        flat = ops.reshape(inputs, (-1, kh * kw * c))
        y = ops.matmul(flat, ops.reshape(self.kernel, (kh * kw * c, f)))
        if self.use_bias:
            y = y + self.bias
        if self.activation is not None:
            y = self.activation(y)
        return ops.reshape(y, (-1, 1, 1, f))


def box_head_graph(
    pooled,
    num_classes: int,
    fc_size: int,
    norm: str,
    conv_head: bool = True,
    return_features: bool = False,
):
    """Classifier + box regression head.

    ``pooled``: ``[B, N, pool, pool, C]`` ROI-aligned features. Returns
    ``mrcnn_class_logits [B, N, K]``, ``mrcnn_class [B, N, K]`` (softmax), ``mrcnn_bbox
    [B, N, K, 4]`` deltas ``(dy, dx, log dh, log dw)`` divided by BBOX_STD_DEV, all float32.
    ``conv_head`` True is Matterport's pool x pool conv + 1x1 conv; False flattens and uses two
    Dense layers with the same names (kernel ``[pool * pool * C, fc]``). ``return_features``
    adds a fourth value, the shared features ``[B * N, fc]`` (ROIs folded into the batch) that
    the class and box layers read (the attribute head's input).
    """
    pool = pooled.shape[2]
    x = MergeRois(name="mrcnn_class_merge")(pooled)
    if conv_head:
        x = WindowConv(fc_size, (pool, pool), name="mrcnn_class_conv1")(x)
        x = norm_layer(norm, "mrcnn_class_bn1", fc_size)(x)
        x = keras.layers.Activation("relu")(x)
        x = WindowConv(fc_size, 1, name="mrcnn_class_conv2")(x)
        x = norm_layer(norm, "mrcnn_class_bn2", fc_size)(x)
        x = keras.layers.Activation("relu")(x)
        x = keras.layers.Reshape((fc_size,), name="pool_squeeze")(x)
    else:
        x = keras.layers.Reshape((-1,), name="mrcnn_class_flatten")(x)
        x = keras.layers.Dense(fc_size, name="mrcnn_class_conv1")(x)
        x = norm_layer(norm, "mrcnn_class_bn1", fc_size)(x)
        x = keras.layers.Activation("relu")(x)
        x = keras.layers.Dense(fc_size, name="mrcnn_class_conv2")(x)
        x = norm_layer(norm, "mrcnn_class_bn2", fc_size)(x)
        x = keras.layers.Activation("relu", name="pool_squeeze")(x)
    logits = keras.layers.Dense(num_classes, name="mrcnn_class_logits")(x)
    logits = SplitRois(name="mrcnn_class_logits_split")(logits, pooled)
    logits = keras.layers.Activation("linear", dtype="float32", name="mrcnn_class_logits_f32")(
        logits
    )
    probs = keras.layers.Activation("softmax", dtype="float32", name="mrcnn_class")(logits)
    bbox = keras.layers.Dense(num_classes * 4, name="mrcnn_bbox_fc")(x)
    bbox = keras.layers.Reshape((num_classes, 4), name="mrcnn_bbox_reshape")(bbox)
    bbox = SplitRois(name="mrcnn_bbox_split")(bbox, pooled)
    bbox = keras.layers.Activation("linear", dtype="float32", name="mrcnn_bbox")(bbox)
    if return_features:
        return logits, probs, bbox, x
    return logits, probs, bbox


def attribute_head_graph(features, pooled, num_attributes: int, fc_size: int):
    """Attribute head (Attribute-Mask R-CNN, Fashionpedia): multi-label attributes per ROI.

    ``features``: the box head's shared features ``[B * N, fc]`` (``box_head_graph(...,
    return_features=True)``); ``pooled``: its ``[B, N, ...]`` input (for the ROI axis). One FC
    layer with ReLU, then one logit per attribute. Returns ``mrcnn_attr_logits [B, N, A]`` and
    ``mrcnn_attr [B, N, A]`` (sigmoid), float32.
    """
    x = keras.layers.Dense(fc_size, activation="relu", name="mrcnn_attr_fc")(features)
    logits = keras.layers.Dense(num_attributes, name="mrcnn_attr_logits")(x)
    logits = SplitRois(name="mrcnn_attr_logits_split")(logits, pooled)
    logits = keras.layers.Activation("linear", dtype="float32", name="mrcnn_attr_logits_f32")(
        logits
    )
    probs = keras.layers.Activation("sigmoid", dtype="float32", name="mrcnn_attr")(logits)
    return logits, probs


def mask_head_graph(
    pooled, num_classes: int, channels: int, norm: str, keep=None, all_rows: bool = False
):
    """Mask head: 4 x (3x3 conv + norm + ReLU), 2x deconv, 1x1 sigmoid per class.

    ``pooled``: ``[B, N, mp, mp, C]`` (mp = MASK_POOL_SIZE); ``keep``: optional bool ``[B, N]``,
    the rows worth a mask (positive RoIs, real detections): the convolutions run on those only,
    as torchvision's mask head runs on its positives, and the other rows are zeros. With
    ``all_rows`` (fixed shapes, for XLA) they run on all N rows and the others are zeroed
    after. Returns ``mrcnn_mask [B, N, 2 mp, 2 mp, K]`` float32 probabilities in [0, 1].
    """
    x = MergeRois(all_rows=all_rows, name="mrcnn_mask_merge")(pooled, keep)
    for i in range(1, 5):
        x = keras.layers.Conv2D(channels, 3, padding="same", name=f"mrcnn_mask_conv{i}")(x)
        x = norm_layer(norm, f"mrcnn_mask_bn{i}", channels)(x)
        x = keras.layers.Activation("relu")(x)
    x = keras.layers.Conv2DTranspose(
        channels, 2, strides=2, activation="relu", name="mrcnn_mask_deconv"
    )(x)
    x = keras.layers.Conv2D(num_classes, 1, activation="sigmoid", name="mrcnn_mask")(x)
    x = SplitRois(all_rows=all_rows, name="mrcnn_mask_split")(x, pooled, keep)
    return keras.layers.Activation("linear", dtype="float32", name="mrcnn_mask_f32")(x)
