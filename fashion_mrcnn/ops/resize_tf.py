"""The "square" resize of the serving graphs in TensorFlow, from ops TensorFlow Lite converts:
the scale and sizes ``ops.image.resize_image`` picks, and the area resize it shrinks with.

- :func:`scale_for_square_tf`: the scale (float64, rounded as Python's ``round``), so the sizes
  are the numpy path's (``ops.image.scaled_size``);
- :func:`square_size_integer_tf`: the same sizes in int32 ratios, for runtimes without float64
  (TensorFlow Lite); equal but at a few exact halves (its docstring);
- :func:`area_taps_tf` / :func:`resize_area_tf`: TensorFlow's ResizeArea rule by gathers (TFLite
  has no ResizeArea kernel), within 1e-3 grey levels of it; the numpy twins are in
  ``tests/ops/test_transform_tf.py`` (dense overlap matrices), cv2's INTER_AREA is the
  numpy path's.

``ops.transform_tf.mold_square_tf`` puts them together. TensorFlow is imported inside the
functions, as in ``ops.boxes``.
"""

from __future__ import annotations

__all__ = ["area_taps_tf", "resize_area_tf", "scale_for_square_tf", "square_size_integer_tf"]


def scale_for_square_tf(height, width, *, min_dim, max_dim, min_scale):
    """The resize scale ``ops.image.resize_image`` picks in "square" mode, float64 scalar.

    height, width: int scalars (the original size). Up so the short side reaches ``min_dim``
    (never down for it), at least ``min_scale``, then capped so the rounded long side fits
    ``max_dim``. Computed in float64 and rounded half to even, as Python's ``round`` is, so the
    sizes equal the numpy path's.
    """
    import tensorflow as tf

    h = tf.cast(height, tf.float64)
    w = tf.cast(width, tf.float64)
    scale = tf.constant(1.0, tf.float64)
    if min_dim:
        scale = tf.maximum(scale, float(min_dim) / tf.minimum(h, w))
    if min_scale:
        scale = tf.where(scale < float(min_scale), tf.constant(float(min_scale), tf.float64), scale)
    if max_dim:
        image_max = tf.maximum(h, w)
        too_big = tf.round(image_max * scale) > float(max_dim)
        scale = tf.where(too_big, float(max_dim) / image_max, scale)
    return scale


def area_taps_tf(n_in, n_out):
    """The taps of an area resize along one axis of ``n_in`` pixels to ``n_out``: output pixel o
    averages the input span ``[o * s, (o + 1) * s)``, ``s = n_in / n_out``, each input pixel
    weighted by its overlap with the span over ``s`` (TensorFlow's ResizeArea rule, float32).

    n_in, n_out: int scalars (dynamic). Returns ``(index int32 [n_out, K], weight float32
    [n_out, K])``, ``K = ceil(s) + 1`` (the most input pixels a span touches); taps past the axis
    end have weight 0 and a clipped index. Numpy twin: ``tests/ops/test_transform_tf.py``'s
    ``area_taps_reference``.
    """
    import tensorflow as tf

    scale = tf.cast(n_in, tf.float32) / tf.cast(n_out, tf.float32)
    k = tf.cast(tf.math.ceil(scale), tf.int32) + 1
    low = tf.cast(tf.range(n_out), tf.float32) * scale  # [n_out] span starts
    high = low + scale
    index = tf.cast(tf.floor(low), tf.int32)[:, None] + tf.range(k)[None, :]  # [n_out, K]
    left = tf.maximum(tf.cast(index, tf.float32), low[:, None])
    right = tf.minimum(tf.cast(index + 1, tf.float32), high[:, None])
    weight = tf.maximum(right - left, 0.0) / scale
    weight = tf.where(index < n_in, weight, 0.0)
    return tf.minimum(index, n_in - 1), weight


def resize_area_tf(pixels, size):
    """``tf.image.resize(pixels, size, method="area")`` built from gathers and sums, which
    TensorFlow Lite converts (its converter has no kernel for ResizeArea, neither built in nor
    through the TensorFlow-ops delegate). Rows then columns (separable, as the area rule is).

    pixels: float32 [H, W, C]; size: int32 [2] (out height, out width). Returns float32
    [out_h, out_w, C]; equal to ResizeArea to float32 rounding (the test states the tolerance).
    Memory: the row pass holds ``[out_h, K, W, C]`` (``K = ceil(H / out_h) + 1``).
    """
    import tensorflow as tf

    shape = tf.shape(pixels)
    rows, row_w = area_taps_tf(shape[0], size[0])
    cols, col_w = area_taps_tf(shape[1], size[1])
    # expand_dims, not [..., None]: TFLite lowers no strided slice that adds an axis to a tensor
    # of dynamic shape
    row_w = tf.expand_dims(tf.expand_dims(row_w, -1), -1)  # [out_h, K, 1, 1]
    by_rows = tf.reduce_sum(tf.gather(pixels, rows) * row_w, axis=1)  # [out_h, W, C]
    col_w = tf.expand_dims(tf.expand_dims(col_w, 0), -1)  # [1, out_w, K, 1]
    return tf.reduce_sum(tf.gather(by_rows, cols, axis=1) * col_w, axis=2)


def _round_ratio_tf(x, num, den):
    """``round(x * num / den)`` half to even, in int32 arithmetic (exact; no float)."""
    import tensorflow as tf

    product = x * num
    q = tf.math.floordiv(product, den)
    twice_r = 2 * (product - q * den)
    up = (twice_r > den) | ((twice_r == den) & (tf.math.floormod(q, 2) == 1))
    return q + tf.cast(up, tf.int32)


def square_size_integer_tf(height, width, *, min_dim, max_dim):
    """The "square" resize of :func:`scale_for_square_tf` (``min_scale`` 0) in int32 arithmetic,
    for runtimes without float64 (TensorFlow Lite): the scale is a ratio of integers (1,
    ``min_dim`` / short side, or ``max_dim`` / long side) and each side is rounded half to even
    exactly. Returns ``(size int32 [2] (h, w), each at least 1; scale float32; enlarge bool:
    scale > 1)``.

    Equal to the float64 sizes except where ``side * scale`` is exactly a half and float64's
    rounding of the quotient tips it (over every size 1..4000 x 1..4000: none for min / max dims
    128, 256, 512 and 1024; 40 of 16 million for 800 / 1024, each 1 px on one side).
    """
    import tensorflow as tf

    h = tf.cast(height, tf.int32)
    w = tf.cast(width, tf.int32)
    num, den = tf.constant(1), tf.constant(1)
    if min_dim:
        short = tf.minimum(h, w)
        up = int(min_dim) > short
        num, den = tf.where(up, int(min_dim), num), tf.where(up, short, den)
    if max_dim:
        long = tf.maximum(h, w)
        too_big = _round_ratio_tf(long, num, den) > int(max_dim)
        num, den = tf.where(too_big, int(max_dim), num), tf.where(too_big, long, den)
    size = tf.maximum(tf.stack([_round_ratio_tf(h, num, den), _round_ratio_tf(w, num, den)]), 1)
    return size, tf.cast(num, tf.float32) / tf.cast(den, tf.float32), num > den
