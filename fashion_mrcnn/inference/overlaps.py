"""Overlapping masks of one image: the policies and the one function that makes masks disjoint.

A pixel claimed by several masks goes to the highest-scoring one. The Kaggle submission writer
(:mod:`fashion_mrcnn.submission`) and the post-processing (:mod:`.postprocess`) both use
:func:`remove_overlaps`, with a policy of ``OVERLAP_POLICIES`` (``"all"``: masks of an image are
made disjoint; ``"class"``: only masks of the same class; ``"none"``: overlaps stay), a shared
name of :mod:`fashion_mrcnn.constants` so the CLI lists it without loading numpy.
"""

from __future__ import annotations

import numpy as np

from fashion_mrcnn.constants import OVERLAP_POLICIES

__all__ = ["OVERLAP_POLICIES", "remove_overlaps"]


def remove_overlaps(masks: np.ndarray, scores: np.ndarray, groups=None) -> np.ndarray:
    """Give every contested pixel to the highest-scoring mask.

    Args:
        masks: bool [H, W, N].
        scores: float [N].
        groups: optional [N] labels; overlaps are then removed only between masks of the same
            label (e.g. the class string). ``None`` = across all masks.

    Returns:
        bool [H, W, N], pairwise disjoint (within each group). Ties keep the earlier mask.
    """
    masks = np.asarray(masks, dtype=bool)
    out = np.zeros_like(masks)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    labels = np.zeros(masks.shape[2], dtype=np.int64) if groups is None else np.asarray(groups)
    claimed: dict = {}
    for k in order:
        key = labels[k].item() if hasattr(labels[k], "item") else labels[k]
        taken = claimed.get(key)
        if taken is None:
            taken = claimed[key] = np.zeros(masks.shape[:2], dtype=bool)
        out[:, :, k] = masks[:, :, k] & ~taken
        taken |= out[:, :, k]
    return out
