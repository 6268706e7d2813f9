"""Drawings with PIL only (no matplotlib): instance overlays for prediction PNGs, image tiles and
caption grids, PNG writing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fashion_mrcnn.viz.colors import apply_mask, class_color, mask_outline, to_uint8_color


def draw_overlay(
    image: np.ndarray,
    boxes: np.ndarray,
    masks: np.ndarray,
    class_ids: Sequence[int],
    class_names: Sequence[str],
    scores: Sequence[float] | None = None,
    alpha: float = 0.45,
    show_bbox: bool = True,
    colors: Sequence | None = None,
    min_side: int = 0,
) -> np.ndarray:
    """Instances drawn onto a copy of ``image`` without matplotlib: uint8 [H, W, 3].

    Each instance gets its class colour (``class_color``): a translucent mask, an outline, a box
    and a ``"name 0.93"`` label above the box. ``min_side``: a smaller image is first enlarged
    by a whole factor (nearest neighbour, masks and boxes alike) so labels stay readable; the
    result is then ``[f * H, f * W, 3]``.
    """
    from PIL import Image, ImageDraw

    image = np.asarray(image)
    factor = -(-int(min_side) // min(image.shape[:2])) if min_side else 1
    if factor > 1:
        image = image.repeat(factor, axis=0).repeat(factor, axis=1)
        if masks is not None:
            masks = np.asarray(masks, bool).repeat(factor, axis=0).repeat(factor, axis=1)
        if boxes is not None:
            boxes = np.asarray(boxes).reshape(-1, 4) * factor
    out = np.asarray(image)
    if out.ndim == 2:
        out = np.stack([out] * 3, axis=-1)
    out = out[:, :, :3].astype(np.uint8, copy=True)
    masks = np.zeros((*out.shape[:2], 0), bool) if masks is None else np.asarray(masks, bool)
    n = len(class_ids)
    cols = [colors[k] if colors is not None else class_color(class_ids[k]) for k in range(n)]
    for k in range(min(n, masks.shape[2])):
        out = apply_mask(out, masks[:, :, k], cols[k], alpha)
        out[mask_outline(masks[:, :, k], 2)] = to_uint8_color(cols[k])
    pil = Image.fromarray(out)
    draw = ImageDraw.Draw(pil)
    boxes = np.zeros((0, 4)) if boxes is None else np.asarray(boxes).reshape(-1, 4)
    for k in range(min(n, len(boxes))):
        y1, x1, y2, x2 = (int(v) for v in boxes[k])
        color = to_uint8_color(cols[k])
        if show_bbox:
            draw.rectangle([x1, y1, max(x2 - 1, x1), max(y2 - 1, y1)], outline=color, width=2)
        label = str(class_names[class_ids[k]])
        if scores is not None:
            label += f" {float(scores[k]):.2f}"
        left, top, right, bottom = draw.textbbox((x1, y1), label)
        ty = y1 - (bottom - top) - 4 if y1 - (bottom - top) - 4 >= 0 else y1
        draw.rectangle([x1, ty, x1 + (right - left) + 4, ty + (bottom - top) + 4], fill=color)
        draw.text((x1 + 2, ty + 1), label, fill=(255, 255, 255))
    return np.asarray(pil)


def save_image(image: np.ndarray, path: str | Path) -> Path:
    """Write a uint8 [H, W, 3] image (PNG / JPEG by suffix); creates parent folders."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(path)
    return path


def crop_grid(
    crops: Sequence[np.ndarray], captions: Sequence[str], cols: int = 6, cell: int = 160
) -> np.ndarray:
    """Tile crops (each resized to fit ``cell`` x ``cell``) with a caption strip: uint8 image."""
    from PIL import Image, ImageDraw

    cols = max(1, min(cols, len(crops)))
    rows = max(1, -(-len(crops) // cols))
    strip = 14
    sheet = Image.new("RGB", (cols * cell, rows * (cell + strip)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for k, (crop, caption) in enumerate(zip(crops, captions)):
        im = Image.fromarray(np.asarray(crop, dtype=np.uint8))
        im.thumbnail((cell, cell))
        x, y = (k % cols) * cell, (k // cols) * (cell + strip)
        sheet.paste(im, (x + (cell - im.width) // 2, y + strip + (cell - im.height) // 2))
        draw.text((x + 2, y + 1), str(caption)[: cell // 6], fill=(0, 0, 0))
    return np.asarray(sheet)


def tile_images(
    images: Sequence[np.ndarray], cols: int | None = None, cell: int = 384, pad: int = 4
) -> np.ndarray:
    """Tile images (each scaled to fit ``cell`` x ``cell``, aspect kept) on a white sheet:
    uint8 [rows * (cell + pad) + pad, cols * (cell + pad) + pad, 3]. PIL only."""
    from PIL import Image

    if not len(images):
        raise ValueError("tile_images needs at least one image")
    cols = cols or int(np.ceil(np.sqrt(len(images))))
    rows = -(-len(images) // cols)
    sheet = Image.new("RGB", (cols * (cell + pad) + pad, rows * (cell + pad) + pad), "white")
    for k, image in enumerate(images):
        arr = np.asarray(image)
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        im = Image.fromarray(arr[:, :, :3].astype(np.uint8))
        scale = cell / max(im.width, im.height)
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))))
        x = pad + (k % cols) * (cell + pad) + (cell - im.width) // 2
        y = pad + (k // cols) * (cell + pad) + (cell - im.height) // 2
        sheet.paste(im, (x, y))
    return np.asarray(sheet)
