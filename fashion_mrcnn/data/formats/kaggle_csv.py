"""Kaggle iMaterialist CSV tables: their columns, the ``ClassId`` grammar, the 2019 / 2020 layouts.

One owner for what a ``train.csv``, a submission and the metric's tables look like: the reader
(:mod:`..imaterialist`), the writers (:mod:`..export`, :mod:`..synthetic`,
``fashion_mrcnn.submission``) and the scorers (``fashion_mrcnn.evaluation.kaggle*``) import these
names. One row is one mask; ``EncodedPixels`` holds it as Kaggle RLE (:mod:`.rle`).

Columns:

- ground truth (``train.csv``): ``ImageId, EncodedPixels, Height, Width, ClassId``
  (:data:`GT_COLUMNS`);
- predictions (a submission): ``ImageId, EncodedPixels, ClassId`` (:data:`PRED_COLUMNS`);
- the 2020 (FGVC7) layout adds ``AttributesIds`` to both (:func:`gt_columns`,
  :func:`pred_columns`); a table is 2020 when it has that column, else 2019 (:func:`layout_of`).

Grammar (ids are decimal integers):

- 2019 ``ClassId``: ``<category>[_<attribute>...]``, the category id followed by one
  ``_<attribute id>`` per attribute: ``"10"`` (category 10), ``"10_1_2"`` (category 10 with
  attributes 1 and 2);
- 2020 ``ClassId``: ``<category>`` alone; ``AttributesIds``: the attribute ids joined by commas,
  ``"1,2"``, or empty for none.

:func:`format_class_id` / :func:`format_attribute_ids` write them, :func:`parse_class_id` /
:func:`parse_attribute_ids` read them (leniently: spaces around an id are ignored, ``None`` when
malformed), :data:`CLASS_ID_RE` / :data:`CLASS_ID_FORMS` / :data:`ATTRIBUTES_FORM` are the
patterns the validators report against, with the words every error message uses for them
(:data:`CLASS_ID_GRAMMAR` for the 2019 ``ClassId``), and :func:`to_2020_layout` turns a 2019
table into the 2020 one. Plain Python: nothing here imports numpy or pandas.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "ATTRIBUTES_COLUMN",
    "ATTRIBUTES_FORM",
    "CLASS_ID",
    "CLASS_ID_FORMS",
    "CLASS_ID_GRAMMAR",
    "CLASS_ID_RE",
    "ENCODED_PIXELS",
    "GT_COLUMNS",
    "HEIGHT",
    "IMAGE_ID",
    "LAYOUTS",
    "PRED_COLUMNS",
    "WIDTH",
    "format_attribute_ids",
    "format_class_id",
    "gt_columns",
    "layout_of",
    "parse_attribute_ids",
    "parse_class_id",
    "pred_columns",
    "split_class_id",
    "to_2020_layout",
]

IMAGE_ID = "ImageId"
ENCODED_PIXELS = "EncodedPixels"
HEIGHT = "Height"
WIDTH = "Width"
CLASS_ID = "ClassId"
ATTRIBUTES_COLUMN = "AttributesIds"  # 2020 layout: comma-separated attribute ids, may be empty
#: A ground-truth table (``train.csv``), 2019 layout.
GT_COLUMNS = (IMAGE_ID, ENCODED_PIXELS, HEIGHT, WIDTH, CLASS_ID)
#: A prediction table (a submission), 2019 layout.
PRED_COLUMNS = (IMAGE_ID, ENCODED_PIXELS, CLASS_ID)
#: The Kaggle competitions' layouts: iMaterialist (Fashion) 2019 and 2020 (FGVC7).
LAYOUTS = (2019, 2020)
_LAYOUT_COLUMNS = {2019: (), 2020: (ATTRIBUTES_COLUMN,)}  # added to both tables

_CLASS_SEP = "_"
_ATTRIBUTES_SEP = ","
_CATEGORY = r"\d+"
_SUFFIXES = r"(?:_\d+)*"  # one "_<attribute id>" per attribute
#: The 2019 ``ClassId`` grammar in words: the one wording of every error message about it (the
#: reader, the submission check and the metric write ``ClassId '4_x' is not <this>``).
CLASS_ID_GRAMMAR = "'<category>[_<attribute>...]' (e.g. '10' or '10_1_2')"
#: The 2019 ``ClassId`` grammar: group 1 the category id, group 2 the ``_<attribute>`` suffixes.
CLASS_ID_RE = re.compile(rf"^({_CATEGORY})({_SUFFIXES})$")
#: layout -> (``ClassId`` pattern, for a full match; how an error message describes it)
CLASS_ID_FORMS = {
    2019: (_CATEGORY + _SUFFIXES, CLASS_ID_GRAMMAR),
    2020: (_CATEGORY, "a bare category id (2020 keeps attributes in AttributesIds)"),
}
#: (``AttributesIds`` pattern, for a full match; how an error message describes it)
ATTRIBUTES_FORM = (
    r"(\d+\s*(,\s*\d+\s*)*)?",
    "comma-separated attribute ids (e.g. '115,136' or empty)",
)


def layout_of(columns: Iterable[str]) -> int:
    """2020 when an ``AttributesIds`` column is present, else 2019."""
    return 2020 if ATTRIBUTES_COLUMN in set(columns) else 2019


def gt_columns(layout: int = 2019) -> tuple[str, ...]:
    """The ground-truth columns of ``layout`` (KeyError for an unknown one)."""
    return GT_COLUMNS + _LAYOUT_COLUMNS[layout]


def pred_columns(layout: int = 2019) -> tuple[str, ...]:
    """The prediction (submission) columns of ``layout`` (KeyError for an unknown one)."""
    return PRED_COLUMNS + _LAYOUT_COLUMNS[layout]


def format_class_id(category, attribute_ids: Iterable = ()) -> str:
    """``10`` + attributes ``[1, 2]`` -> ``"10_1_2"`` (ids as given, in their order; see
    ``submission.class_string`` for the sorted, de-duplicated form)."""
    return _CLASS_SEP.join(str(int(v)) for v in (category, *attribute_ids))


def format_attribute_ids(attribute_ids: Iterable) -> str:
    """Attributes ``[1, 2]`` -> the 2020 ``AttributesIds`` cell ``"1,2"`` (``""`` for none)."""
    return _ATTRIBUTES_SEP.join(str(int(a)) for a in attribute_ids)


def split_class_id(text: str) -> tuple[str, list[str]]:
    """``"10_1_2"`` -> ``("10", ["1", "2"])``: the category and attribute texts, unchecked (for
    a ``ClassId`` already matched against :data:`CLASS_ID_RE`)."""
    category, *attributes = text.split(_CLASS_SEP)
    return category, attributes


def _parse_ids(text: str, sep: str) -> list[int] | None:
    """``"1_2"`` / ``"1,2"`` -> [1, 2]; ``""`` -> []; None when malformed."""
    text = text.strip()
    if not text:
        return []
    parts = [t.strip() for t in text.split(sep)]
    if not all(t.isascii() and t.isdigit() for t in parts):
        return None
    return [int(t) for t in parts]


def parse_class_id(text: str, layout: int = 2019) -> tuple[int, list[int]] | None:
    """``"10"`` -> (10, []); ``"10_1_2"`` -> (10, [1, 2]) in the 2019 layout; ``None`` when
    malformed, and in the 2020 layout for anything but a bare category id."""
    ids = _parse_ids(text, _CLASS_SEP)
    if not ids or (layout == 2020 and len(ids) != 1):
        return None
    return ids[0], ids[1:]


def parse_attribute_ids(text: str) -> list[int] | None:
    """The 2020 ``AttributesIds`` cell ``"1,2"`` -> [1, 2]; ``""`` -> []; ``None`` when
    malformed."""
    return _parse_ids(text, _ATTRIBUTES_SEP)


def to_2020_layout(frame):
    """A 2019 table (a pandas DataFrame; ``ClassId`` ``"10_1_2"``) in the 2020 layout (``ClassId``
    ``"10"``, ``AttributesIds`` ``"1,2"``); a copy, the other columns unchanged."""
    parts = frame[CLASS_ID].astype(str).str.split(_CLASS_SEP)
    out = frame.copy()
    out[CLASS_ID] = parts.str[0]
    out[ATTRIBUTES_COLUMN] = parts.str[1:].str.join(_ATTRIBUTES_SEP)
    return out
