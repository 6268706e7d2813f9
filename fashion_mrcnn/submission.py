"""Kaggle iMaterialist submission: encode detections, remove overlaps, apply the attribute policy,
write one row per mask (and a placeholder row for images where nothing was found), and validate a
submission file before uploading it.

A submission CSV has the columns ``ImageId, EncodedPixels, ClassId``. ``EncodedPixels`` is a Kaggle
RLE (column-major, 1-indexed ``start length`` pairs) of a mask at the submission size (512 x 512
for iMaterialist 2019); ``ClassId`` is the category id, optionally followed by ``_<attribute id>``
suffixes (``"10_1_2"``). Columns and grammar: :mod:`fashion_mrcnn.data.formats.kaggle_csv`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fashion_mrcnn.constants import ATTRIBUTE_POLICIES
from fashion_mrcnn.data.categories import ATTRIBUTE_CATEGORIES
from fashion_mrcnn.data.formats.kaggle_csv import (
    ATTRIBUTES_FORM,
    CLASS_ID_GRAMMAR,
    CLASS_ID_RE,
    LAYOUTS,
    PRED_COLUMNS,
    format_class_id,
    layout_of,
    parse_attribute_ids,
    parse_class_id,
    pred_columns,
    split_class_id,
    to_2020_layout,
)
from fashion_mrcnn.data.formats.rle import encode, parse_runs
from fashion_mrcnn.data.images import list_images
from fashion_mrcnn.errors import FashionDataError, RLEError
from fashion_mrcnn.inference.detect import detect_files
from fashion_mrcnn.inference.overlaps import OVERLAP_POLICIES, remove_overlaps
from fashion_mrcnn.ops.image import resize_masks_nearest
from fashion_mrcnn.shards import Shard

SUBMISSION_COLUMNS = list(PRED_COLUMNS)
PLACEHOLDER = ("1 1", "23")  # Kaggle's sample_submission row for an image without predictions


def class_string(category: int | str, attribute_ids: Iterable[int] = ()) -> str:
    """``"10"`` + attributes ``[2, 1]`` -> ``"10_1_2"`` (sorted, unique attribute ids)."""
    return format_class_id(category, sorted({int(a) for a in attribute_ids}))


def _category_of(class_id: int, class_map) -> int:
    if class_map is None:
        return int(class_id)
    if callable(class_map) and not isinstance(class_map, Mapping):
        value = class_map(int(class_id))
    else:
        try:
            value = class_map[int(class_id)]
        except (KeyError, IndexError):
            raise FashionDataError(
                f"class_map has no entry for internal class id {class_id}"
            ) from None
    match = CLASS_ID_RE.match(str(value))
    if not match:
        raise FashionDataError(f"class_map maps {class_id} to {value!r}, not a category id")
    return int(match.group(1))


def image_rows(
    prediction: dict,
    image_id: str,
    size: tuple[int, int] = (512, 512),
    overlap: str = "all",
    min_area: int = 0,
    attributes: str = "keep",
    class_map: Mapping | Sequence | Callable | None = None,
    attribute_categories: Iterable[int] = ATTRIBUTE_CATEGORIES,
) -> list[tuple[str, str, str]]:
    """Submission rows ``(ImageId, EncodedPixels, ClassId)`` for one image's detections.

    Args:
        prediction: ``detect()``-style dict: ``masks`` bool [H, W, N] at the image size,
            ``class_ids`` int [N] (internal ids unless ``class_map`` is None), ``scores`` float [N],
            optional ``attribute_ids`` (list of N lists of attribute ids).
        size, overlap, min_area, attributes, class_map, attribute_categories: see
            :func:`make_submission`.

    Returns:
        Rows in descending score order; empty when nothing survives.
    """
    masks = np.asarray(prediction["masks"], dtype=bool)
    class_ids = np.asarray(prediction["class_ids"]).reshape(-1)
    n = class_ids.size
    if masks.ndim != 3 or masks.shape[2] != n:
        raise FashionDataError(
            f"image {image_id}: masks must be [H, W, N] with N = {n} class ids, got {masks.shape}"
        )
    scores = np.asarray(prediction.get("scores", np.ones(n)), dtype=np.float64).reshape(-1)
    attrs = prediction.get("attribute_ids")
    attrs = [[] for _ in range(n)] if attrs is None else [list(a) for a in attrs]
    if len(attrs) != n or scores.size != n:
        raise FashionDataError(f"image {image_id}: scores / attribute_ids do not have {n} entries")
    categories = [_category_of(c, class_map) for c in class_ids]
    attr_cats = {int(c) for c in attribute_categories}
    if attributes == "keep":
        classes = [class_string(c, a) for c, a in zip(categories, attrs)]
    elif attributes in ("strip", "drop_attribute_categories"):
        classes = [class_string(c) for c in categories]
    else:
        raise ValueError(f"attributes must be one of {ATTRIBUTE_POLICIES}, got {attributes!r}")
    keep = np.ones(n, dtype=bool)
    if attributes == "drop_attribute_categories":
        keep = np.array([c not in attr_cats for c in categories], dtype=bool)
    if overlap not in OVERLAP_POLICIES:
        raise ValueError(f"overlap must be one of {OVERLAP_POLICIES}, got {overlap!r}")
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return []
    small = resize_masks_nearest(masks[:, :, idx], size)
    if overlap == "all":
        small = remove_overlaps(small, scores[idx])
    elif overlap == "class":
        small = remove_overlaps(small, scores[idx], np.array([classes[i] for i in idx]))
    areas = small.sum(axis=(0, 1))
    rows = []
    for j in np.argsort(-scores[idx], kind="stable"):
        if areas[j] < max(int(min_area), 1):
            continue
        rows.append((image_id, encode(small[:, :, j]), classes[idx[j]]))
    return rows


def make_submission(
    predictions: Sequence[dict],
    image_ids: Sequence[str],
    out_csv: str | Path | None,
    size: tuple[int, int] = (512, 512),
    overlap: str = "all",
    min_area: int = 0,
    attributes: str = "keep",
    class_map: Mapping | Sequence | Callable | None = None,
    placeholder: tuple[str, str] | None = PLACEHOLDER,
    attribute_categories: Iterable[int] = ATTRIBUTE_CATEGORIES,
    layout: int = 2019,
) -> pd.DataFrame:
    """Build (and write) a Kaggle submission from per-image detections.

    Args:
        predictions: one ``detect()``-style dict per image (see :func:`image_rows`).
        image_ids: the Kaggle ``ImageId`` of each prediction (same length).
        out_csv: where to write the CSV (``None``: only return the DataFrame).
        size: ``(height, width)`` of the submission masks; masks are resized with nearest
            sampling.
        overlap: ``"all"``: a pixel belongs to at most one mask of the image (the higher score
            wins); ``"class"``: only masks with the same ClassId are made disjoint (1st place);
            ``"none"``: leave overlaps.
        min_area: drop masks with fewer pixels (at ``size``, after overlap removal); masks left
            empty are always dropped.
        attributes: ``"keep"`` (``"10_1_2"``), ``"strip"`` (``"10"``) or
            ``"drop_attribute_categories"`` (strip and remove every instance of the categories in
            ``attribute_categories``).
        class_map: internal class id -> iMaterialist category (mapping, sequence or callable);
            ``None`` when class ids already are categories.
        placeholder: ``(EncodedPixels, ClassId)`` written for an image without any mask (Kaggle's
            sample: ``("1 1", "23")``); ``None`` writes no row for such images.
        attribute_categories: categories removed by ``"drop_attribute_categories"``.
        layout: 2019 (attribute ids as ``ClassId`` suffixes, ``"10_1_2"``) or 2020 (FGVC7:
            ``ClassId`` ``"10"`` and ``AttributesIds`` ``"1,2"``;
            ``data.formats.kaggle_csv.to_2020_layout``). The attribute ids are each
            prediction's ``attribute_ids`` (a model with the attribute head gives them).

    Returns:
        DataFrame with columns ``ImageId, EncodedPixels, ClassId`` (and ``AttributesIds`` in the
        2020 layout).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if len(predictions) != len(image_ids):
        raise ValueError(f"{len(predictions)} predictions but {len(image_ids)} image ids")
    if len(set(image_ids)) != len(image_ids):
        raise ValueError("image_ids contains duplicates")
    rows: list[tuple[str, str, str]] = []
    for prediction, image_id in zip(predictions, image_ids):
        found = image_rows(
            prediction, str(image_id), size, overlap, min_area, attributes, class_map,
            attribute_categories,
        )  # fmt: skip
        if not found and placeholder is not None:
            found = [(str(image_id), str(placeholder[0]), str(placeholder[1]))]
        rows.extend(found)
    df = pd.DataFrame(rows, columns=SUBMISSION_COLUMNS)
    if layout == 2020:
        df = to_2020_layout(df)
    if out_csv is not None:
        out_csv = Path(out_csv)
        out_csv.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out_csv, index=False)
    return df


def predict_submission(
    model,
    images_dir: str | Path,
    out_csv: str | Path,
    progress: bool = True,
    postprocess: Callable[[dict], dict] | None = None,
    shard: Shard | None = None,
    soft_masks: bool = False,
    **kwargs,
) -> pd.DataFrame:
    """Run ``model.detect`` over every image in ``images_dir`` and write the submission.

    ``ImageId`` is the file name. ``postprocess``: ``detect() dict -> detect() dict`` applied to
    each image's detections first (e.g. ``inference.postprocess.apply_postprocess`` bound to a
    setting; ``None``: none), as each image is done. ``shard``: only that shard's block of the
    folder's images (:mod:`fashion_mrcnn.shards`; the caller writes its manifest).
    ``soft_masks``: ask ``detect`` for soft masks too (what a setting's ``mask_threshold``
    binarises; ``apply_postprocess`` consumes them). ``kwargs`` go to :func:`make_submission`
    (size, overlap, min_area, attributes, class_map, placeholder).
    """
    paths = list_images(images_dir)
    if not paths:
        raise FileNotFoundError(f"no images in {images_dir}")
    if shard is not None:
        paths = shard.select(paths)
    predictions = [
        result if postprocess is None else postprocess(result)
        for _, _, result in detect_files(model, paths, progress, soft_masks=soft_masks)
    ]
    return make_submission(predictions, [p.name for p in paths], out_csv, **kwargs)


# ------------------------------------------------------------------------------- validation


def _test_image_ids(test_images) -> set[str] | None:
    if test_images is None:
        return None
    if isinstance(test_images, str | Path) and Path(test_images).is_dir():
        return {p.name for p in list_images(test_images)}
    if isinstance(test_images, str | Path):
        raise FileNotFoundError(f"test_images: not a directory: {test_images}")
    return {t.name if isinstance(t, Path) else str(t) for t in test_images}


def validate_submission(
    path: str | Path,
    test_images=None,
    size: tuple[int, int] = (512, 512),
    num_categories: int = 46,
    num_attributes: int | None = None,
    overlap: str = "all",
) -> list[str]:
    """Check a submission CSV and list every problem found (empty list = valid). Either layout:
    2019 (``ImageId, EncodedPixels, ClassId`` with attribute suffixes) or 2020 (``ClassId`` a
    category id, ``AttributesIds``), told apart by the header.

    Args:
        path: the CSV.
        test_images: the expected image ids (iterable of names, or of ``Path`` objects whose
            file names are used) or the test image directory; ``None`` skips the missing /
            extra image checks.
        size: ``(height, width)`` of the submission masks.
        num_categories: valid category ids are ``0 .. num_categories - 1``.
        num_attributes: valid attribute ids are ``0 .. num_attributes - 1`` (``None``: any).
        overlap: ``"all"``: masks of one image must not share pixels; ``"class"``: only masks with
            the same ClassId; ``"none"``: no overlap check.

    Returns:
        Problems as ``"line N (image X): reason"`` strings (N = line number in the file,
        header = line 1), followed by image-level problems.
    """
    path = Path(path)
    if not path.is_file():
        return [f"{path}: no such file"]
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        return [f"{path}: not a readable CSV ({exc})"]
    problems: list[str] = []
    layout = layout_of(df.columns)
    if list(df.columns) != list(pred_columns(layout)):
        expected = " or ".join(str(list(pred_columns(k))) for k in LAYOUTS)
        return [f"{path}: bad header {list(df.columns)}, expected {expected}"]
    h, w = int(size[0]), int(size[1])
    intervals: dict[tuple, list[tuple[np.ndarray, np.ndarray, int]]] = {}
    for i, (image_id, rle, cls, *cells) in enumerate(df.itertuples(index=False, name=None)):
        where = f"line {i + 2} (image {image_id})"
        if not image_id:
            problems.append(f"{where}: empty ImageId")
        parsed = _row_classes(cls, cells[0] if cells else None)
        if isinstance(parsed, str):
            problems.append(f"{where}: {parsed}")
        else:
            category, attrs = parsed
            if category >= num_categories:
                problems.append(f"{where}: unknown category {category} (>= {num_categories})")
            if len(set(attrs)) != len(attrs):
                problems.append(f"{where}: repeated attribute in ClassId {cls!r}")
            if num_attributes is not None and any(a >= num_attributes for a in attrs):
                problems.append(f"{where}: attribute id >= {num_attributes} in ClassId {cls!r}")
        if not rle.strip():
            continue  # an empty EncodedPixels is a "nothing found" placeholder
        try:
            starts, lengths = parse_runs(rle, h, w)
        except RLEError as exc:
            problems.append(f"{where}: bad RLE: {exc}")
            continue
        if overlap != "none":
            key = (image_id,) if overlap == "all" else (image_id, cls.strip())
            intervals.setdefault(key, []).append((starts, starts + lengths, i + 2))
    if overlap not in OVERLAP_POLICIES:
        raise ValueError(f"overlap must be one of {OVERLAP_POLICIES}, got {overlap!r}")
    for key, runs in intervals.items():
        if len(runs) < 2:
            continue
        starts = np.concatenate([r[0] for r in runs])
        ends = np.concatenate([r[1] for r in runs])
        lines = np.concatenate([np.full(r[0].size, r[2]) for r in runs])
        order = np.argsort(starts, kind="stable")
        starts, ends, lines = starts[order], ends[order], lines[order]
        running_end = np.maximum.accumulate(ends)
        hits = np.flatnonzero(starts[1:] < running_end[:-1]) + 1
        if hits.size:
            k = hits[0]
            other = lines[:k][np.flatnonzero(ends[:k] > starts[k])[-1]]
            scope = "" if overlap == "all" else f" of class {key[1]}"
            problems.append(
                f"line {lines[k]} (image {key[0]}): mask overlaps the mask on line {other}{scope}"
                f" ({hits.size} overlapping run(s) in this image)"
            )
    expected = _test_image_ids(test_images)
    if expected is not None:
        present = set(df["ImageId"])
        for image_id in sorted(expected - present):
            problems.append(f"image {image_id}: missing (every test image needs a row)")
        for image_id in sorted(present - expected):
            problems.append(f"image {image_id}: not a test image")
    return problems


def _row_classes(class_id: str, attributes: str | None) -> tuple[int, list[int]] | str:
    """``(category, attribute ids)`` of one submission row, or what is wrong with it: a 2019
    ``ClassId`` (``"10_1_2"``) when ``attributes`` is None, else a 2020 row (``ClassId`` a bare
    category id, ``AttributesIds`` ``"1,2"``)."""
    if attributes is None:
        match = CLASS_ID_RE.match(class_id.strip())
        if not match:
            return f"ClassId {class_id!r} is not {CLASS_ID_GRAMMAR}"
        category_text, attr_texts = split_class_id(match.group(0))
        return int(category_text), [int(a) for a in attr_texts]
    parsed = parse_class_id(class_id, 2020)
    if parsed is None:
        return f"ClassId {class_id!r} is not a category id (the 2020 layout)"
    attrs = parse_attribute_ids(attributes)
    if attrs is None:
        return f"AttributesIds {attributes!r} is not {ATTRIBUTES_FORM[1]}"
    return parsed[0], attrs


def assert_valid_submission(path: str | Path, test_images=None, **kwargs) -> None:
    """Raise :class:`FashionDataError` listing the problems of a submission (see
    :func:`validate_submission` for the arguments)."""
    problems = validate_submission(path, test_images, **kwargs)
    if problems:
        shown = "\n  ".join(problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        raise FashionDataError(f"{path}: {len(problems)} problem(s):\n  {shown}{more}")
