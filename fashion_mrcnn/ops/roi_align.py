"""ROI Align by bilinear crop-and-resize, and the FPN level assignment of boxes.

``crop_and_resize_np`` is a slow, plain numpy reference of ``tf.image.crop_and_resize``
(bilinear, one sample per output cell) with the same sampling grid: for a normalised box
``(y1, x1, y2, x2)`` on an image of height H, output row i of ``ph`` samples the input at

    y = y1 * (H - 1) + i * (y2 - y1) * (H - 1) / (ph - 1)        (ph > 1)
    y = 0.5 * (y1 + y2) * (H - 1)                                  (ph == 1)

and likewise for x; samples outside ``[0, H - 1]`` take ``extrapolation_value``. Normalised
boxes follow Matterport's ``norm_boxes`` convention, so 0 and 1 are the first and last pixel.

Both refuse a NaN / inf box with an error whose message contains :data:`NON_FINITE_BOXES`
(``roi_align_tf``: ``tf.errors.InvalidArgumentError`` from ``tf.debugging.check_numerics``;
``crop_and_resize_np``: ValueError): boxes that are not finite come from weights that diverged,
and ``model.finite`` turns that error into one naming the weights file.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: In the message of the error both crops raise on a NaN / inf box (one owner of the text).
NON_FINITE_BOXES = "non-finite boxes met RoI Align"


def _sample_coords(lo: np.ndarray, hi: np.ndarray, n: int, size: int) -> np.ndarray:
    """Sampling positions [N, n] in input pixels for boxes spanning lo..hi (normalised)."""
    if n > 1:
        step = (hi - lo) * (size - 1) / (n - 1)
        return lo[:, None] * (size - 1) + np.arange(n)[None, :] * step[:, None]
    return (0.5 * (lo + hi) * (size - 1))[:, None]


def crop_and_resize_np(
    image: np.ndarray,
    boxes: np.ndarray,
    out_size: Sequence[int],
    box_indices: np.ndarray | None = None,
    extrapolation_value: float = 0.0,
) -> np.ndarray:
    """Bilinear crops of ``image`` resized to ``out_size``; numpy twin of
    ``tf.image.crop_and_resize``.

    image: [H, W, C] (every box samples it) or [B, H, W, C] with ``box_indices`` int [N] naming
    each box's image. boxes: float [N, (y1, x1, y2, x2)] normalised (y2 < y1 flips the crop).
    out_size: (ph, pw). Returns float32 [N, ph, pw, C]. ValueError naming
    :data:`NON_FINITE_BOXES` when a box holds NaN / inf.
    """
    image = np.asarray(image, dtype=np.float32)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not np.isfinite(boxes).all():
        raise ValueError(f"{NON_FINITE_BOXES}: {int((~np.isfinite(boxes)).sum())} NaN / inf values")
    if image.ndim == 3:
        image = image[None]
        box_indices = np.zeros(len(boxes), dtype=np.int64)
    elif box_indices is None:
        raise ValueError("crop_and_resize_np: a 4-D image batch needs box_indices")
    box_indices = np.asarray(box_indices, dtype=np.int64)
    _, h, w, c = image.shape
    ph, pw = int(out_size[0]), int(out_size[1])
    ys = _sample_coords(boxes[:, 0], boxes[:, 2], ph, h)  # [N, ph]
    xs = _sample_coords(boxes[:, 1], boxes[:, 3], pw, w)  # [N, pw]
    valid = ((ys >= 0) & (ys <= h - 1))[:, :, None] & ((xs >= 0) & (xs <= w - 1))[
        :, None, :
    ]  # [N, ph, pw]
    ys_c = np.clip(ys, 0, h - 1)
    xs_c = np.clip(xs, 0, w - 1)
    top = np.floor(ys_c).astype(np.int64)
    bottom = np.ceil(ys_c).astype(np.int64)
    left = np.floor(xs_c).astype(np.int64)
    right = np.ceil(xs_c).astype(np.int64)
    y_lerp = (ys_c - top)[:, :, None, None]
    x_lerp = (xs_c - left)[:, None, :, None]
    b = box_indices[:, None, None]

    def at(rows, cols):
        return image[b, rows[:, :, None], cols[:, None, :]]  # [N, ph, pw, C]

    top_row = at(top, left) + (at(top, right) - at(top, left)) * x_lerp
    bottom_row = at(bottom, left) + (at(bottom, right) - at(bottom, left)) * x_lerp
    out = top_row + (bottom_row - top_row) * y_lerp
    out = np.where(valid[..., None], out, np.float32(extrapolation_value))
    return out.reshape(len(boxes), ph, pw, c).astype(np.float32)


def roi_align_tf(feature_maps, boxes, box_indices, out_size):
    """``tf.image.crop_and_resize`` with gradients stopped through the boxes.

    feature_maps: float [B, H, W, C]; boxes: float [N, 4] normalised; box_indices: int32 [N];
    out_size: (ph, pw). Returns float32 [N, ph, pw, C]. A NaN / inf box raises
    ``tf.errors.InvalidArgumentError`` naming :data:`NON_FINITE_BOXES` (``check_numerics``,
    before the crop's own error, whose text is TensorFlow's).
    """
    import tensorflow as tf

    boxes = tf.debugging.check_numerics(tf.cast(boxes, tf.float32), NON_FINITE_BOXES)
    return tf.image.crop_and_resize(
        feature_maps,
        tf.stop_gradient(boxes),
        tf.stop_gradient(tf.cast(box_indices, tf.int32)),
        [int(out_size[0]), int(out_size[1])],
        method="bilinear",
    )


def roi_levels_np(
    boxes: np.ndarray, image_shape: Sequence[int], canonical_size: float = 224.0
) -> np.ndarray:
    """FPN level (2..5) per box: ``clip(4 + round(log2(sqrt(h * w) / (224 / sqrt(H * W)))), 2,
    5)`` with (h, w) the normalised box size and (H, W) = image_shape[:2] (FPN paper eq. 1 in
    normalised units; ``canonical_size`` replaces 224, the box side that maps to P4). Zero-area
    boxes (padding) go to level 2. With the default 224 an image needs a side above ~320 px to
    ever use P5 and above ~160 px to use P4.

    boxes: float [..., 4] normalised. Returns int32 [...].
    """
    boxes = np.asarray(boxes, dtype=np.float32)
    h = boxes[..., 2] - boxes[..., 0]
    w = boxes[..., 3] - boxes[..., 1]
    area = np.float32(image_shape[0]) * np.float32(image_shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.log2(np.sqrt(h * w) / (np.float32(canonical_size) / np.sqrt(area)))
    level = np.nan_to_num(level, nan=-np.inf)
    return np.clip(4 + np.round(level), 2, 5).astype(np.int32)


def roi_levels_tf(boxes, image_shape, canonical_size: float = 224.0):
    """TensorFlow twin of :func:`roi_levels_np`: boxes [..., 4] -> int32 [...]."""
    import tensorflow as tf

    boxes = tf.cast(boxes, tf.float32)
    h = boxes[..., 2] - boxes[..., 0]
    w = boxes[..., 3] - boxes[..., 1]
    area = float(image_shape[0]) * float(image_shape[1])
    ratio = float(canonical_size) / area**0.5
    level = tf.math.log(tf.sqrt(tf.maximum(h * w, 0.0)) / ratio) / np.log(2.0)
    level = tf.where(tf.math.is_nan(level), -np.inf, level)
    return tf.cast(tf.clip_by_value(4.0 + tf.round(level), 2.0, 5.0), tf.int32)
