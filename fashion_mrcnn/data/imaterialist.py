"""iMaterialist (Fashion) 2019 / 2020 ``train.csv`` + ``label_descriptions.json`` -> records.

Layouts, detected from the header (columns and ``ClassId`` grammar:
:mod:`fashion_mrcnn.data.formats.kaggle_csv`):

- 2019: ``ImageId,EncodedPixels,Height,Width,ClassId`` with ``ClassId`` = ``"10"`` or
  ``"10_1_2"`` (category 10 with attributes 1 and 2);
- 2020: the same plus ``AttributesIds`` (``"1,2"`` or empty); ``ClassId`` is the category only.

One CSV row is one instance; rows are grouped per ``ImageId`` into one record each (see
docs/DESIGN.md). Masks are not decoded here: each instance keeps its RLE string
(``{"kind": "kaggle_rle", "data": ...}``). Every row gets cheap vectorised / string-level checks
(Height / Width positive integers and constant within an image, ClassId parseable, category known,
RLE tokens even in number and numeric, first start >= 1, last run inside Height * Width); the full
RLE validation happens when the mask is decoded.

Problems name the CSV file, the 1-based data row (header not counted), the ImageId and the problem.
``on_error="raise"`` raises :class:`FashionDataError` on the first problem (in file order);
``on_error="skip"`` drops the row (or the whole image, for image-level problems) and records it in
the :class:`SkipReport`. In skip mode the index also does what would otherwise wait for training
(:func:`fashion_mrcnn.data.records.validate_records`): every RLE is parsed in full and every image
file is opened (not truncated, size equal to Height x Width), so nothing skippable fails later.

A CSV with a header and no data row is refused (an empty dataset is never what was meant).
Duplicated rows (same ``ImageId``, ``EncodedPixels`` text and ``ClassId``; the first one is kept)
are dropped in both modes, since counting one mask twice would skew training and statistics:
each is listed in the SkipReport as ``"duplicate of row N"`` and one warning gives their count.

Over 400 lines: one reader. Its checks are vectorised over the whole CSV (333k rows in seconds)
and each names file, row and image, so they sit beside the parsing they guard.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from fashion_mrcnn.data.categories import load_label_descriptions
from fashion_mrcnn.data.formats.kaggle_csv import (
    ATTRIBUTES_COLUMN,
    ATTRIBUTES_FORM,
    CLASS_ID,
    CLASS_ID_FORMS,
    ENCODED_PIXELS,
    GT_COLUMNS,
    IMAGE_ID,
    parse_attribute_ids,
    parse_class_id,
)
from fashion_mrcnn.data.formats.kaggle_csv import layout_of as detect_layout
from fashion_mrcnn.data.records import validate_records
from fashion_mrcnn.errors import FashionDataError, SkipReport, check_on_error

__all__ = ["DUPLICATE_KEY", "detect_layout", "read_imaterialist", "rle_cheap_problem"]

log = logging.getLogger(__name__)

_DOUBLE_SPACE = re.compile(rb"  ")
DUPLICATE_KEY = (IMAGE_ID, ENCODED_PIXELS, CLASS_ID)  # rows equal in these are duplicates


def rle_cheap_problem(text: str, n_pixels: int) -> str | None:
    """Fast structural check of one Kaggle RLE string; ``None`` when it passes.

    Checks: non-empty, an even number of tokens, all tokens decimal digits, first start >= 1, last
    run end (start + length - 1) <= ``n_pixels``. Ordering / overlaps of inner runs are checked
    when the mask is decoded (:func:`fashion_mrcnn.data.formats.rle.parse_runs`).
    """
    raw = text.encode("ascii", errors="replace")  # non-ASCII -> "?" -> slow path below
    if (
        raw
        and raw[0] != 32
        and raw[-1] != 32
        and not raw.translate(None, b"0123456789 ")  # only digits and single spaces
        and not _DOUBLE_SPACE.search(raw)
    ):
        n_tokens = raw.count(b" ") + 1
        tail = raw.rsplit(b" ", 2)
        head = raw[: raw.find(b" ")] if n_tokens > 1 else raw
    else:  # empty, tabs, repeated spaces or bad tokens: the slow, precise path
        tokens = text.split()
        if not tokens:
            return "empty EncodedPixels"
        for i, tok in enumerate(tokens):
            if not (tok.isascii() and tok.isdigit()):
                return f"EncodedPixels token {i + 1} ({tok!r}) is not a non-negative integer"
        n_tokens = len(tokens)
        tail = tokens[-2:]
        head = tokens[0]
    if n_tokens % 2:
        return f"EncodedPixels has an odd number of tokens ({n_tokens})"
    if int(head) < 1:
        return f"EncodedPixels first start {int(head)} < 1"
    end = int(tail[-2]) + int(tail[-1]) - 1
    if end > n_pixels:
        return f"EncodedPixels last run ends at pixel {end} > Height*Width = {n_pixels}"
    return None


def _read_csv(csv_path: Path) -> pd.DataFrame:
    if not csv_path.is_file():
        raise FashionDataError(f"{csv_path}: CSV file not found")
    try:
        df = pd.read_csv(csv_path, dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise FashionDataError(f"{csv_path}: cannot parse CSV ({exc})") from exc
    missing = [c for c in GT_COLUMNS if c not in df.columns]
    if missing:
        raise FashionDataError(
            f"{csv_path}: missing column(s) {missing}; an iMaterialist train.csv has "
            f"{list(GT_COLUMNS)} (+ {ATTRIBUTES_COLUMN} in 2020)"
        )
    if df.empty:
        raise FashionDataError(f"{csv_path}: no data rows, only a header")
    return df


def _drop_duplicates(
    df: pd.DataFrame,
    keep_rows: np.ndarray,
    image_codes: np.ndarray,
    class_codes: np.ndarray,
    report: SkipReport,
    csv_path: Path,
) -> None:
    """Clear ``keep_rows`` for rows repeating an earlier kept row in :data:`DUPLICATE_KEY`; report
    each and warn once with the count.

    Hashing every EncodedPixels text costs about 1.5 s on a 333k-row CSV, so candidates come first
    from integer keys (image code, class code, RLE text length; 0.2 s) and only rows sharing one
    are compared in full.
    """
    rle_len = df["EncodedPixels"].str.len().to_numpy()
    cheap = pd.DataFrame({"i": image_codes, "c": class_codes, "n": rle_len})[keep_rows]
    candidates = cheap.index[cheap.duplicated(keep=False).to_numpy()].to_numpy()
    if candidates.size == 0:
        return
    key = df[list(DUPLICATE_KEY)].iloc[candidates]
    dup = key.duplicated(keep="first").to_numpy()
    if not dup.any():
        return
    group = key.groupby(list(DUPLICATE_KEY), sort=False).ngroup().to_numpy()
    first_row: dict[int, int] = {}
    for row, g in zip(candidates.tolist(), group.tolist(), strict=True):
        first_row.setdefault(g, row)
    for i in np.flatnonzero(dup).tolist():
        row = int(candidates[i])
        report.add(
            f"{csv_path.name} row {row + 1}, image {df['ImageId'].iat[row]}",
            f"duplicate of row {first_row[group[i]] + 1} (same ImageId, EncodedPixels, ClassId); "
            "dropped",
            warn=False,
        )
    keep_rows[candidates[dup]] = False
    log.warning(
        "%s: dropped %d duplicated row(s) (same ImageId, EncodedPixels and ClassId as an earlier "
        "row); they are listed in the skip report",
        csv_path,
        int(dup.sum()),
    )


def _per_unique(col: pd.Series, parse) -> tuple[np.ndarray, list]:
    """Apply ``parse`` once per distinct value: -> (codes int [n], results per distinct value).

    Height, Width, ClassId and AttributesIds take few distinct values, so this is the fast way to
    parse a 333k-row column."""
    codes, uniques = pd.factorize(col, sort=False)
    return codes, [parse(u) for u in uniques]


def _parse_positive_int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else None


class _Problems:
    """First problem per CSV row, kept in the order checks are run (cheapest first)."""

    def __init__(self, n: int) -> None:
        self.text = np.full(n, None, dtype=object)
        self.image_level = np.zeros(n, dtype=bool)

    def add(self, bad: np.ndarray, message, image_level: bool = False) -> None:
        """``message``: a str, or a callable ``row_index -> str`` for row-specific text."""
        idx = np.flatnonzero(bad & (self.text == None))  # noqa: E711 - elementwise on object array
        for i in idx:
            self.text[i] = message(i) if callable(message) else message
        self.image_level[idx] = image_level

    def any(self) -> bool:
        return bool((self.text != None).any())  # noqa: E711


def _image_paths(
    image_ids: list[str], images_dir: Path, check_images: bool
) -> tuple[dict[str, str], set[str]]:
    """{ImageId: path} and the set of ImageIds whose file is missing (when checked).

    An ImageId without an extension (2020 layout) maps to ``<ImageId>.jpg``.
    """
    listing: set[str] | None = None
    if check_images:
        try:
            listing = set(os.listdir(images_dir))
        except FileNotFoundError as exc:
            raise FashionDataError(f"{images_dir}: images directory not found") from exc
        except NotADirectoryError as exc:
            raise FashionDataError(f"{images_dir}: not a directory") from exc
    paths: dict[str, str] = {}
    missing: set[str] = set()
    prefix = os.path.join(str(images_dir), "")  # plain strings: Path objects cost ~10x here
    for image_id in image_ids:
        name = image_id
        if not os.path.splitext(image_id)[1]:
            name = image_id + ".jpg"
            if listing is not None and image_id in listing:
                name = image_id
        paths[image_id] = prefix + name
        if listing is not None and name not in listing:
            missing.add(image_id)
    return paths, missing


def read_imaterialist(
    csv_path: str | Path,
    label_descriptions_path: str | Path | None,
    images_dir: str | Path,
    categories: Iterable[int] | None = None,
    attributes: str = "keep",
    on_error: str = "raise",
    report: SkipReport | None = None,
    check_images: bool = True,
) -> tuple[list[dict], dict, SkipReport]:
    """Index an iMaterialist CSV into records (masks stay RLE strings).

    Args:
        csv_path: ``train.csv`` (2019 or 2020 layout, detected automatically).
        label_descriptions_path: ``label_descriptions.json``; ``None`` uses the shipped 46
            categories.
        images_dir: directory holding the images named by ``ImageId``.
        categories: source category ids to keep (rows of other categories are left out, not
            reported); ``None`` keeps all.
        attributes: ``"keep"`` fills ``attribute_ids``; ``"drop"`` leaves them empty.
        on_error: ``"raise"`` or ``"skip"`` (see module docstring; skip also validates every RLE
            and, with ``check_images``, opens every image).
        report: a SkipReport to append to; a new one when ``None``.
        check_images: check that every image file exists (one directory listing; in skip mode
            each file is also opened and checked).

    Returns:
        ``(records, label_descriptions, report)``: records in first-appearance order of ImageId,
        instances in CSV row order, ``origin`` = ``"<csv name> row <n>, image <ImageId>"``.
    """
    check_on_error(on_error)
    if attributes not in ("keep", "drop"):
        raise ValueError(f"attributes must be 'keep' or 'drop', got {attributes!r}")
    csv_path, images_dir = Path(csv_path), Path(images_dir)
    report = report if report is not None else SkipReport(f"{csv_path.name}")
    labels = load_label_descriptions(label_descriptions_path)
    known_cats = {int(c["id"]) for c in labels["categories"]}
    known_attrs = {int(a["id"]) for a in labels["attributes"]}
    keep = None if categories is None else {int(c) for c in categories}
    if keep is not None and keep - known_cats:
        raise FashionDataError(
            f"categories {sorted(keep - known_cats)} are not in the label descriptions"
        )

    df = _read_csv(csv_path)
    layout = detect_layout(df.columns)
    n = len(df)
    name = csv_path.name
    image_ids = df["ImageId"]
    problems = _Problems(n)
    problems.add((image_ids == "").to_numpy(), "empty ImageId")

    size_cols = {}
    for col in ("Height", "Width"):
        codes_u, parsed = _per_unique(df[col], _parse_positive_int)
        values_u = np.array([v or 0 for v in parsed] + [0], dtype=np.int64)
        size_cols[col] = values_u[codes_u]
        raw_col = df[col]
        problems.add(
            size_cols[col] == 0,
            lambda i, c=col, r=raw_col: f"{c} {r.iat[i]!r} is not a positive integer",
        )
    heights, widths = size_cols["Height"], size_cols["Width"]

    class_codes, classes_u = _per_unique(df["ClassId"], lambda t: parse_class_id(t, layout))
    ok_class = np.array([c is not None for c in classes_u] + [False], dtype=bool)[class_codes]
    class_form = CLASS_ID_FORMS[layout][1]
    problems.add(~ok_class, lambda i: f"ClassId {df['ClassId'].iat[i]!r} is not {class_form}")
    cat_u = np.array([c[0] if c else -1 for c in classes_u] + [-1], dtype=np.int64)
    cat_ids = cat_u[class_codes]
    if layout == 2019:
        attrs_u = [c[1] if c else [] for c in classes_u]
        attr_codes = class_codes
    else:
        attr_codes, attrs_parsed = _per_unique(df["AttributesIds"], parse_attribute_ids)
        ok_attr = np.array([a is not None for a in attrs_parsed] + [False], dtype=bool)[attr_codes]
        problems.add(
            ~ok_attr,
            lambda i: f"AttributesIds {df['AttributesIds'].iat[i]!r} is not {ATTRIBUTES_FORM[1]}",
        )
        attrs_u = [a or [] for a in attrs_parsed]
    unknown = ok_class & ~np.isin(cat_ids, list(known_cats))
    problems.add(unknown, lambda i: f"category id {cat_ids[i]} not in label descriptions")

    if known_attrs and attributes == "keep":
        bad_u = [[a for a in attrs if a not in known_attrs] for attrs in attrs_u]
        bad_attr = np.array([bool(b) for b in bad_u] + [False], dtype=bool)[attr_codes]
        problems.add(
            bad_attr, lambda i: f"attribute id(s) {bad_u[attr_codes[i]]} not in label descriptions"
        )
    attr_lists = [list(attrs_u[c]) if c >= 0 else [] for c in attr_codes.tolist()]

    rles = df["EncodedPixels"].tolist()
    sizes = (heights * widths).tolist()
    rle_msgs = [
        rle_cheap_problem(text, size) if size else None
        for text, size in zip(rles, sizes, strict=True)
    ]
    rle_bad = np.array([m is not None for m in rle_msgs], dtype=bool)
    problems.add(rle_bad, lambda i: rle_msgs[i])
    size_ok = heights * widths > 0

    # Image-level checks: Height / Width constant within an image, image file present.
    codes, uniques = pd.factorize(image_ids)
    frame = pd.DataFrame({"code": codes, "h": heights, "w": widths})[size_ok]
    n_sizes = frame.groupby("code")[["h", "w"]].nunique().max(axis=1)
    inconsistent_codes = n_sizes.index[n_sizes.to_numpy() > 1].to_numpy()
    if inconsistent_codes.size:
        bad_rows = np.isin(codes, inconsistent_codes)
        problems.add(
            bad_rows,
            lambda i: (
                "Height/Width differ between rows of the same image (rows "
                + ", ".join(str(r + 1) for r in np.flatnonzero(codes == codes[i])[:10])
                + ")"
            ),
            image_level=True,
        )
    paths, missing = _image_paths(list(uniques), images_dir, check_images)
    if missing:
        missing_codes = [k for k, u in enumerate(uniques) if u in missing]
        problems.add(
            np.isin(codes, missing_codes),
            lambda i: f"image file {paths[uniques[codes[i]]]} not found",
            image_level=True,
        )

    keep_rows = np.ones(n, dtype=bool)
    if problems.any():
        bad_idx = np.flatnonzero(problems.text != None)  # noqa: E711
        if on_error == "raise":
            i = int(bad_idx[0])
            raise FashionDataError(
                f"{csv_path} row {i + 1}, image {image_ids.iat[i]}: {problems.text[i]}"
            )
        reported_images: set[int] = set()
        for i in bad_idx:
            if problems.image_level[i]:
                if codes[i] not in reported_images:
                    reported_images.add(int(codes[i]))
                    report.add(f"{name} image {uniques[codes[i]]}", str(problems.text[i]))
            else:
                report.add(f"{name} row {i + 1}, image {image_ids.iat[i]}", str(problems.text[i]))
        keep_rows[bad_idx] = False
    _drop_duplicates(df, keep_rows, codes, class_codes, report, csv_path)
    if keep is not None:
        keep_rows &= np.isin(cat_ids, list(keep))

    records = _build_records(
        keep_rows,
        codes,
        uniques,
        paths,
        heights,
        widths,
        cat_ids,
        attr_lists,
        rles,
        attributes,
        name,
    )
    if on_error == "skip":
        records = validate_records(records, report, name, check_images=check_images)
    return records, labels, report


def _build_records(
    keep_rows,
    codes,
    uniques,
    paths,
    heights,
    widths,
    cat_ids,
    attr_lists,
    rles,
    attributes,
    origin_name,
) -> list[dict]:
    """Group the kept rows per image (first-appearance order) into records."""
    rows = np.flatnonzero(keep_rows)
    order = rows[np.argsort(codes[rows], kind="stable")]
    sorted_codes = codes[order]
    bounds = np.flatnonzero(np.diff(sorted_codes)) + 1
    groups = np.split(order, bounds) if order.size else []
    keep_attrs = attributes == "keep"
    cat_list, h_list, w_list = cat_ids.tolist(), heights.tolist(), widths.tolist()
    records = []
    for group in groups:
        first = int(group[0])
        image_id = uniques[codes[first]]
        instances = [
            {
                "category_id": cat_list[i],
                "attribute_ids": attr_lists[i] if keep_attrs else [],
                "segmentation": {"kind": "kaggle_rle", "data": rles[i]},
                "box_only": False,
                "origin": f"{origin_name} row {i + 1}, image {image_id}",
            }
            for i in group.tolist()
        ]
        records.append(
            {
                "image_id": image_id,
                "path": paths[image_id],
                "height": h_list[first],
                "width": w_list[first],
                "source": "imaterialist",
                "instances": instances,
            }
        )
    # First-appearance order of ImageId (factorize codes are in appearance order already).
    return records
