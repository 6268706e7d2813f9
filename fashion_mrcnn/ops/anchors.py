"""Anchor boxes for the FPN pyramid (numpy; the model holds them as a constant).

Anchor order matches Matterport's (and therefore the RPN head's output order of
``mask_rcnn_coco.h5``): levels P2..P6 in turn; inside a level, rows (y) outer, columns (x), then
ratios fastest. A level has ``ceil(H / stride / anchor_stride) * ceil(W / stride / anchor_stride)
* len(ratios)`` anchors, centred on ``(y, x) * feature_stride`` (the cell's top-left pixel).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from fashion_mrcnn.ops.boxes import norm_boxes


def generate_anchors(
    scale: float,
    ratios: Sequence[float],
    feature_shape: Sequence[int],
    feature_stride: int,
    anchor_stride: int,
) -> np.ndarray:
    """Anchors of one pyramid level.

    scale: the anchor side in pixels for ratio 1 (area ``scale**2`` for every ratio).
    ratios: width / height ratios, e.g. [0.5, 1, 2].
    feature_shape: (rows, cols) of the feature map; feature_stride: its stride in pixels;
    anchor_stride: place anchors on every ``anchor_stride``-th feature cell.
    Returns float32 [rows' * cols' * len(ratios), (y1, x1, y2, x2)] in pixels.
    """
    ratios = np.asarray(ratios, dtype=np.float64)
    heights = scale / np.sqrt(ratios)  # [R]
    widths = scale * np.sqrt(ratios)
    ys = np.arange(0, feature_shape[0], anchor_stride) * feature_stride
    xs = np.arange(0, feature_shape[1], anchor_stride) * feature_stride
    cy = np.broadcast_to(ys[:, None, None], (len(ys), len(xs), len(ratios)))
    cx = np.broadcast_to(xs[None, :, None], cy.shape)
    h = np.broadcast_to(heights[None, None, :], cy.shape)
    w = np.broadcast_to(widths[None, None, :], cy.shape)
    boxes = np.stack([cy - 0.5 * h, cx - 0.5 * w, cy + 0.5 * h, cx + 0.5 * w], axis=-1)
    return boxes.reshape(-1, 4).astype(np.float32)


def generate_pyramid_anchors(
    scales: Sequence[float],
    ratios: Sequence[float],
    feature_shapes: Sequence[Sequence[int]],
    feature_strides: Sequence[int],
    anchor_stride: int,
) -> np.ndarray:
    """Anchors of every level, one scale per level, concatenated in level order.

    Returns float32 [A, (y1, x1, y2, x2)] in pixels.
    """
    if not len(scales) == len(feature_shapes) == len(feature_strides):
        raise ValueError(
            f"need one scale, feature shape and stride per level, got {len(scales)} scales, "
            f"{len(feature_shapes)} shapes and {len(feature_strides)} strides"
        )
    levels = [
        generate_anchors(s, ratios, shape, stride, anchor_stride)
        for s, shape, stride in zip(scales, feature_shapes, feature_strides)
    ]
    return np.concatenate(levels, axis=0)


def compute_backbone_shapes(image_shape: Sequence[int], strides: Sequence[int]) -> np.ndarray:
    """Feature-map (rows, cols) for each stride: int64 [L, 2], ``ceil(side / stride)``."""
    return np.array(
        [[math.ceil(image_shape[0] / s), math.ceil(image_shape[1] / s)] for s in strides],
        dtype=np.int64,
    )


@lru_cache(maxsize=16)
def _cached_anchors(image_hw, scales, ratios, strides, anchor_stride, normalized):
    shapes = compute_backbone_shapes(image_hw, strides)
    anchors = generate_pyramid_anchors(scales, ratios, shapes, strides, anchor_stride)
    if normalized:
        anchors = norm_boxes(anchors, image_hw)
    anchors.setflags(write=False)
    return anchors


def get_anchors(
    image_shape: Sequence[int],
    scales: Sequence[float],
    ratios: Sequence[float],
    strides: Sequence[int],
    anchor_stride: int = 1,
    normalized: bool = True,
) -> np.ndarray:
    """All anchors of a molded image of ``image_shape`` (H, W[, C]).

    Matterport's ``MaskRCNN.get_anchors`` with the config fields passed explicitly:
    ``get_anchors(config.IMAGE_SHAPE, config.RPN_ANCHOR_SCALES, config.RPN_ANCHOR_RATIOS,
    config.BACKBONE_STRIDES, config.RPN_ANCHOR_STRIDE)`` (see :func:`get_anchors_for_config`).
    Returns float32 [A, (y1, x1, y2, x2)], normalised (``norm_boxes``) unless
    ``normalized=False`` (pixels). Cached by arguments; each call returns a fresh copy.
    """
    key = (
        (int(image_shape[0]), int(image_shape[1])),
        tuple(float(s) for s in scales),
        tuple(float(r) for r in ratios),
        tuple(int(s) for s in strides),
        int(anchor_stride),
        bool(normalized),
    )
    return _cached_anchors(*key).copy()


def get_anchors_for_config(config, image_shape: Sequence[int] | None = None, normalized=True):
    """:func:`get_anchors` with the fields of a Config (``image_shape`` defaults to
    ``config.IMAGE_SHAPE``)."""
    shape = config.IMAGE_SHAPE if image_shape is None else image_shape
    return get_anchors(
        shape,
        config.RPN_ANCHOR_SCALES,
        config.RPN_ANCHOR_RATIOS,
        config.BACKBONE_STRIDES,
        config.RPN_ANCHOR_STRIDE,
        normalized=normalized,
    )
