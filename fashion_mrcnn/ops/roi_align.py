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

``crop_and_resize_xla`` / ``multilevel_crop_and_resize_xla`` are the same crop in ops XLA
compiles (a gather of 2 x 2 taps; ``CropAndResize`` has no XLA kernel), for several FPN levels
at once; their numpy twins are ``crop_and_resize_np`` / ``multilevel_crop_and_resize_np``. They
do not raise on a NaN / inf box (XLA has no ``CheckNumerics``): its crop is NaN instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fashion_mrcnn.ops.shapes import with_static_shape

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


def crop_and_resize_grad_np(
    image_shape: Sequence[int],
    boxes: np.ndarray,
    box_indices: np.ndarray,
    grads: np.ndarray,
) -> np.ndarray:
    """The gradient of :func:`crop_and_resize_np` (and of both TF crops) with respect to the
    image, in float64: each output cell's gradient spread over its 4 taps by the bilinear
    weights; samples outside the image pass none.

    image_shape: (B, H, W, C); boxes: float [N, 4] normalised; box_indices: int [N]; grads:
    float [N, ph, pw, C], the gradient of the crops. Returns float64 [B, H, W, C].
    """
    _, h, w, _ = (int(v) for v in image_shape)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    grads = np.asarray(grads, dtype=np.float64)
    ph, pw = grads.shape[1:3]
    ys = _sample_coords(boxes[:, 0], boxes[:, 2], ph, h)  # [N, ph]
    xs = _sample_coords(boxes[:, 1], boxes[:, 3], pw, w)  # [N, pw]
    valid = ((ys >= 0) & (ys <= h - 1))[:, :, None] & ((xs >= 0) & (xs <= w - 1))[:, None, :]
    ys, xs = np.clip(ys, 0, h - 1), np.clip(xs, 0, w - 1)
    fy, fx = ys - np.floor(ys), xs - np.floor(xs)
    b = np.asarray(box_indices, dtype=np.int64)[:, None, None]
    out = np.zeros(tuple(int(v) for v in image_shape), dtype=np.float64)
    for rows, wy in ((np.floor(ys), 1 - fy), (np.ceil(ys), fy)):
        for cols, wx in ((np.floor(xs), 1 - fx), (np.ceil(xs), fx)):
            weight = wy[:, :, None] * wx[:, None, :] * valid  # [N, ph, pw]
            at = (b, rows.astype(np.int64)[:, :, None], cols.astype(np.int64)[:, None, :])
            np.add.at(out, at, weight[..., None] * grads)
    return out


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


def multilevel_crop_and_resize_np(
    feature_maps: Sequence[np.ndarray],
    boxes: np.ndarray,
    box_indices: np.ndarray,
    levels: np.ndarray,
    out_size: Sequence[int],
    extrapolation_value: float = 0.0,
) -> np.ndarray:
    """numpy twin of :func:`multilevel_crop_and_resize_xla`: box i cropped from
    ``feature_maps[levels[i]][box_indices[i]]`` by :func:`crop_and_resize_np`.

    feature_maps: list of [B, H_l, W_l, C]; boxes: float [N, 4] normalised; box_indices,
    levels: int [N]. Returns float32 [N, ph, pw, C]. ValueError on a NaN / inf box.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    box_indices = np.asarray(box_indices, dtype=np.int64).reshape(-1)
    levels = np.asarray(levels, dtype=np.int64).reshape(-1)
    c = np.shape(feature_maps[0])[-1]
    out = np.zeros((len(boxes), int(out_size[0]), int(out_size[1]), c), dtype=np.float32)
    for level, fm in enumerate(feature_maps):
        rows = np.flatnonzero(levels == level)
        if len(rows):
            out[rows] = crop_and_resize_np(
                fm, boxes[rows], out_size, box_indices[rows], extrapolation_value
            )
    return out


def _axis_samples(tf, lo, hi, n: int, size):
    """Sampling positions float32 [N, n] along one axis (the kernel's float32 arithmetic, in its
    order) for boxes spanning lo..hi (normalised, [N]) on an axis of ``size`` pixels ([N])."""
    size_m1 = size - 1.0
    if n > 1:
        scale = (hi - lo) * size_m1 / float(n - 1)
        steps = tf.range(n, dtype=tf.float32)
        return (lo * size_m1)[:, None] + steps[None, :] * scale[:, None]
    return (0.5 * (lo + hi) * size_m1)[:, None]


def _axis_taps(tf, coords, size):
    """(first tap int32 [N, n], second tap int32 [N, n], weights float32 [N, n, 2], inside bool
    [N, n]) of bilinear sampling at ``coords`` on an axis of ``size`` ([N]) pixels. Positions
    outside ``[0, size - 1]`` (NaN included) are flagged and moved to 0, so every tap indexes a
    real pixel. A position within ``(size - 1) * 2**-20`` (a few float32 ulps) outside counts
    as on the edge: compiled, XLA's fused multiply-adds put the samples of a box side at 0 or 1
    (a box clipped to the image) that far outside, and the edge column would read 0."""
    limit = (size - 1.0)[:, None]
    slack = limit * 2.0**-20
    inside = (coords >= -slack) & (coords <= limit + slack)
    coords = tf.where(inside, tf.minimum(tf.maximum(coords, 0.0), limit), 0.0)
    first = tf.floor(coords)
    frac = coords - first
    weights = tf.stack([1.0 - frac, frac], axis=-1)
    return tf.cast(first, tf.int32), tf.cast(tf.math.ceil(coords), tf.int32), weights, inside


def multilevel_crop_and_resize_xla(
    feature_maps, boxes, box_indices, levels, out_size, extrapolation_value: float = 0.0
):
    """Bilinear crops of boxes, each from its own level of ``feature_maps``, by one gather of
    2 x 2 taps per output cell: XLA compiles it (``CropAndResize`` has no XLA kernel).

    feature_maps: list of float [B, H_l, W_l, C] (one C); boxes: float [N, (y1, x1, y2, x2)]
    normalised (the sampling grid of :func:`crop_and_resize_np`, per level); box_indices: int
    [N], each box's image; levels: int [N], each box's index into ``feature_maps``; out_size:
    (ph, pw). Returns float32 [N, ph, pw, C], equal to ``tf.image.crop_and_resize`` of each box
    on its level up to float rounding, gradients into the features included (none into the
    boxes or indices): the weights form ``sum w_y w_x v`` replaces the kernel's nested lerps,
    and in a graph Grappler's ``x / (ph - 1) -> x * (1 / (ph - 1))`` and XLA's fused
    multiply-adds move some sampling positions by one float32 ulp (eager, the positions are the
    kernel's, bit for bit). Its gradient is deterministic; CropAndResize's CPU gradient is not
    (threads add into shared pixels unlocked, tensorflow/tensorflow#42033).

    How: the levels are flattened and stacked into one table [sum_l B * H_l * W_l, C]; every
    output cell reads its 4 corner rows from the table by one ``tf.gather_nd`` and blends them
    with separable weights ``w_y * w_x``; the gradient is that gather's scatter-add. Why gathers
    and not separable interpolation matrices (``einsum`` of each box's map with [ph, H] and
    [pw, W] one-hot-like matrices): the matrices touch every pixel of the map for every box,
    ``ph * H * W + ph * pw * W`` multiply-adds per channel against the gather's ``4 * ph * pw``,
    ~160x more on P2 of a 256 px image (64 x 64) at 7 x 7, in the forward and the backward.
    That suits a TPU's matrix unit on small maps, not a CPU; the gather touches 4 pixels a cell.

    Samples outside the level take ``extrapolation_value`` and pass no gradient (as the kernel).
    A NaN / inf box gives an all-NaN crop and no error: ``tf.debugging.check_numerics`` has no XLA
    kernel (and XLA drops ``Assert``), so the refusal is left to the NaN reaching the outputs
    or the losses (``model.finite``'s check of the outputs, the training guard's of the loss).
    ``box_indices`` / ``levels`` must be in range: outside XLA ``tf.gather`` raises on a bad
    index, under XLA it clamps.
    """
    import tensorflow as tf

    ph, pw = int(out_size[0]), int(out_size[1])
    boxes = tf.stop_gradient(tf.reshape(tf.cast(boxes, tf.float32), [-1, 4]))
    box_indices = tf.stop_gradient(tf.reshape(tf.cast(box_indices, tf.int32), [-1]))
    levels = tf.stop_gradient(tf.reshape(tf.cast(levels, tf.int32), [-1]))
    channels = feature_maps[0].shape[-1]
    shapes = [tf.shape(fm) for fm in feature_maps]
    heights = tf.stack([s[1] for s in shapes])  # [L]
    widths = tf.stack([s[2] for s in shapes])
    sizes = tf.stack([s[0] * s[1] * s[2] for s in shapes])
    starts = tf.concat([[0], tf.cumsum(sizes)[:-1]], axis=0)  # [L] first table row of a level
    table = tf.concat(
        [tf.reshape(tf.cast(fm, tf.float32), [-1, channels]) for fm in feature_maps], axis=0
    )
    height = tf.gather(heights, levels)  # [N]
    width = tf.gather(widths, levels)
    base = tf.gather(starts, levels) + box_indices * height * width  # [N]

    top, bottom, wy, in_y = _axis_taps(
        tf,
        _axis_samples(tf, boxes[:, 0], boxes[:, 2], ph, tf.cast(height, tf.float32)),
        tf.cast(height, tf.float32),
    )
    left, right, wx, in_x = _axis_taps(
        tf,
        _axis_samples(tf, boxes[:, 1], boxes[:, 3], pw, tf.cast(width, tf.float32)),
        tf.cast(width, tf.float32),
    )
    rows = tf.stack([top, bottom], axis=-1) * width[:, None, None]  # [N, ph, 2]
    cols = tf.stack([left, right], axis=-1)  # [N, pw, 2]
    index = (
        base[:, None, None, None, None] + rows[:, :, None, :, None] + cols[:, None, :, None, :]
    )  # [N, ph, pw, 2, 2]
    weights = wy[:, :, None, :, None] * wx[:, None, :, None, :]  # [N, ph, pw, 2, 2]
    # gather_nd, not gather: its gradient is a dense scatter, where gather's IndexedSlices
    # would reach the concat above, whose gradient then splits them with tf.where (no XLA)
    corners = tf.gather_nd(table, tf.reshape(index, [-1, ph, pw, 4, 1]))  # [N, ph, pw, 4, C]
    blended = tf.reduce_sum(corners * tf.reshape(weights, [-1, ph, pw, 4, 1]), axis=3)
    inside = in_y[:, :, None] & in_x[:, None, :]  # [N, ph, pw]
    finite = tf.reduce_all(tf.math.is_finite(boxes), axis=1)  # [N]
    fill = tf.where(finite, float(extrapolation_value), float("nan"))
    out = tf.where(inside[..., None], blended, fill[:, None, None, None])
    return with_static_shape(out, [None, ph, pw, channels])


def crop_and_resize_xla(image, boxes, box_indices, out_size, extrapolation_value: float = 0.0):
    """``tf.image.crop_and_resize`` (bilinear) in ops XLA compiles; numpy twin
    :func:`crop_and_resize_np`.

    image: float [B, H, W, C]; boxes: float [N, 4] normalised; box_indices: int [N]; out_size:
    (ph, pw). Returns float32 [N, ph, pw, C]. One level of :func:`multilevel_crop_and_resize_xla`
    (its docstring: the gather formulation, why, and a NaN / inf box giving a NaN crop).
    """
    import tensorflow as tf

    levels = tf.zeros_like(tf.reshape(tf.cast(box_indices, tf.int32), [-1]))
    return multilevel_crop_and_resize_xla(
        [image], boxes, box_indices, levels, out_size, extrapolation_value
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
