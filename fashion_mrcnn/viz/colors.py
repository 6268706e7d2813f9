"""Colours and mask painting shared by the figures and the PIL overlays (numpy only).

Colours are RGB floats in [0, 1] (uint8 images get them scaled to 0..255).
"""

from __future__ import annotations

import colorsys

import numpy as np

GOLDEN = 0.618033988749895
GT_COLOR = (0.0, 0.8, 0.0)
PRED_COLOR = (0.9, 0.0, 0.0)


def random_colors(n: int, bright: bool = True, seed: int | None = 0) -> list[tuple]:
    """``n`` well-separated RGB colours (evenly spaced hues, shuffled with ``seed``)."""
    value = 1.0 if bright else 0.7
    colors = [colorsys.hsv_to_rgb(i / max(n, 1), 1.0, value) for i in range(n)]
    if seed is not None:
        order = np.random.default_rng(seed).permutation(n)
        colors = [colors[i] for i in order]
    return colors


def class_color(class_id: int) -> tuple[float, float, float]:
    """The colour of a class, identical in every figure (hue steps by the golden ratio)."""
    hue = (int(class_id) * GOLDEN) % 1.0
    return colorsys.hsv_to_rgb(hue, 0.8, 0.95)


def to_uint8_color(color) -> tuple[int, int, int]:
    """An RGB colour (floats in [0, 1] or 0..255) as three ints 0..255."""
    c = np.asarray(color, dtype=np.float64)
    if c.max() <= 1.0:
        c = c * 255
    return tuple(int(round(v)) for v in c[:3])


def apply_mask(image: np.ndarray, mask: np.ndarray, color, alpha: float = 0.5) -> np.ndarray:
    """Blend ``color`` into ``image`` [H, W, 3] where ``mask`` [H, W] is set; returns a new
    array of the image's dtype (uint8 images get a 0..255 colour)."""
    out = np.array(image, copy=True)
    m = np.asarray(mask).astype(bool)
    col = np.asarray(to_uint8_color(color), dtype=np.float64)
    if out.dtype != np.uint8 and out.max() <= 1.0:
        col = col / 255.0
    blended = out[m].astype(np.float64) * (1 - alpha) + alpha * col
    out[m] = blended.round().astype(out.dtype) if out.dtype == np.uint8 else blended
    return out


def mask_outline(mask: np.ndarray, width: int = 1) -> np.ndarray:
    """bool [H, W]: mask pixels with a 4-neighbour outside the mask (repeated ``width`` times)."""
    m = np.asarray(mask).astype(bool)
    inner = m.copy()
    for _ in range(max(int(width), 1)):
        p = np.pad(inner, 1, constant_values=False)
        inner = inner & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return m & ~inner
