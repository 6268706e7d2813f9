"""The one batched detect loop: every consumer (evaluation, prediction files, submissions) runs
``model.detect`` through :func:`detect_batches`.

The model follows Matterport's ``detect`` contract: a list of exactly ``model.config.BATCH_SIZE``
RGB images (uint8 [H, W, 3]) in, one dict per image out (``rois`` int32 [N, (y1, x1, y2, x2)],
``class_ids`` int32 [N], ``scores`` float32 [N], ``masks`` bool [H, W, N]). A short final batch
is padded with its last image and the padded results are dropped. ``soft_masks=True`` asks
``detect`` for the masks before the threshold too (``soft_masks`` uint8 [H, W, N], levels of
``ops.masks.SOFT_MASK_LEVELS``: what a tuned ``mask_threshold`` of ``inference.postprocess``
binarises); without it ``detect`` is called as before and returns exactly what it did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from fashion_mrcnn.errors import FashionDataError, SkipReport


def detect_batches(
    model,
    items: Sequence,
    load: Callable[[object], np.ndarray],
    progress: bool = False,
    skipped: SkipReport | None = None,
    soft_masks: bool = False,
) -> Iterator[tuple[object, np.ndarray, dict]]:
    """Yield ``(item, image uint8 [H, W, 3], detect() dict)`` for each of ``items`` in order,
    running ``model.detect`` in batches of ``model.config.BATCH_SIZE`` (default 1).

    ``load(item)`` reads one image. ``skipped``: None lets a :class:`FashionDataError` of
    ``load`` propagate; a ``SkipReport`` records the item and the reason (without the leading
    ``"<item>: "``) and leaves it out, the others are still yielded. ``soft_masks``: call
    ``model.detect(images, soft_masks=True)`` (module doc).
    """
    from tqdm.auto import tqdm

    batch_size = int(getattr(getattr(model, "config", None), "BATCH_SIZE", 1) or 1)
    options = {"soft_masks": True} if soft_masks else {}
    bar = tqdm(total=len(items), desc="detect", unit="img", disable=not progress)
    try:
        for start in range(0, len(items), batch_size):
            chunk = []
            for item in items[start : start + batch_size]:
                try:
                    chunk.append((item, load(item)))
                except FashionDataError as exc:
                    if skipped is None:
                        raise
                    skipped.add(item, str(exc).removeprefix(f"{item}: "))
            if chunk:
                images = [image for _, image in chunk]
                results = model.detect(images + [images[-1]] * (batch_size - len(chunk)), **options)
                if len(results) != batch_size:
                    raise RuntimeError(
                        f"model.detect returned {len(results)} results for {batch_size} images"
                    )
                for (item, image), result in zip(chunk, results[: len(chunk)]):
                    yield item, image, result
            bar.update(len(items[start : start + batch_size]))
    except BaseException:
        bar.leave = False  # cleared on close: the error's message is not led by a stale bar
        raise
    finally:
        bar.close()


def detect_files(
    model,
    paths: Sequence[Path],
    progress: bool = True,
    skipped: SkipReport | None = None,
    soft_masks: bool = False,
) -> Iterator[tuple[Path, np.ndarray, dict]]:
    """:func:`detect_batches` over image files (read with ``data.images.load_rgb``): yields
    ``(path, image, detect() dict)``; unreadable files raise or go to ``skipped``."""
    from fashion_mrcnn.data.images import load_rgb

    return detect_batches(model, list(paths), load_rgb, progress, skipped, soft_masks)


def detect_dataset(
    model, dataset, image_indices, progress: bool = False, soft_masks: bool = False
) -> list[dict]:
    """``detect()`` dicts for ``dataset`` images ``image_indices`` (``dataset.load_image``), in
    order (``soft_masks``: as :func:`detect_batches`)."""
    found = detect_batches(
        model, list(image_indices), dataset.load_image, progress, soft_masks=soft_masks
    )
    return [result for _, _, result in found]
