"""The Kaggle CSV tables: columns per layout, the ClassId grammar written and read back."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from fashion_mrcnn.data.formats import kaggle_csv as K


def test_columns_per_layout():
    assert K.gt_columns(2019) == ("ImageId", "EncodedPixels", "Height", "Width", "ClassId")
    assert K.pred_columns(2019) == ("ImageId", "EncodedPixels", "ClassId")
    assert K.gt_columns(2020) == (*K.gt_columns(2019), "AttributesIds")
    assert K.pred_columns(2020) == (*K.pred_columns(2019), "AttributesIds")
    assert (K.gt_columns(), K.pred_columns()) == (K.GT_COLUMNS, K.PRED_COLUMNS)
    with pytest.raises(KeyError):
        K.gt_columns(2021)


def test_layout_of_the_header():
    assert K.layout_of(K.gt_columns(2019)) == 2019
    assert K.layout_of(K.gt_columns(2020)) == 2020
    assert K.layout_of(iter(["ImageId", "AttributesIds"])) == 2020  # any iterable, any order
    assert [K.layout_of(K.pred_columns(layout)) for layout in K.LAYOUTS] == list(K.LAYOUTS)


@pytest.mark.parametrize(
    ("category", "attrs", "text"),
    [
        (10, [], "10"),
        (10, [1, 2], "10_1_2"),
        (3, [7, 5], "3_7_5"),
        (np.int64(0), [np.int32(115)], "0_115"),
    ],
)
def test_class_id_written_and_read_back(category, attrs, text):
    assert K.format_class_id(category, attrs) == text  # ids in the order given
    assert K.parse_class_id(text) == (int(category), [int(a) for a in attrs])
    assert K.split_class_id(text) == (str(int(category)), [str(int(a)) for a in attrs])
    suffixes = "".join(f"_{int(a)}" for a in attrs)
    assert K.CLASS_ID_RE.match(text).groups() == (str(int(category)), suffixes)
    assert re.fullmatch(K.CLASS_ID_FORMS[2019][0], text)
    assert bool(re.fullmatch(K.CLASS_ID_FORMS[2020][0], text)) == (not attrs)
    assert K.parse_class_id(text, 2020) == ((int(category), []) if not attrs else None)


def test_class_id_reading_is_lenient_about_spaces_and_strict_about_the_rest():
    assert K.parse_class_id(" 10 _ 1 ") == (10, [1])
    arabic_indic_10 = "\u0661\u0660"  # a digit to str.isdigit, not an ASCII one
    for bad in (
        "",
        " ",
        "x_1",
        "10_",
        "_1",
        "10__1",
        "10.0",
        "23.0",
        "-1",
        "10,1",
        arabic_indic_10,
    ):
        assert K.parse_class_id(bad) is None, bad
        assert K.parse_class_id(bad, 2020) is None, bad
    for bad in ("10_", "10 _1", "10.0", "a"):
        assert not K.CLASS_ID_RE.match(bad), bad
        assert not re.fullmatch(K.CLASS_ID_FORMS[2019][0], bad), bad


def test_attribute_ids_written_and_read_back():
    assert K.format_attribute_ids([115, np.int64(136)]) == "115,136"
    assert K.format_attribute_ids([]) == ""
    assert K.parse_attribute_ids("115,136") == [115, 136]
    assert K.parse_attribute_ids(" 3 , 4 ") == [3, 4]
    assert K.parse_attribute_ids("") == []
    assert K.parse_attribute_ids("3;4") is None and K.parse_attribute_ids("3,") is None
    pattern = K.ATTRIBUTES_FORM[0]
    assert all(re.fullmatch(pattern, t) for t in ("115,136", "", "3 , 4"))
    assert not any(re.fullmatch(pattern, t) for t in ("3;4", "3,", "a"))


def test_a_2019_table_in_the_2020_layout():
    frame = pd.DataFrame(
        {"ImageId": ["a", "b"], "EncodedPixels": ["1 2", ""], "ClassId": ["10_1_2", "7"]}
    )
    out = K.to_2020_layout(frame)
    assert list(out.columns) == list(K.pred_columns(2020))
    assert out[["ClassId", "AttributesIds"]].values.tolist() == [["10", "1,2"], ["7", ""]]
    assert frame["ClassId"].tolist() == ["10_1_2", "7"]  # the input is left as it was
