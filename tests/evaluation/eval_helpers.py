"""Hand-built masks and Kaggle frames for the evaluation tests (imported by test modules)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fashion_mrcnn.data.formats.rle import encode


def box_mask(h: int, w: int, y1: int, x1: int, y2: int, x2: int) -> np.ndarray:
    """bool [h, w] with the rectangle rows y1:y2, columns x1:x2 set (y2 / x2 exclusive)."""
    m = np.zeros((h, w), dtype=bool)
    m[y1:y2, x1:x2] = True
    return m


def gt_frame(rows) -> pd.DataFrame:
    """rows: (image_id, mask [H, W], class_str) -> Kaggle GT DataFrame."""
    return pd.DataFrame(
        [(i, encode(m), m.shape[0], m.shape[1], c) for i, m, c in rows],
        columns=["ImageId", "EncodedPixels", "Height", "Width", "ClassId"],
    )


def pred_frame(rows) -> pd.DataFrame:
    return pd.DataFrame(
        [(i, encode(m) if m is not None else "", c) for i, m, c in rows],
        columns=["ImageId", "EncodedPixels", "ClassId"],
    )


def _attribute_text(attrs) -> str:
    return ",".join(str(a) for a in attrs)


def gt_frame_2020(rows) -> pd.DataFrame:
    """rows: (image_id, mask [H, W], category str, attribute ids) -> 2020 Kaggle GT DataFrame."""
    frame = gt_frame([(i, m, c) for i, m, c, _ in rows])
    frame["AttributesIds"] = [_attribute_text(a) for *_, a in rows]
    return frame


def pred_frame_2020(rows) -> pd.DataFrame:
    """rows: (image_id, mask [H, W] or None, category str, attribute ids) -> 2020 predictions."""
    frame = pred_frame([(i, m, c) for i, m, c, _ in rows])
    frame["AttributesIds"] = [_attribute_text(a) for *_, a in rows]
    return frame
