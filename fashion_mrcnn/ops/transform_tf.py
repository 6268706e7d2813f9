"""TensorFlow twins of :mod:`fashion_mrcnn.ops.transform` for a serving graph: mold each decoded
image and unmold a batch's detections inside the graph, so an exported model needs no Python of
ours.

Each function names its numpy twin (tests/ops/test_transform_tf.py compares them on random
inputs and states the tolerance):

- :func:`mold_square_tf`: ``ops.image.resize_image`` ("square" mode) + ``ops.image.mold_image``,
  i.e. ``ops.transform.mold``, on ``ops.resize_tf``'s scale, sizes and area resize. The scale, the
  resized size, the window and the padding are the same integers; the pixels come from
  ``tf.image.resize``'s bilinear when enlarging and ``resize_area_tf`` when shrinking, as cv2's
  INTER_LINEAR / INTER_AREA there, rounded back to uint8, which differ from cv2's fixed-point
  results by a grey level or so (measured in the test);
- :func:`compose_image_meta_tf`: ``ops.image.compose_image_meta`` (image id 0, no active-class
  flag), same float32 row;
- :func:`unmold_boxes_tf`: ``ops.transform.unmold_boxes``;
- :func:`paste_masks_tf`: ``ops.transform.paste_masks`` (bilinear resize to the box, threshold,
  clip, paste), but laid out ``[N, H, W]`` (the serving layout) instead of ``[H, W, N]``;
  :func:`paste_masks_gather_tf` is the same without ``tf.map_fn`` (TensorFlow Lite);
- :func:`kept_detection_rows_tf`: ``ops.transform.kept_detection_rows`` (the detection rows
  kept; per-detection outputs such as the attribute head's follow them);
- :func:`unmold_detections_tf`: ``ops.transform.unmold_detections`` (min-confidence filter,
  boxes back to original pixels, empty boxes dropped, masks pasted);
- :func:`unmold_batch_tf`: ``ops.transform.unmold_detections`` on each image of a batch, the
  instances padded to the batch's largest count and the masks to its largest image (the
  serving export's layout; the padding rule is in its docstring).

Only the "square" resize mode is molded here: it is the one whose molded size is the graph's
fixed input size for every image. TensorFlow is imported inside the functions, as in
``ops.boxes``.
"""

from __future__ import annotations

from fashion_mrcnn.constants import IMAGE_META_LAYOUT
from fashion_mrcnn.ops.resize_tf import (
    resize_area_tf,
    scale_for_square_tf,
    square_size_integer_tf,
)
from fashion_mrcnn.ops.shapes import with_static_shape

__all__ = [
    "mold_square_tf",
    "compose_image_meta_tf",
    "unmold_boxes_tf",
    "paste_masks_tf",
    "paste_masks_gather_tf",
    "kept_detection_rows_tf",
    "unmold_detections_tf",
    "unmold_batch_tf",
]


def mold_square_tf(image, *, min_dim, max_dim, min_scale, mean_pixel, integer_sizes=False):
    """Mold one image in "square" mode: resize keeping the aspect ratio, zero-pad centred to
    ``max_dim x max_dim``, subtract the mean pixel (numpy twin: ``ops.transform.mold``).

    image: uint8 [H, W, 3] (H, W dynamic). Returns ``(molded float32 [max_dim, max_dim, 3],
    window int32 [(y1, x1, y2, x2)] pixels of the resized image inside the molded one, scale
    float64 scalar)``. The resized pixels are ``tf.image.resize``'s bilinear when enlarging and
    ``ops.resize_tf.resize_area_tf``'s when shrinking, rounded to uint8 as cv2 does.
    ``integer_sizes``: the sizes by ``ops.resize_tf.square_size_integer_tf`` (no float64; the
    scale is then float32), for TensorFlow Lite; ``min_scale`` must then be 0 (ValueError).
    """
    import tensorflow as tf

    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    if integer_sizes:
        if min_scale:
            raise ValueError(f"integer_sizes needs min_scale 0 (IMAGE_MIN_SCALE), got {min_scale}")
        size, scale, enlarge = square_size_integer_tf(h, w, min_dim=min_dim, max_dim=max_dim)
    else:
        scale = scale_for_square_tf(h, w, min_dim=min_dim, max_dim=max_dim, min_scale=min_scale)
        hw = tf.cast(tf.stack([h, w]), tf.float64)
        size = tf.maximum(tf.cast(tf.round(hw * scale), tf.int32), 1)
        enlarge = scale > 1.0
    pixels = tf.cast(image, tf.float32)
    resized = tf.cond(
        enlarge,
        lambda: tf.image.resize(pixels, size, method="bilinear"),
        lambda: resize_area_tf(pixels, size),
    )
    resized = tf.round(tf.clip_by_value(resized, 0.0, 255.0))  # uint8 values, as cv2 returns
    top = (max_dim - size[0]) // 2
    left = (max_dim - size[1]) // 2
    padded = tf.pad(
        resized,
        [[top, max_dim - size[0] - top], [left, max_dim - size[1] - left], [0, 0]],
    )
    padded = with_static_shape(padded, (max_dim, max_dim, 3))
    window = tf.stack([top, left, top + size[0], left + size[1]])
    molded = padded - tf.constant(mean_pixel, tf.float32)
    return molded, window, scale


def compose_image_meta_tf(original_shape, molded_shape, window, scale, num_classes: int):
    """One image meta row, float32 [12 + num_classes] (numpy twin:
    ``ops.image.compose_image_meta`` with image id 0 and every active-class flag 0).

    original_shape: int [3] (H, W, C); molded_shape: int [3]; window: int [4] (y1, x1, y2, x2);
    scale: float scalar. The column order is ``constants.IMAGE_META_LAYOUT``'s.
    """
    import tensorflow as tf

    fields = {
        "image_id": tf.zeros([1], tf.float32),
        "original_image_shape": tf.cast(original_shape, tf.float32),
        "image_shape": tf.cast(molded_shape, tf.float32),
        "window": tf.cast(window, tf.float32),
        "scale": tf.reshape(tf.cast(scale, tf.float32), [1]),
    }
    parts = [fields[name] for name in IMAGE_META_LAYOUT]
    return tf.concat(parts + [tf.zeros([int(num_classes)], tf.float32)], axis=0)


def unmold_boxes_tf(boxes, original_shape, molded_shape, window):
    """Normalised boxes of the molded image -> int32 pixel boxes of the original (numpy twin:
    ``ops.transform.unmold_boxes``, same conventions: rounded, not clipped, a 1 px window side
    spans the original's whole side).

    boxes: float [N, (y1, x1, y2, x2)]; original_shape, molded_shape: int [2+]; window: int [4].
    Returns int32 [N, 4].
    """
    import tensorflow as tf

    from fashion_mrcnn.ops.boxes import denorm_boxes_tf, norm_boxes_tf

    w = norm_boxes_tf(tf.cast(window, tf.float32), molded_shape)
    extent = tf.stack([w[2] - w[0], w[3] - w[1], w[2] - w[0], w[3] - w[1]])
    flat = tf.equal(extent, 0.0)
    shift = tf.stack([w[0], w[1], w[0], w[1]])
    boxes = (tf.cast(boxes, tf.float32) - shift) / tf.where(flat, 1.0, extent)
    boxes = tf.where(flat, tf.constant([0.0, 0.0, 1.0, 1.0]), boxes)
    return denorm_boxes_tf(boxes, original_shape)


def _paste_one(mask, box, height, width, threshold):
    """One mask [mh, mw] resized bilinearly to its box, thresholded, clipped and pasted:
    bool [height, width] (numpy twin: ``ops.masks.unmold_mask``)."""
    import tensorflow as tf

    y1, x1, y2, x2 = box[0], box[1], box[2], box[3]
    size = tf.maximum(tf.stack([y2 - y1, x2 - x1]), 1)  # an empty box pastes nothing (below)
    probs = tf.image.resize(tf.cast(mask, tf.float32)[:, :, None], size, method="bilinear")
    inside = probs[:, :, 0] >= threshold
    cy1 = tf.clip_by_value(y1, 0, height)
    cx1 = tf.clip_by_value(x1, 0, width)
    cy2 = tf.clip_by_value(y2, cy1, height)  # y2 <= y1: no row (cy2 = cy1)
    cx2 = tf.clip_by_value(x2, cx1, width)
    part = inside[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1]
    part = tf.cast(part, tf.uint8)
    full = tf.pad(part, [[cy1, height - cy2], [cx1, width - cx2]])
    return tf.cast(full, tf.bool)


def paste_masks_tf(masks, boxes, original_shape, threshold: float):
    """Paste the mask head's small masks into full-size masks of the original image (numpy twin:
    ``ops.transform.paste_masks``, which returns them as [H, W, N]).

    masks: float [N, mh, mw] probabilities; boxes: int [N, (y1, x1, y2, x2)] pixels of the
    original (y2/x2 exclusive, may reach past it: clipped); original_shape: int [2+] (H, W).
    Returns bool [N, H, W]. One instance at a time (``tf.map_fn``), so the peak memory is the
    output's.
    """
    import tensorflow as tf

    height = tf.cast(original_shape[0], tf.int32)
    width = tf.cast(original_shape[1], tf.int32)
    boxes = tf.cast(boxes, tf.int32)

    def paste_each():
        return tf.map_fn(
            lambda args: _paste_one(args[0], args[1], height, width, threshold),
            (tf.cast(masks, tf.float32), boxes),
            fn_output_signature=tf.TensorSpec([None, None], tf.bool),
        )

    n = tf.shape(boxes)[0]
    return tf.cond(n > 0, paste_each, lambda: tf.zeros([0, height, width], tf.bool))


def _bilinear_taps(start, end, size, cells):
    """For pixels ``0 .. size - 1`` of an axis and N boxes ``[start, end)`` on it: the two mask
    cells each pixel reads and their weights when a ``cells``-long mask is resized bilinearly to
    the box (``tf.image.resize``'s half-pixel rule, edges clamped). start, end: int32 [N];
    returns ``(low int32 [N, size], high int32 [N, size], frac float32 [N, size])``."""
    import tensorflow as tf

    extent = tf.cast(tf.maximum(end - start, 1), tf.float32)[:, None]  # [N, 1]
    pixel = tf.cast(tf.range(size)[None, :] - start[:, None], tf.float32)  # [N, size]
    at = (pixel + 0.5) * (float(cells) / extent) - 0.5
    floor = tf.floor(at)
    low = tf.clip_by_value(tf.cast(floor, tf.int32), 0, cells - 1)
    high = tf.clip_by_value(tf.cast(tf.math.ceil(at), tf.int32), 0, cells - 1)
    return low, high, at - floor


def paste_masks_gather_tf(masks, boxes, original_shape, threshold: float):
    """:func:`paste_masks_tf` without ``tf.map_fn``, for TensorFlow Lite (whose built-in kernels
    cannot lower the map's list of differently-shaped masks): every instance at once, rows then
    columns, each output pixel blending the two mask cells it falls between (same numpy twin,
    ``ops.transform.paste_masks``; same arguments and result, bool [N, H, W]).

    Memory: float32 [N, H, W] while it runs (4x the bool output that :func:`paste_masks_tf`
    peaks at): 20 instances on a 640 x 480 photo take 25 MB.
    """
    import tensorflow as tf

    height = tf.cast(original_shape[0], tf.int32)
    width = tf.cast(original_shape[1], tf.int32)
    boxes = tf.cast(boxes, tf.int32)
    masks = tf.cast(masks, tf.float32)  # [N, mh, mw]
    mh, mw = int(masks.shape[1]), int(masks.shape[2])
    y1, x1, y2, x2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    low, high, frac = _bilinear_taps(y1, y2, height, mh)  # [N, H]
    # expand_dims, not [..., None]: TFLite lowers no strided slice that adds an axis to a tensor
    # of dynamic shape
    frac = tf.expand_dims(frac, 2)  # [N, H, 1]
    rows = (
        tf.gather(masks, low, axis=1, batch_dims=1) * (1.0 - frac)
        + tf.gather(masks, high, axis=1, batch_dims=1) * frac
    )  # [N, H, mw]
    low, high, frac = _bilinear_taps(x1, x2, width, mw)  # [N, W]
    low_cols = tf.gather(rows, low, axis=2, batch_dims=1)  # [N, H, W]
    high_cols = tf.gather(rows, high, axis=2, batch_dims=1)
    frac = tf.expand_dims(frac, 1)  # [N, 1, W]
    probs = low_cols * (1.0 - frac) + high_cols * frac
    y = tf.range(height)[None, :]
    x = tf.range(width)[None, :]
    in_rows = (y >= y1[:, None]) & (y < y2[:, None])  # [N, H]
    in_cols = (x >= x1[:, None]) & (x < x2[:, None])  # [N, W]
    return (probs >= threshold) & tf.expand_dims(in_rows, 2) & tf.expand_dims(in_cols, 1)


def kept_detection_rows_tf(detections, original_shape, molded_shape, window, min_confidence):
    """int32 [N]: the rows of ``detections`` [D, 6] that :func:`unmold_detections_tf` keeps, in
    its order (numpy twin: ``ops.transform.kept_detection_rows``, same arguments): class > 0,
    score >= ``min_confidence``, a box with height and width once mapped back. Per-detection
    outputs beside ``detections`` (the attribute head's ``mrcnn_attr``) follow them."""
    import tensorflow as tf

    detections = tf.cast(detections, tf.float32)
    class_ids = tf.cast(detections[:, 4], tf.int32)
    keep = tf.where((class_ids > 0) & (detections[:, 5] >= min_confidence))[:, 0]
    boxes = unmold_boxes_tf(
        tf.gather(detections[:, :4], keep), original_shape, molded_shape, window
    )
    ok = tf.where((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]))[:, 0]
    return tf.cast(tf.gather(keep, ok), tf.int32)


def _class_masks(mrcnn_mask, rows, class_ids):
    """float32 [N, MH, MW]: the mask head's map of each kept row for its own class
    (mrcnn_mask [D, MH, MW, K], rows int [N], class_ids int [N])."""
    import tensorflow as tf

    masks = tf.gather(tf.cast(mrcnn_mask, tf.float32), rows)  # [N, MH, MW, K]
    return tf.gather(tf.transpose(masks, [0, 3, 1, 2]), class_ids, axis=1, batch_dims=1)


def unmold_detections_tf(
    detections, mrcnn_mask, original_shape, molded_shape, window, min_confidence, mask_threshold,
    with_rows=False, paste=None,
):  # fmt: skip
    """One image's raw inference outputs -> its instances on the original image (numpy twin:
    ``ops.transform.unmold_detections``).

    detections: float [D, (y1, x1, y2, x2, class_id, score)] normalised of the molded image,
    zero-padded rows of class 0; mrcnn_mask: float [D, MH, MW, K]; original_shape, molded_shape:
    int [2+]; window: int [4]. Rows of class 0 or scoring below ``min_confidence`` are dropped,
    and so are boxes without height or width once mapped back. ``paste``: the mask paste,
    :func:`paste_masks_tf` by default (:func:`paste_masks_gather_tf` for TensorFlow Lite).

    Returns ``(boxes int32 [N, (y1, x1, y2, x2)] pixels of the original (y2/x2 exclusive),
    class_ids int32 [N], scores float32 [N], masks bool [N, H, W])``; with ``with_rows``, a
    fifth element: the kept rows of ``detections``, int32 [N] (:func:`kept_detection_rows_tf`).
    """
    import tensorflow as tf

    detections = tf.cast(detections, tf.float32)
    rows = kept_detection_rows_tf(detections, original_shape, molded_shape, window, min_confidence)
    kept = tf.gather(detections, rows)
    class_ids = tf.cast(kept[:, 4], tf.int32)
    boxes = unmold_boxes_tf(kept[:, :4], original_shape, molded_shape, window)
    masks = _class_masks(mrcnn_mask, rows, class_ids)
    full = (paste or paste_masks_tf)(masks, boxes, original_shape, mask_threshold)
    found = (boxes, class_ids, kept[:, 5], full)
    return (*found, rows) if with_rows else found


def unmold_batch_tf(
    detections, mrcnn_mask, original_shapes, molded_shape, windows, min_confidence,
    mask_threshold, per_detection=None,
):  # fmt: skip
    """A batch's raw inference outputs -> each image's instances, padded to one shape (numpy
    twin: ``ops.transform.unmold_detections`` on each image, padded as below).

    detections: float [B, D, 6]; mrcnn_mask: float [B, D, MH, MW, K]; original_shapes: int
    [B, 2+]; molded_shape: int [2+] (every image is molded to it); windows: int [B, 4];
    per_detection: optional dict of outputs beside ``detections``, each [B, D, ...] (the
    attribute head's ``mrcnn_attr``), which follow the kept rows.

    Returns a dict: ``boxes`` int32 [B, N, 4], ``class_ids`` int32 [B, N], ``scores`` float32
    [B, N], ``masks`` uint8 [B, N, H, W] (0 / 1), ``num_detections`` int32 [B], and each
    ``per_detection`` entry as [B, N, ...]. N is the largest instance count of the batch and H x W
    the largest original height and width. The padding rule: image b's instances are its first
    ``num_detections[b]`` rows, the rows after them are zeros (class 0, score 0, box 0, empty
    mask); its masks sit in the top-left ``original_shapes[b]`` corner, zeros beyond.
    """
    import tensorflow as tf

    detections = tf.cast(detections, tf.float32)
    original_shapes = tf.cast(original_shapes, tf.int32)
    windows = tf.cast(windows, tf.int32)
    batch = tf.range(tf.shape(detections)[0])
    d = tf.shape(detections)[1]

    def kept(b):
        rows = kept_detection_rows_tf(
            detections[b], original_shapes[b], molded_shape, windows[b], min_confidence
        )
        return tf.pad(rows, [[0, d - tf.size(rows)]]), tf.size(rows)

    spec = (tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32))
    rows, num = tf.map_fn(kept, batch, fn_output_signature=spec)
    n_max = tf.reduce_max(tf.concat([num, [0]], 0))
    rows = rows[:, :n_max]
    valid = tf.range(n_max)[None, :] < num[:, None]  # [B, N]

    def zero_padding(values):  # values [B, N, ...]: the rows past each count -> 0
        mask = tf.reshape(
            valid, tf.concat([tf.shape(valid), tf.ones_like(tf.shape(values)[2:])], 0)
        )
        return tf.where(mask, values, tf.zeros_like(values))

    picked = zero_padding(tf.gather(detections, rows, batch_dims=1))  # [B, N, 6]
    class_ids = tf.cast(picked[:, :, 4], tf.int32)
    boxes = tf.map_fn(
        lambda b: unmold_boxes_tf(picked[b, :, :4], original_shapes[b], molded_shape, windows[b]),
        batch,
        fn_output_signature=tf.TensorSpec([None, 4], tf.int32),
    )
    boxes = zero_padding(boxes)
    h_max = tf.reduce_max(original_shapes[:, 0])
    w_max = tf.reduce_max(original_shapes[:, 1])

    def paste(b):
        n = num[b]
        small = _class_masks(mrcnn_mask[b], rows[b, :n], class_ids[b, :n])
        full = paste_masks_tf(small, boxes[b, :n], original_shapes[b], mask_threshold)
        pad = [
            [0, n_max - n],
            [0, h_max - original_shapes[b, 0]],
            [0, w_max - original_shapes[b, 1]],
        ]
        return tf.pad(tf.cast(full, tf.uint8), pad)

    masks = tf.map_fn(paste, batch, fn_output_signature=tf.TensorSpec([None, None, None], tf.uint8))
    out = {
        "boxes": boxes,
        "class_ids": class_ids,
        "scores": picked[:, :, 5],
        "masks": masks,
        "num_detections": num,
    }
    for name, values in (per_detection or {}).items():
        out[name] = zero_padding(tf.gather(values, rows, batch_dims=1))
    return out
