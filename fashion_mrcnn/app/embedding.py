"""Garment embeddings for shop-the-look: the model's own RoI features plus a colour descriptor.

An instance (a box and a mask on an image) is described by two unit vectors:

- **RoI features** ``[C]`` (C = TOP_DOWN_PYRAMID_SIZE): the FPN features the mask head reads
  (the inference graph's ``roi_align_mask`` layer: a MASK_POOL_SIZE x MASK_POOL_SIZE grid of the
  box, from the pyramid level its size selects), averaged over the grid with the instance's
  mask as weights, so the background and the neighbouring garments inside the box count little.
  They say what the detector "sees": shape, texture, the kind of garment.
- **Colour** ``[72]``: a joint HSV histogram (8 hue x 3 saturation x 3 value bins, each pixel
  spread over its nearest bins so a small shade change moves weight smoothly) of the mask's
  pixels, L1-normalised then square-rooted (the Hellinger map, so a dot product compares
  distributions). The detector's features are trained to ignore colour (a red and a blue dress
  are one class), while a shopper asking for "more like this" means colour too.

The catalogue vector is ``[sqrt(w) * roi, sqrt(1 - w) * colour]``: a unit vector whose dot
product with another is ``w * cos(roi) + (1 - w) * cos(colour)``, so an exact inner-product
search ranks by that blend. ``w`` (:data:`ROI_WEIGHT`) is stored with each index.
"""

from __future__ import annotations

import itertools

import numpy as np

#: Share of the RoI features in the similarity (the rest is colour).
ROI_WEIGHT = 0.5
#: HSV histogram bins (hue, saturation, value); OpenCV hue runs 0..179.
COLOUR_BINS = (8, 3, 3)
COLOUR_DIM = int(np.prod(COLOUR_BINS))


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` [N, D] scaled to unit length (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.where(norms > 0, x / np.maximum(norms, 1e-12), 0.0).astype(np.float32)


def mask_weights(masks: np.ndarray, boxes: np.ndarray, grid: int) -> np.ndarray:
    """Each instance's mask inside its box, resampled to the RoI grid: float32 [N, grid, grid]
    summing to 1 per instance (uniform where the mask misses the box, e.g. a box-only label).

    masks: bool [H, W, N]; boxes: int [N, (y1, x1, y2, x2)] pixels, y2 / x2 exclusive.
    """
    import cv2

    n = len(boxes)
    out = np.full((n, grid, grid), 1.0 / (grid * grid), dtype=np.float32)
    for k in range(n):
        y1, x1, y2, x2 = (int(v) for v in boxes[k])
        crop = np.asarray(masks[y1:y2, x1:x2, k], dtype=np.float32)
        if crop.size == 0 or crop.sum() == 0:
            continue
        small = cv2.resize(crop, (grid, grid), interpolation=cv2.INTER_AREA)
        if small.sum() > 0:
            out[k] = small / small.sum()
    return out


def pool_roi_features(pooled: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mask-weighted average of RoI-aligned features.

    pooled: float [N, P, P, C] (``roi_align_mask`` output for N boxes); weights: [N, P, P]
    (:func:`mask_weights`). Returns unit float32 [N, C].
    """
    pooled = np.asarray(pooled, dtype=np.float32)
    return _unit(np.einsum("nijc,nij->nc", pooled, np.asarray(weights, dtype=np.float32)))


#: Pixels a colour histogram reads at most (a regular subsample of larger garments).
COLOUR_MAX_PIXELS = 40_000
_HSV_RANGES = np.array([180.0, 256.0, 256.0], np.float32)  # OpenCV's 8-bit HSV


def soft_hsv_histogram(hsv: np.ndarray) -> np.ndarray:
    """Histogram of HSV pixels [P, 3] over :data:`COLOUR_BINS`, each pixel spread over its
    2 x 2 x 2 nearest bin centres (trilinear weights; hue wraps around, saturation and value
    stop at the edges), so a slightly lighter red still shares bins with red. float64 [72]."""
    bins = np.array(COLOUR_BINS)
    coords = np.asarray(hsv, np.float32) / _HSV_RANGES * bins - 0.5
    low = np.floor(coords).astype(np.int64)
    frac = coords - low
    hist = np.zeros(COLOUR_DIM)
    for corner in itertools.product((0, 1), repeat=3):
        step = np.array(corner)
        idx = low + step
        idx[:, 0] %= bins[0]
        idx[:, 1:] = np.clip(idx[:, 1:], 0, bins[1:] - 1)
        weight = np.prod(np.where(step == 1, frac, 1.0 - frac), axis=1)
        flat = (idx[:, 0] * bins[1] + idx[:, 1]) * bins[2] + idx[:, 2]
        hist += np.bincount(flat, weights=weight, minlength=COLOUR_DIM)
    return hist


def colour_descriptors(image: np.ndarray, masks: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Hellinger-mapped soft HSV histograms of each instance's pixels: unit float32 [N, 72].

    image: uint8 [H, W, 3] RGB; masks: bool [H, W, N]; boxes: int [N, (y1, x1, y2, x2)] px.
    An instance whose mask is empty inside its box is described by the whole box.
    """
    import cv2

    out = np.zeros((len(boxes), COLOUR_DIM), dtype=np.float32)
    for k in range(len(boxes)):
        y1, x1, y2, x2 = (int(v) for v in boxes[k])
        crop = np.ascontiguousarray(image[y1:y2, x1:x2, :3])
        if crop.size == 0:
            continue
        hsv = cv2.cvtColor(crop, cv2.COLOR_RGB2HSV).reshape(-1, 3)
        inside = np.asarray(masks[y1:y2, x1:x2, k], bool).reshape(-1)
        pixels = hsv[inside] if inside.any() else hsv
        pixels = pixels[:: len(pixels) // COLOUR_MAX_PIXELS + 1]
        hist = soft_hsv_histogram(pixels)
        out[k] = np.sqrt(hist / hist.sum())
    return _unit(out)


def combine(roi: np.ndarray, colour: np.ndarray, roi_weight: float = ROI_WEIGHT) -> np.ndarray:
    """Catalogue vectors ``[sqrt(w) * roi, sqrt(1 - w) * colour]``: unit float32 [N, C + 72]
    when both parts are unit rows."""
    if not 0.0 <= roi_weight <= 1.0:
        raise ValueError(f"roi_weight must be in [0, 1], got {roi_weight}")
    roi = np.asarray(roi, dtype=np.float32).reshape(len(roi), -1)
    colour = np.asarray(colour, dtype=np.float32).reshape(len(colour), -1)
    return np.concatenate(
        [np.sqrt(roi_weight) * roi, np.sqrt(1.0 - roi_weight) * colour], axis=1
    ).astype(np.float32)
