"""Garment embeddings for shop-the-look: the model's own RoI features, the garment's shape and
its colour.

An instance (a box and a mask on an image) is described by three unit vectors:

- **RoI features** ``[C]`` (C = TOP_DOWN_PYRAMID_SIZE): the FPN features the mask head reads
  (the inference graph's ``roi_align_mask`` layer: a MASK_POOL_SIZE x MASK_POOL_SIZE grid of the
  box, from the pyramid level its size selects), averaged over the grid with the instance's
  mask as weights, so the background and the neighbouring garments inside the box count little.
  They say what the detector "sees": the kind of garment, its texture.
- **Shape** ``[65]``: the mask inside its box on an 8 x 8 grid (the share of each cell it
  covers) and the box's log aspect ratio: long trousers, a mini skirt and a tote bag differ.
- **Colour** ``[72]``: a joint HSV histogram (8 hue x 3 saturation x 3 value bins, each pixel
  spread over its nearest bins so a small shade change moves weight smoothly) of the mask's
  pixels, L1-normalised then square-rooted (the Hellinger map, so a dot product compares
  distributions). The detector's features are trained to ignore colour (a red and a blue dress
  are one class), while a shopper asking for "more like this" means colour too.

RoI features and shape vectors are non-negative, so any two of them have a high cosine and
they would barely move a ranking next to colour (the catalogue would match "mostly on
colour"). A catalogue therefore **centres** them: it subtracts its own mean RoI and shape
vector (:func:`centre`, the means are stored in the index) before the blend. The catalogue
vector is ``[sqrt(w_roi) * roi, sqrt(w_shape) * shape, sqrt(w_colour) * colour]``
(:func:`combine`, weights :data:`WEIGHTS`, stored in each index): a unit vector whose dot product
with another is the weighted sum of the three cosines, so an exact inner-product search ranks by
that blend.

Each garment also gets a colour name (:func:`colour_names`: the commonest of
:data:`COLOUR_NAMES` among its pixels), which the page filters on.
"""

from __future__ import annotations

import itertools

import numpy as np

#: Share of each descriptor in the similarity (they sum to 1).
WEIGHTS = {"roi": 0.5, "shape": 0.2, "colour": 0.3}
#: Parts of a catalogue vector, in order.
PARTS = ("roi", "shape", "colour")
SHAPE_GRID = 8
SHAPE_DIM = SHAPE_GRID * SHAPE_GRID + 1
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


def shape_descriptors(masks: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The mask inside each box on a :data:`SHAPE_GRID` square grid (share of each cell
    covered) and the box's log aspect ratio (height / width): unit float32 [N, 65].

    masks: bool [H, W, N]; boxes: int [N, (y1, x1, y2, x2)] px, y2 / x2 exclusive."""
    import cv2

    out = np.zeros((len(boxes), SHAPE_DIM), np.float32)
    for k in range(len(boxes)):
        y1, x1, y2, x2 = (int(v) for v in boxes[k])
        crop = np.asarray(masks[y1:y2, x1:x2, k], np.float32)
        if crop.size == 0:
            continue
        grid = cv2.resize(crop, (SHAPE_GRID, SHAPE_GRID), interpolation=cv2.INTER_AREA)
        out[k, :-1] = grid.reshape(-1)
        out[k, -1] = np.log(max(y2 - y1, 1) / max(x2 - x1, 1))
    return _unit(out)


#: Colour names a garment can get, in the order the page lists them.
COLOUR_NAMES = ("black", "grey", "white", "beige", "brown", "red", "orange", "yellow",
                "green", "blue", "purple", "pink")  # fmt: skip
#: Upper hue bound (OpenCV's 0..179) of each chromatic name, red wrapping round past 170.
_HUES = ((8, "red"), (20, "orange"), (33, "yellow"), (80, "green"), (128, "blue"),
         (148, "purple"), (170, "pink"), (180, "red"))  # fmt: skip


def pixel_colour_names(hsv: np.ndarray) -> np.ndarray:
    """Index into :data:`COLOUR_NAMES` of each OpenCV HSV pixel [P, 3] (uint8 ranges): black
    below value 50, grey / white below saturation 40, else by hue, with dark warm hues brown and
    pale warm hues beige. int64 [P]."""
    h, s, v = (np.asarray(hsv[:, i], np.float32) for i in range(3))
    idx = {name: i for i, name in enumerate(COLOUR_NAMES)}
    out = np.full(len(h), idx["red"], np.int64)
    for bound, name in reversed(_HUES):  # the smallest bound above the hue wins
        out = np.where(h < bound, idx[name], out)
    warm = np.isin(out, [idx["red"], idx["orange"], idx["yellow"]])
    out = np.where(warm & (v < 130) & (s > 60), idx["brown"], out)
    out = np.where(warm & (s < 90) & (v >= 130), idx["beige"], out)
    out = np.where(s < 40, np.where(v > 200, idx["white"], idx["grey"]), out)
    return np.where(v < 50, idx["black"], out).astype(np.int64)


def colour_names(image: np.ndarray, masks: np.ndarray, boxes: np.ndarray) -> list[str]:
    """The commonest colour name among each instance's mask pixels (the whole box when the
    mask is empty there). image: uint8 [H, W, 3] RGB; masks: bool [H, W, N]; boxes as
    :func:`colour_descriptors`."""
    import cv2

    names = []
    for k in range(len(boxes)):
        y1, x1, y2, x2 = (int(v) for v in boxes[k])
        crop = np.ascontiguousarray(image[y1:y2, x1:x2, :3])
        if crop.size == 0:
            names.append("grey")
            continue
        hsv = cv2.cvtColor(crop, cv2.COLOR_RGB2HSV).reshape(-1, 3)
        inside = np.asarray(masks[y1:y2, x1:x2, k], bool).reshape(-1)
        pixels = hsv[inside] if inside.any() else hsv
        pixels = pixels[:: len(pixels) // COLOUR_MAX_PIXELS + 1]
        counts = np.bincount(pixel_colour_names(pixels), minlength=len(COLOUR_NAMES))
        names.append(COLOUR_NAMES[int(np.argmax(counts))])
    return names


def centre(x: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Rows of ``x`` [N, D] minus a catalogue's ``mean`` [D], scaled to unit length."""
    return _unit(np.asarray(x, np.float32) - np.asarray(mean, np.float32)[None])


def combine(parts: dict, weights: dict | None = None) -> np.ndarray:
    """Catalogue vectors ``[sqrt(w_roi) * roi, sqrt(w_shape) * shape, sqrt(w_colour) *
    colour]`` (:data:`PARTS` order): unit float32 [N, D] when every part has unit rows and the
    weights sum to 1. parts / weights: name -> [N, d] / share."""
    weights = WEIGHTS if weights is None else weights
    if any(w < 0 for w in weights.values()) or abs(sum(weights.values()) - 1) > 1e-6:
        raise ValueError(f"descriptor weights must be >= 0 and sum to 1, got {weights}")
    blocks = []
    for name in PARTS:
        block = np.asarray(parts[name], dtype=np.float32)
        blocks.append(np.sqrt(weights[name]) * block.reshape(len(block), -1))
    return np.concatenate(blocks, axis=1).astype(np.float32)
