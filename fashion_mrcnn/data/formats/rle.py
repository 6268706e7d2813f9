"""Kaggle run-length encoding (RLE) of binary masks: the codec, its validation, batch decoders.

Kaggle convention (iMaterialist 2019 / 2020 ``EncodedPixels``): the pixels of an ``[H, W]`` mask
are numbered 1 .. H*W down the columns first, then across (column-major, Fortran order: pixel
``(y, x)`` has number ``x * H + y + 1``). A mask is written as space-separated ``start length``
pairs, one per run of foreground pixels, runs in increasing order; the empty mask is ``""``.

The bridge to and from COCO RLE (pycocotools' ``counts``) is :mod:`.coco_rle`; the CSV columns
the encodings sit in (``EncodedPixels``) are :mod:`.kaggle_csv`'s.

Everything here is vectorised numpy, except :func:`decode_rles_tf`, the TensorFlow decoder the
shard cache's ``tf.data`` reader runs (its numpy twin is :func:`decode_rles_np`). Malformed input
raises :class:`~fashion_mrcnn.errors.RLEError` naming the problem (optionally prefixed by a
``context`` string such as ``"train.csv row 17, image abc.jpg"``). A malformed encoding never
yields a silently wrong mask.
"""

from __future__ import annotations

import numbers

import numpy as np

from fashion_mrcnn.errors import RLEError

__all__ = [
    "RLEError",
    "decode",
    "decode_rles_np",
    "decode_rles_tf",
    "encode",
    "merged_runs",
    "parse_runs",
    "rle_area",
]


def _fail(problem: str, context: str | None) -> RLEError:
    return RLEError(f"{context}: {problem}" if context else problem)


def _check_size(height, width, context: str | None) -> tuple[int, int]:
    """Validate and return ``(height, width)`` as positive Python ints."""
    out = []
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool | np.bool_):
            raise _fail(f"{name} must be a positive integer, got {value!r}", context)
        if not isinstance(value, numbers.Integral):
            if isinstance(value, numbers.Real) and float(value).is_integer():
                value = int(value)
            else:
                raise _fail(f"{name} must be a positive integer, got {value!r}", context)
        if value < 1:
            raise _fail(f"{name} must be a positive integer, got {value!r}", context)
        out.append(int(value))
    return out[0], out[1]


def _bad_token_problem(tokens: list[str]) -> str:
    """Describe the first token that is not a non-negative decimal integer."""
    for i, tok in enumerate(tokens):
        if not (tok.isascii() and tok.isdigit()):
            role = "start" if i % 2 == 0 else "length"
            body = tok[1:] if tok[:1] in "+-" else tok
            if tok.startswith("-") and body.isascii() and body.isdigit():
                return f"{role} {tok} < 1 (token {i + 1})"
            return f"non-numeric token {tok!r} (token {i + 1})"
    return "unparseable tokens"  # pragma: no cover - only called when a bad token exists


def parse_runs(
    rle: str | None, height: int, width: int, context: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Parse and validate a Kaggle RLE string.

    Args:
        rle: ``"start length start length ..."`` (1-indexed, column-major); ``""``/``None`` = empty.
        height, width: mask size in pixels.
        context: optional text prefixed to error messages.

    Returns:
        ``(starts, lengths)``: int64 ``[R]`` each; ``starts`` are 0-based flat column-major
        indices. Runs are sorted, non-overlapping and inside ``height * width``. Touching runs
        (one starting right where the previous ends) are valid input; :func:`encode` never
        writes them, it merges them into one run.

    Raises:
        RLEError: odd token count, non-numeric token, start < 1, length < 1, runs not strictly
            increasing or overlapping, a run past ``height * width``, bad height / width.
    """
    height, width = _check_size(height, width, context)
    empty = np.zeros(0, dtype=np.int64)
    if rle is None:
        return empty, empty
    if not isinstance(rle, str):
        if isinstance(rle, float) and np.isnan(rle):  # pandas reads an empty CSV cell as NaN
            return empty, empty
        raise _fail(f"RLE must be a string, got {type(rle).__name__}", context)
    tokens = rle.split()
    if not tokens:
        return empty, empty
    if len(tokens) % 2:
        raise _fail(f"odd number of tokens ({len(tokens)}): RLE needs start length pairs", context)
    joined = "".join(tokens)
    if not (joined.isascii() and joined.isdigit()):
        raise _fail(_bad_token_problem(tokens), context)
    values = np.fromstring(rle, dtype=np.int64, sep=" ")
    if values.size != len(tokens):  # pragma: no cover - defensive, digits-only always parse
        raise _fail("could not parse every token", context)
    starts = values[0::2]
    lengths = values[1::2]
    n_pixels = height * width
    # Huge tokens saturate at int64 max; reject anything beyond the image before adding.
    if starts.min() < 1:
        i = int(np.argmax(starts < 1))
        raise _fail(f"start {int(starts[i])} < 1 (run {i + 1})", context)
    if lengths.min() < 1:
        i = int(np.argmax(lengths < 1))
        raise _fail(f"length {int(lengths[i])} < 1 (run {i + 1})", context)
    too_big = (starts > n_pixels) | (lengths > n_pixels)
    if too_big.any():
        i = int(np.argmax(too_big))
        raise _fail(
            f"run {i + 1} ({tokens[2 * i]} {tokens[2 * i + 1]}) goes past height*width = "
            f"{height}*{width} = {n_pixels}",
            context,
        )
    starts = starts - 1
    ends = starts + lengths
    if ends[-1] > n_pixels or (ends > n_pixels).any():
        i = int(np.argmax(ends > n_pixels))
        raise _fail(
            f"run {i + 1} ({int(starts[i]) + 1} {int(lengths[i])}) ends at pixel {int(ends[i])} "
            f"past height*width = {height}*{width} = {n_pixels}",
            context,
        )
    if starts.size > 1:
        bad = starts[1:] < ends[:-1]
        if bad.any():
            i = int(np.argmax(bad))
            kind = "not strictly increasing" if starts[i + 1] <= starts[i] else "overlapping"
            raise _fail(
                f"runs {kind}: run {i + 2} starts at {int(starts[i + 1]) + 1} but run {i + 1} "
                f"covers {int(starts[i]) + 1}..{int(ends[i])}",
                context,
            )
    return starts, lengths


def decode(rle: str | None, height: int, width: int, context: str | None = None) -> np.ndarray:
    """Decode a Kaggle RLE string into a mask.

    Args:
        rle: Kaggle RLE (see module docstring); ``""`` or ``None`` gives an all-zero mask.
        height, width: mask size.
        context: optional text prefixed to error messages.

    Returns:
        uint8 ``[height, width]`` with values 0 / 1. The array is Fortran-ordered (a transposed
        view of the column-major buffer, like pycocotools' output); use
        ``np.ascontiguousarray`` if C order matters.

    Raises:
        RLEError: see :func:`parse_runs`.
    """
    starts, lengths = parse_runs(rle, height, width, context)
    height, width = int(height), int(width)
    counts = _coco_counts(starts, starts + lengths, height * width)
    values = (np.arange(counts.size) % 2).astype(np.uint8)
    flat = np.repeat(values, counts)
    return flat.reshape(width, height).T


def _change_points(mask: np.ndarray) -> np.ndarray:
    """Sorted column-major flat indices where a bool ``[H, W]`` mask switches value.

    Index ``k`` means pixel ``k - 1`` and pixel ``k`` differ (index 0 / ``H * W`` are reported when
    the first / last pixel is foreground, as if the mask were padded with background). Returns
    int64 ``[C]``, C even. Avoids a transposing copy of C-ordered masks: changes down each column
    are found on the C-ordered array and then sorted into column-major order.
    """
    height, width = mask.shape
    if mask.flags.f_contiguous or width == 1 or height == 1:
        flat = mask.T.reshape(-1)  # a view for Fortran-ordered (and single row / column) masks
        changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    else:
        # np.flatnonzero + divmod is much faster than a 2-D np.nonzero.
        ys, xs = np.divmod(np.flatnonzero(mask[1:] != mask[:-1]), width)  # (y, x) vs (y + 1, x)
        cols = np.flatnonzero(mask[-1, :-1] != mask[0, 1:])  # end of column x vs top of x + 1
        changes = np.concatenate((xs * height + ys + 1, (cols + 1) * height))
        changes.sort()
    first = bool(mask[0, 0])
    last = bool(mask[-1, -1])
    if first or last:
        head = np.zeros(int(first), dtype=np.int64)
        tail = np.full(int(last), mask.size, dtype=np.int64)
        changes = np.concatenate((head, changes, tail))
    return changes.astype(np.int64, copy=False)


def encode(mask: np.ndarray) -> str:
    """Encode a 2-D mask as a Kaggle RLE string.

    Args:
        mask: ``[H, W]`` array of any numeric or bool dtype; nonzero pixels are foreground.

    Returns:
        ``"start length ..."`` (1-indexed, column-major), ``""`` for an empty mask.

    Raises:
        RLEError: when ``mask`` is not 2-D or has a zero-sized side.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.shape[0] < 1 or mask.shape[1] < 1:
        raise RLEError(f"mask must be a non-empty 2-D array [H, W], got shape {mask.shape}")
    if mask.dtype != np.bool_:
        mask = mask != 0
    changes = _change_points(mask)
    if changes.size == 0:
        return ""
    pairs = changes.reshape(-1, 2)
    pairs[:, 1] -= pairs[:, 0]
    pairs[:, 0] += 1
    return " ".join(map(str, pairs.ravel().tolist()))


def rle_area(rle: str | None, height: int, width: int, context: str | None = None) -> int:
    """Foreground pixel count of a Kaggle RLE (sum of run lengths), validated, without decoding."""
    _, lengths = parse_runs(rle, height, width, context)
    return int(lengths.sum())


def merged_runs(
    rle: str | None, height: int, width: int, context: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validated runs of a Kaggle RLE (:func:`parse_runs`) with touching runs merged.

    Returns ``(starts, ends)``: int64 [R] each, 0-indexed column-major pixel numbers, ``ends``
    exclusive, sorted, disjoint and non-adjacent (so every COCO count built from them is
    positive, as pycocotools writes them).
    """
    starts, lengths = parse_runs(rle, height, width, context)
    ends = starts + lengths
    if starts.size > 1:
        gaps = starts[1:] - ends[:-1]
        if np.any(gaps == 0):
            starts = starts[np.r_[True, gaps > 0]]
            ends = ends[np.r_[gaps > 0, True]]
    return starts, ends


def _coco_counts(starts: np.ndarray, ends: np.ndarray, n_pixels: int) -> np.ndarray:
    """int64 ``[C]`` alternating background / foreground run lengths (column-major, first one
    background, possibly 0; no trailing 0) of sorted, disjoint, 0-indexed runs ``[starts, ends)``
    over ``n_pixels``: what :func:`decode` expands, and as a list ``coco_rle.runs_to_coco_counts``
    (COCO's uncompressed counts)."""
    if starts.size == 0:
        return np.array([n_pixels], dtype=np.int64)
    counts = np.empty(2 * starts.size + 1, dtype=np.int64)
    counts[0] = starts[0]
    counts[1:-1:2] = ends - starts
    counts[2:-1:2] = starts[1:] - ends[:-1]
    counts[-1] = n_pixels - ends[-1]
    return counts[:-1] if counts[-1] == 0 else counts


def decode_rles_np(rles, height: int, width: int) -> np.ndarray:
    """Kaggle RLE strings (str or bytes) [N] -> bool [H, W, N] (via :func:`decode`)."""
    masks = np.zeros((height, width, len(rles)), dtype=bool)
    for k, text in enumerate(rles):
        masks[..., k] = decode(text.decode() if isinstance(text, bytes) else text, height, width)
    return masks


def decode_rles_tf(rles, height, width):
    """TensorFlow twin of :func:`decode_rles_np`: string [N] -> bool [H, W, N].

    Each run adds +1 at its first pixel and -1 one past its end in a flat column-major buffer;
    a cumulative sum gives the mask. Assumes valid encodings (as the shard cache writes them).
    """
    import tensorflow as tf  # plain import: this runs inside tf.data tracing

    rles = tf.convert_to_tensor(rles, tf.string)
    height = tf.cast(height, tf.int64)
    width = tf.cast(width, tf.int64)
    n = tf.shape(rles, out_type=tf.int64)[0]
    size = height * width
    nums = tf.strings.to_number(tf.strings.split(rles), out_type=tf.int64)  # ragged [N, 2R]
    values = nums.flat_values
    rows = nums.value_rowids()
    local = tf.range(tf.size(values, out_type=tf.int64)) - tf.gather(nums.row_starts(), rows)
    is_start = tf.equal(local % 2, 0)
    starts = tf.boolean_mask(values, is_start) - 1
    ends = starts + tf.boolean_mask(values, tf.logical_not(is_start))
    run_rows = tf.boolean_mask(rows, is_start)
    idx = tf.concat([tf.stack([run_rows, starts], 1), tf.stack([run_rows, ends], 1)], 0)
    delta = tf.concat([tf.ones_like(starts, tf.int32), -tf.ones_like(ends, tf.int32)], 0)
    flat = tf.scatter_nd(idx, delta, tf.stack([n, size + 1]))
    flat = tf.cumsum(flat, axis=1)[:, :size] > 0  # [N, W*H] column-major
    return tf.transpose(tf.reshape(flat, tf.stack([n, width, height])), [2, 1, 0])
