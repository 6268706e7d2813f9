"""Region Proposal Network: one small shared model applied to every pyramid level.

The nested keras Model ``rpn_model`` (Matterport name, so ``mask_rcnn_coco.h5`` binds) holds
``rpn_conv_shared`` (3x3, ``channels`` = RPN_CONV_CHANNELS: Matterport's 512, ReLU), ``rpn_class_raw`` (1x1, 2A logits) and ``rpn_bbox_pred``
(1x1, 4A deltas), A = anchors per location (len(RPN_ANCHOR_RATIOS)). Anchor order within a level is
(y, x, anchor), matching ``ops.anchors.generate_pyramid_anchors`` with RPN_ANCHOR_STRIDE 1.
"""

from __future__ import annotations

import keras


def build_rpn_model(
    anchor_stride: int, anchors_per_location: int, depth: int, channels: int = 512
) -> keras.Model:
    """The shared RPN model (``channels``: filters of ``rpn_conv_shared``).

    Input ``[B, h, w, depth]`` feature map. Outputs ``rpn_class_logits [B, h*w*A, 2]`` (bg, fg),
    ``rpn_probs [B, h*w*A, 2]`` (softmax), ``rpn_bbox [B, h*w*A, 4]`` deltas
    ``(dy, dx, log dh, log dw)`` still divided by RPN_BBOX_STD_DEV.
    """
    a = anchors_per_location
    fmap = keras.Input(shape=(None, None, depth), name="input_rpn_feature_map")
    shared = keras.layers.Conv2D(
        channels,
        3,
        padding="same",
        activation="relu",
        strides=anchor_stride,
        name="rpn_conv_shared",
    )(fmap)
    x = keras.layers.Conv2D(2 * a, 1, name="rpn_class_raw")(shared)
    logits = keras.layers.Reshape((-1, 2), name="rpn_class_reshape")(x)
    probs = keras.layers.Activation("softmax", dtype="float32", name="rpn_class_xxx")(logits)
    x = keras.layers.Conv2D(4 * a, 1, name="rpn_bbox_pred")(shared)
    bbox = keras.layers.Reshape((-1, 4), name="rpn_bbox_reshape")(x)
    return keras.Model(fmap, [logits, probs, bbox], name="rpn_model")


def rpn_graph(
    feature_maps, anchor_stride: int, anchors_per_location: int, depth: int, channels: int = 512
):
    """Apply one shared ``rpn_model`` to P2..P6 and concatenate over levels.

    Returns ``(rpn_class_logits [B, A_total, 2], rpn_class [B, A_total, 2], rpn_bbox
    [B, A_total, 4])``, float32, levels in P2..P6 order (the anchor order).
    """
    rpn = build_rpn_model(anchor_stride, anchors_per_location, depth, channels)
    per_level = [rpn(p) for p in feature_maps]
    names = ("rpn_class_logits", "rpn_class", "rpn_bbox")
    outs = []
    for i, name in enumerate(names):
        cat = keras.layers.Concatenate(axis=1, name=name + "_concat")([lv[i] for lv in per_level])
        outs.append(keras.layers.Activation("linear", dtype="float32", name=name)(cat))
    return tuple(outs)
