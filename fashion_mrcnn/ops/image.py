"""Image preparation with Matterport semantics: resize / pad / crop, molding, image meta.

The building blocks, with Matterport's names; :mod:`fashion_mrcnn.ops.transform` composes them
into the molded <-> original image mapping, both directions.

Also re-exports the box and mask helpers that ``docs/DESIGN.md`` lists under ``ops.image``
(``norm_boxes``, ``denorm_boxes``, ``extract_bboxes``, ``minimize_mask``, ``expand_mask``,
``unmold_mask``).

Image meta layout (one float32 row per image, length ``12 + NUM_CLASSES``), owned by
``constants.IMAGE_META_LAYOUT``: ``[image_id, original_shape (3), molded_shape (3), window (4,
pixels y1 x1 y2 x2 of the real image inside the molded one), scale, active_class_ids
(NUM_CLASSES)]``. Only :func:`compose_image_meta` (and its graph twin
``ops.transform_tf.compose_image_meta_tf``) writes a row and only :func:`parse_image_meta` /
:func:`parse_image_meta_tf` read one.

:func:`resize_masks_nearest` is the package's one nearest-neighbour mask resize.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from fashion_mrcnn.constants import IMAGE_META_FIXED_SIZE, IMAGE_META_LAYOUT, RESIZE_MODES
from fashion_mrcnn.ops.boxes import denorm_boxes, extract_bboxes, norm_boxes
from fashion_mrcnn.ops.masks import expand_mask, minimize_mask, unmold_mask

__all__ = [
    "scaled_size",
    "resize_image",
    "resize_mask",
    "resize_masks_nearest",
    "mold_image",
    "unmold_image",
    "compose_image_meta",
    "parse_image_meta",
    "parse_image_meta_tf",
    "norm_boxes",
    "denorm_boxes",
    "extract_bboxes",
    "minimize_mask",
    "expand_mask",
    "unmold_mask",
]


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """``(round(height * scale), round(width * scale))``, each side at least 1 px.

    The one size rule :func:`resize_image` and :func:`resize_mask` share: without the floor a
    3000x2 image capped at 128 px would round its short side to 0 (and cv2.resize fails).
    """
    return max(1, round(height * scale)), max(1, round(width * scale))


def _resize(array: np.ndarray, height: int, width: int, interpolation: int) -> np.ndarray:
    """cv2 resize of [h, w, C] (any C, in chunks of 64 channels: OpenCV 5 caps channels at 128) keeping the dtype."""
    if array.shape[0] == height and array.shape[1] == width:
        return array.copy()
    channels = array.shape[2]
    if channels == 0:
        return np.zeros((height, width, 0), dtype=array.dtype)
    parts = []
    for start in range(0, channels, 64):
        chunk = np.ascontiguousarray(array[:, :, start : start + 64])
        out = cv2.resize(chunk, (width, height), interpolation=interpolation)
        parts.append(out.reshape(height, width, -1))
    return np.concatenate(parts, axis=2) if len(parts) > 1 else parts[0]


def resize_image(
    image: np.ndarray,
    min_dim: int | None = None,
    max_dim: int | None = None,
    min_scale: float | None = None,
    mode: str = "square",
    rng: np.random.Generator | None = None,
):
    """Resize and pad (or crop) an image, keeping its aspect ratio (Matterport semantics).

    image: [H, W, C] (uint8 stays uint8). Modes:
    - "none": unchanged.
    - "square": scale up so the short side reaches ``min_dim`` (never down for it), cap the long
      side at ``max_dim``, then zero-pad to ``max_dim x max_dim`` (centred).
    - "pad64": scale as above (``max_dim`` ignored), then zero-pad each side to a multiple of 64;
      ``min_dim`` must be a multiple of 64.
    - "crop": scale as above, then take a random ``min_dim x min_dim`` crop (``rng`` picks it).
    ``min_scale``: a lower bound on the scale.
    Scaled sides are rounded and at least 1 px (:func:`scaled_size`), so extreme aspect ratios
    (a 3000x2 strip) work; the short side then stays 1 px wide, padding fills the rest.

    Returns (image [H', W', C], window (y1, x1, y2, x2) int pixels of the image inside the
    padded result, scale float, padding [(top, bottom), (left, right), (0, 0)], crop
    (y, x, h, w) or None).
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize_image: unknown mode {mode!r}; use one of {RESIZE_MODES}")
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"resize_image expects [H, W, C], got shape {image.shape}")
    dtype = image.dtype
    h, w = image.shape[:2]
    window = (0, 0, h, w)
    padding = [(0, 0), (0, 0), (0, 0)]
    crop = None
    if mode == "none":
        return image, window, 1.0, padding, crop

    scale = 1.0
    if min_dim:
        scale = max(1.0, min_dim / min(h, w))
    if min_scale and scale < min_scale:
        scale = float(min_scale)
    if max_dim and mode == "square":
        image_max = max(h, w)
        if round(image_max * scale) > max_dim:
            scale = max_dim / image_max
    if scale != 1:
        # bilinear (Matterport) when enlarging; area averaging when shrinking avoids aliasing
        interpolation = cv2.INTER_LINEAR if scale > 1 else cv2.INTER_AREA
        image = _resize(image, *scaled_size(h, w, scale), interpolation)
    h, w = image.shape[:2]

    if mode == "square":
        image, window, padding = _pad_centred(image, max_dim, max_dim)
    elif mode == "pad64":
        if not min_dim or min_dim % 64:
            raise ValueError(f"resize_image: mode 'pad64' needs min_dim % 64 == 0, got {min_dim}")
        image, window, padding = _pad_centred(image, math.ceil(h / 64) * 64, math.ceil(w / 64) * 64)
    elif mode == "crop":
        rng = rng if rng is not None else np.random.default_rng()
        y = int(rng.integers(0, h - min_dim + 1))
        x = int(rng.integers(0, w - min_dim + 1))
        crop = (y, x, min_dim, min_dim)
        image = image[y : y + min_dim, x : x + min_dim]
        window = (0, 0, min_dim, min_dim)
    return image.astype(dtype, copy=False), window, scale, padding, crop


def _pad_centred(image: np.ndarray, height: int, width: int):
    """Zero-pad [h, w, C] to [height, width, C], centred (the extra row / column goes below /
    right). Returns (image, window (y1, x1, y2, x2) of the original inside, padding)."""
    h, w = image.shape[:2]
    top, left = (height - h) // 2, (width - w) // 2
    padding = [(top, height - h - top), (left, width - w - left), (0, 0)]
    image = np.pad(image, padding, mode="constant", constant_values=0)
    return image, (top, left, h + top, w + left), padding


def resize_mask(mask: np.ndarray, scale: float, padding, crop=None) -> np.ndarray:
    """Apply :func:`resize_image`'s scale, crop and padding to masks.

    mask: bool [H, W, N] (N may be 0). Nearest-neighbour resizing to
    ``scaled_size(H, W, scale)``, the size ``resize_image`` gives the image. Returns bool
    [H', W', N].
    """
    mask = np.asarray(mask)
    if mask.ndim != 3:
        raise ValueError(f"resize_mask expects [H, W, N], got shape {mask.shape}")
    h, w = mask.shape[:2]
    if scale != 1:
        mask = resize_masks_nearest(mask, scaled_size(h, w, scale))
    else:
        mask = mask.astype(bool)
    if crop is not None:
        y, x, ch, cw = crop
        mask = mask[y : y + ch, x : x + cw]
    else:
        mask = np.pad(mask, padding, mode="constant", constant_values=False)
    return mask


def resize_masks_nearest(masks: np.ndarray, size) -> np.ndarray:
    """Nearest-neighbour resize of masks: bool (or 0/1) [H, W, N] -> bool [size[0], size[1], N].

    Any N (resized in chunks of 64 channels); a mask already at ``size`` is returned as bool.
    """
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(f"masks must be [H, W, N], got shape {masks.shape}")
    h, w = int(size[0]), int(size[1])
    if masks.shape[:2] == (h, w):
        return masks.astype(bool, copy=False)
    return _resize(masks.astype(np.uint8), h, w, cv2.INTER_NEAREST).astype(bool)


def _mean_pixel(config_or_mean) -> np.ndarray:
    mean = getattr(config_or_mean, "MEAN_PIXEL", config_or_mean)
    return np.asarray(mean, dtype=np.float32)


def mold_image(images: np.ndarray, config_or_mean) -> np.ndarray:
    """RGB images [..., H, W, C] (uint8 or float) -> float32, minus the mean pixel.
    ``config_or_mean``: a Config (uses MEAN_PIXEL) or the mean itself, [C]."""
    return np.asarray(images, dtype=np.float32) - _mean_pixel(config_or_mean)


def unmold_image(normalized: np.ndarray, config_or_mean) -> np.ndarray:
    """Inverse of :func:`mold_image`: add the mean back, clip to [0, 255], uint8."""
    out = np.asarray(normalized, dtype=np.float32) + _mean_pixel(config_or_mean)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def compose_image_meta(
    image_id, original_image_shape, image_shape, window, scale, active_class_ids
) -> np.ndarray:
    """One image's meta row: float32 [12 + NUM_CLASSES] (``constants.IMAGE_META_LAYOUT``).

    active_class_ids: [NUM_CLASSES] with 1 for the classes the image's source can contain."""
    fields = {
        "image_id": [image_id],
        "original_image_shape": list(original_image_shape),
        "image_shape": list(image_shape),
        "window": list(window),
        "scale": [scale],
    }
    for name, (start, stop) in IMAGE_META_LAYOUT.items():
        if len(fields[name]) != stop - start:
            raise ValueError(
                f"compose_image_meta: {name} needs {stop - start} values, got {fields[name]}"
            )
    meta = np.concatenate([fields[name] for name in IMAGE_META_LAYOUT] + [list(active_class_ids)])
    if meta.shape[0] <= IMAGE_META_FIXED_SIZE:
        raise ValueError(
            f"compose_image_meta: expected > {IMAGE_META_FIXED_SIZE} values (at least one "
            f"active class flag), got {meta.shape[0]}"
        )
    return meta.astype(np.float32)


def _meta_fields(meta) -> dict:
    """Split meta rows [..., 12 + NUM_CLASSES] (numpy or TF) by ``constants.IMAGE_META_LAYOUT``:
    one-column fields become scalars [...], the others [..., width]."""
    out = {}
    for name, (start, stop) in IMAGE_META_LAYOUT.items():
        out[name] = meta[..., start] if stop - start == 1 else meta[..., start:stop]
    out["active_class_ids"] = meta[..., IMAGE_META_FIXED_SIZE:]
    return out


def parse_image_meta(meta: np.ndarray) -> dict[str, np.ndarray]:
    """Split meta rows [..., 12 + NUM_CLASSES] into a dict of numpy arrays: image_id int32 [...],
    original_image_shape int32 [..., 3], image_shape int32 [..., 3], window int32 [..., 4],
    scale float32 [...], active_class_ids int32 [..., NUM_CLASSES]."""
    fields = _meta_fields(np.asarray(meta))
    return {
        name: value.astype(np.float32 if name == "scale" else np.int32)
        for name, value in fields.items()
    }


def parse_image_meta_tf(meta) -> dict:
    """TensorFlow twin of :func:`parse_image_meta`; every field stays float32 (as in graph use,
    e.g. the window is normalised with ``norm_boxes_tf``)."""
    import tensorflow as tf

    return _meta_fields(tf.cast(meta, tf.float32))


# Matterport's name for the graph version.
parse_image_meta_graph = parse_image_meta_tf
