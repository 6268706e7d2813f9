"""The bridge between Kaggle RLE (:mod:`.rle`) and COCO RLE (pycocotools), both directions.

COCO RLE uses the Kaggle codec's column-major pixel order but stores alternating run lengths
starting with background (``counts``), either as a list of ints ("uncompressed") or as pycocotools'
compressed string, in a dict ``{"size": [h, w], "counts": ...}``.

- Kaggle -> COCO: :func:`to_coco_rle` / :func:`to_coco` build one straight from the Kaggle runs,
  without building the mask (the Kaggle metric and the COCO exporter use them);
  :func:`runs_to_coco_counts` is the step from runs to counts.
- COCO -> Kaggle / masks: :func:`check_coco_rle` validates any form pycocotools writes without
  building the mask (record validation, the area statistics),
  :func:`coco_to_mask` / :func:`uncompressed_counts_to_mask` decode, :func:`compressed_to_counts`
  parses pycocotools' compressed string, :func:`from_coco` re-encodes as Kaggle RLE.

Malformed input raises :class:`~fashion_mrcnn.errors.RLEError` with the codec's messages and
``context`` prefix (see :mod:`.rle`).
"""

from __future__ import annotations

import numpy as np

from fashion_mrcnn.data.formats.rle import _check_size, _coco_counts, _fail, encode, merged_runs

__all__ = [
    "check_coco_rle",
    "coco_to_mask",
    "compressed_to_counts",
    "from_coco",
    "runs_to_coco_counts",
    "to_coco",
    "to_coco_rle",
    "uncompressed_counts_to_mask",
]


def runs_to_coco_counts(starts: np.ndarray, ends: np.ndarray, n_pixels: int) -> list[int]:
    """Uncompressed COCO counts ``[zeros, ones, zeros, ...]`` (column-major, summing to
    ``n_pixels``) from sorted, disjoint, 0-indexed runs ``[starts, ends)``.

    The first count may be 0 (the mask starts with foreground); a trailing zero-length
    background run is not written (pycocotools does not write one). Non-adjacent runs
    (:func:`.rle.merged_runs`) give no other zero count.
    """
    return _coco_counts(starts, ends, int(n_pixels)).tolist()


def to_coco_rle(rle: str | None, height: int, width: int, context: str | None = None) -> dict:
    """Kaggle RLE -> pycocotools compressed RLE ``{"size": [h, w], "counts": bytes}`` (what
    ``pycocotools.mask.encode`` returns for the same mask), without building the mask."""
    from pycocotools import mask as mask_utils

    height, width = _check_size(height, width, context)
    starts, ends = merged_runs(rle, height, width, context)
    uncompressed = {
        "size": [height, width],
        "counts": runs_to_coco_counts(starts, ends, height * width),
    }
    return mask_utils.frPyObjects([uncompressed], height, width)[0]


def to_coco(rle: str | None, height: int, width: int, context: str | None = None) -> dict:
    """Kaggle RLE -> JSON-ready COCO compressed RLE ``{"size": [h, w], "counts": str}``."""
    coco = to_coco_rle(rle, height, width, context)
    return {"size": [int(height), int(width)], "counts": coco["counts"].decode("ascii")}


def _coco_size(coco_rle, context: str | None) -> tuple[int, int]:
    if not isinstance(coco_rle, dict) or "size" not in coco_rle or "counts" not in coco_rle:
        raise _fail("COCO RLE must be a dict with 'size' and 'counts'", context)
    size = coco_rle["size"]
    if not isinstance(size, list | tuple) or len(size) != 2:
        raise _fail(f"COCO RLE 'size' must be [height, width], got {size!r}", context)
    return _check_size(size[0], size[1], context)


def _checked_counts(counts, height: int, width: int, context: str | None) -> np.ndarray:
    """Uncompressed COCO counts -> int64 ``[C]``, validated: a flat list of integers >= 0 whose sum
    is at most ``height * width``."""
    try:
        arr = np.asarray(counts)
    except (TypeError, ValueError) as exc:
        raise _fail(f"COCO RLE counts are not a list of integers: {exc}", context) from exc
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise _fail("COCO RLE counts must be a flat list of integers", context)
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise _fail(f"COCO RLE count {int(arr.min())} < 0", context)
    n_pixels = height * width
    total = int(arr.sum())
    if total > n_pixels:
        raise _fail(
            f"COCO RLE counts sum to {total}, past height*width = {height}*{width} = {n_pixels}",
            context,
        )
    return arr


def _expand_counts(arr: np.ndarray, height: int, width: int) -> np.ndarray:
    """Validated counts -> uint8 ``[height, width]`` (Fortran-ordered); a short sum leaves the
    remaining pixels background."""
    arr = np.append(arr, height * width - int(arr.sum()))
    values = (np.arange(arr.size) % 2).astype(np.uint8)
    return np.repeat(values, arr).reshape(width, height).T


def uncompressed_counts_to_mask(
    counts, height: int, width: int, context: str | None = None
) -> np.ndarray:
    """Uncompressed COCO counts (list of ints) -> uint8 ``[height, width]`` (Fortran-ordered).

    Raises RLEError for negative or non-integer counts or counts summing past ``height * width``;
    counts summing to less leave the remaining pixels background.
    """
    height, width = _check_size(height, width, context)
    return _expand_counts(_checked_counts(counts, height, width, context), height, width)


def check_coco_rle(coco_rle: dict, context: str | None = None) -> np.ndarray:
    """Validate a COCO RLE dict (compressed or uncompressed) without building the mask.

    Returns:
        int64 ``[C]``: the uncompressed counts (alternating background / foreground run lengths,
        column-major), each >= 0, summing to at most ``h * w`` of its ``size``.

    Raises:
        RLEError: bad ``size``, counts of the wrong type, a compressed string outside
            pycocotools' alphabet or ending mid-count, a negative count, a sum past ``h * w``.
    """
    height, width = _coco_size(coco_rle, context)
    counts = coco_rle["counts"]
    if isinstance(counts, bytes):
        try:
            counts = counts.decode("ascii")
        except UnicodeDecodeError as exc:
            raise _fail("compressed COCO RLE counts are not ASCII", context) from exc
    if isinstance(counts, str):
        counts = compressed_to_counts(counts, context)
    elif not isinstance(counts, list | tuple | np.ndarray):
        raise _fail(f"COCO RLE counts must be str, bytes or list, got {type(counts)}", context)
    return _checked_counts(counts, height, width, context)


def coco_to_mask(coco_rle: dict, context: str | None = None) -> np.ndarray:
    """Any COCO RLE dict (compressed or uncompressed) -> uint8 ``[h, w]`` mask (Fortran-ordered).

    Raises RLEError as :func:`check_coco_rle`.
    """
    counts = check_coco_rle(coco_rle, context)
    height, width = _coco_size(coco_rle, context)
    return _expand_counts(counts, height, width)


def compressed_to_counts(counts: str, context: str | None = None) -> list[int]:
    """Parse pycocotools' compressed counts string into the uncompressed run-length list.

    The format: each count is a little-endian sequence of 5-bit groups, one per character
    (character code - 48); bit 0x20 of a character means "more groups follow", bit 0x10 of the last
    group is the sign. From the fourth count on, the stored value is the difference to the count
    two places back. Raises RLEError on characters outside the alphabet, a truncated last count
    or a negative resulting count.
    """
    out: list[int] = []
    i = 0
    n = len(counts)
    while i < n:
        value = 0
        shift = 0
        while True:
            if i >= n:
                raise _fail("compressed COCO RLE ends in the middle of a count", context)
            c = ord(counts[i]) - 48
            if c < 0 or c > 63:
                raise _fail(f"invalid character {counts[i]!r} in compressed COCO RLE", context)
            value |= (c & 0x1F) << shift
            more = c & 0x20
            i += 1
            shift += 5
            if not more:
                if c & 0x10:
                    value |= -1 << shift
                break
        if len(out) > 2:
            value += out[-2]
        if value < 0:
            raise _fail(f"compressed COCO RLE gives a negative count ({value})", context)
        out.append(value)
    return out


def from_coco(coco_rle: dict, context: str | None = None) -> str:
    """COCO RLE dict (compressed ``counts`` str/bytes or uncompressed list) -> Kaggle RLE string."""
    return encode(coco_to_mask(coco_rle, context))
