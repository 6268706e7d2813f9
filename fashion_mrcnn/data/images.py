"""Image file reading: any PIL-readable file -> RGB uint8, EXIF orientation applied.

``load_rgb`` normalises every mode a photo collection contains: grayscale (L, 1), palette (P,
with or without transparency), alpha (LA, RGBA, PA: composited on white), CMYK, YCbCr, 16-bit and
32-bit integer grayscale (I;16*, I: scaled from the 0..65535 range), float (F: 0..1 or 0..255).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fashion_mrcnn.errors import FashionDataError

__all__ = ["image_size", "load_rgb"]

# EXIF orientations 5-8 rotate by 90 / 270 degrees: height and width swap.
_EXIF_ORIENTATION = 0x0112
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}


def _open(path: Path) -> Image.Image:
    try:
        return Image.open(path)
    except FileNotFoundError as exc:
        raise FashionDataError(f"{path}: image file not found") from exc
    except IsADirectoryError as exc:
        raise FashionDataError(f"{path}: is a directory, not an image file") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise FashionDataError(f"{path}: cannot read image ({exc})") from exc


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    """PIL image of any mode -> uint8 [H, W, 3] RGB."""
    mode = img.mode
    if mode == "RGB":
        return np.asarray(img, dtype=np.uint8)
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8)
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(img).astype(np.float64)
        gray = np.clip(np.round(arr / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        finite = arr[np.isfinite(arr)]
        if finite.size and finite.max() <= 1.0:
            arr = arr * 255.0
        gray = np.clip(np.nan_to_num(np.round(arr)), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    # 1, L, CMYK, YCbCr, LAB, HSV, RGBX ...: PIL's own conversion.
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def load_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as RGB.

    Args:
        path: image file (JPEG, PNG, BMP, TIFF, WebP, ...).

    Returns:
        uint8 ``[H, W, 3]`` RGB, C-contiguous, after applying the EXIF orientation (so H, W are
        the displayed size). Transparent pixels are composited on white.

    Raises:
        FashionDataError: naming the path, for a missing, truncated or unreadable file.
    """
    path = Path(path)
    img = _open(path)
    try:
        with img:
            img.load()
            img = ImageOps.exif_transpose(img)
            arr = _to_rgb_array(img)
    except FashionDataError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:  # truncated / corrupt data
        raise FashionDataError(f"{path}: cannot decode image ({exc})") from exc
    if arr.ndim != 3 or arr.shape[2] != 3:  # pragma: no cover - every mode is handled above
        raise FashionDataError(f"{path}: unexpected decoded shape {arr.shape}")
    return np.ascontiguousarray(arr)


def image_size(path: str | Path) -> tuple[int, int]:
    """``(height, width)`` of an image as displayed (after EXIF rotation), from the header only.

    Raises:
        FashionDataError: naming the path, for a missing or unidentifiable file.
    """
    path = Path(path)
    img = _open(path)
    with img:
        width, height = img.size
        try:
            orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
        except (OSError, ValueError, SyntaxError):  # unreadable EXIF block: treat as upright
            orientation = 1
    if orientation in _SWAPPING_ORIENTATIONS:
        height, width = width, height
    return int(height), int(width)
