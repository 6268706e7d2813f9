"""Which garment the page means: duplicate guesses of one region, and the main garment.

A detector often returns two guesses for one region (a dress and a top over the same pixels, or
the same class twice) and garments that overlap for real (a skirt below a dress's top, a bag in
front of a coat). The page applies three rules; the server computes the first and the third
once per result (:func:`overlap_groups`), the page applies the second (``app.js``,
``candidatesAt``):

1. **Duplicates are merged under the best guess.** A detection whose mask overlaps the mask of a
   higher-scoring detection with IoU >= :data:`DUPLICATE_IOU`, whatever the two classes, is
   another guess for the same region: ``duplicate_of`` names the highest-scoring detection of
   its group (chains are followed to it). The page draws only that one; the others are listed
   under it as alternatives ("or: top 0.41") and are reached by clicking the same spot again.
2. **A click picks the most plausible garment under the pointer**: among the shown detections
   whose mask covers the clicked pixel, the highest score (not the smallest mask); a second
   click on the same spot selects the next one, and so on round.
3. **The main garment is selected after each result**: among the shown detections that are not
   duplicates, the largest ``score * sqrt(mask area / image area)`` (a confident garment that
   fills much of the photo beats a tiny confident one).

Masks are compared on a grid of at most :data:`GRID` px a side (a strided subsample), so the
cost is one [N, P] x [P, N] product for N detections, whatever the photo's size.
"""

from __future__ import annotations

import numpy as np

#: Mask IoU from which two detections are guesses for one region.
DUPLICATE_IOU = 0.5
#: Longest side of the grid masks are compared on.
GRID = 160


def mask_iou(masks: np.ndarray) -> np.ndarray:
    """Pairwise mask IoU of bool masks [H, W, N], on a grid of at most :data:`GRID` px a side:
    float32 [N, N] (0 where both masks are empty)."""
    masks = np.asarray(masks, bool)
    h, w, n = masks.shape
    step = max(1, int(np.ceil(max(h, w) / GRID)))
    flat = masks[::step, ::step].reshape(-1, n).astype(np.float32)
    inter = flat.T @ flat
    area = np.diag(inter)
    union = area[:, None] + area[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def duplicates(masks: np.ndarray, scores: np.ndarray, iou: float = DUPLICATE_IOU) -> list[int]:
    """Rule 1: for each detection, the index of the best guess of its region, or -1 when it is
    that best guess itself. masks: bool [H, W, N]; scores: [N]."""
    scores = np.asarray(scores, np.float64).reshape(-1)
    n = len(scores)
    if n == 0:
        return []
    overlap = mask_iou(masks)
    order = np.argsort(-scores, kind="stable")  # best first; ties keep the record order
    root = [-1] * n
    for rank, k in enumerate(order):
        better = [int(j) for j in order[:rank] if overlap[k, j] >= iou]
        if better:
            j = better[0]  # the highest-scoring overlapping detection
            root[int(k)] = j if root[j] < 0 else root[j]
    return root


def main_garment(
    masks: np.ndarray, scores: np.ndarray, duplicate_of: list[int], min_score: float
) -> int:
    """Rule 3: the index of the main garment among detections scoring at least ``min_score``
    that are no duplicate, or -1 when there is none."""
    scores = np.asarray(scores, np.float64).reshape(-1)
    masks = np.asarray(masks, bool)
    if len(scores) == 0:
        return -1
    area = masks.reshape(-1, masks.shape[-1]).sum(axis=0) / float(masks.shape[0] * masks.shape[1])
    merit = np.where(
        (scores >= min_score) & (np.asarray(duplicate_of) < 0), scores * np.sqrt(area), -1.0
    )
    best = int(np.argmax(merit))
    return best if merit[best] > 0 else -1


def overlap_groups(masks: np.ndarray, scores: np.ndarray, min_score: float) -> dict:
    """``{"duplicate_of": [N ints], "main": int}`` for one result (rules 1 and 3)."""
    duplicate_of = duplicates(masks, scores)
    return {
        "duplicate_of": duplicate_of,
        "main": main_garment(masks, scores, duplicate_of, min_score),
    }
