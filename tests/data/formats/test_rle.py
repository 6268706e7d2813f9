"""Kaggle RLE codec: round trips, every error case, the TF batch decoder, the real sample's
masks against pycocotools (the COCO bridge: test_coco_rle.py)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as mask_utils

from fashion_mrcnn.data.formats import rle
from fashion_mrcnn.errors import FashionDataError, RLEError

# pycocotools.decode trips a numpy-2 DeprecationWarning about the copy keyword.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def reference_encode(mask: np.ndarray) -> str:
    """Slow, obviously-correct encoder: walk the pixels in column-major order."""
    flat = [int(v != 0) for v in np.asarray(mask).flatten(order="F")]
    out, i = [], 0
    while i < len(flat):
        if flat[i]:
            j = i
            while j < len(flat) and flat[j]:
                j += 1
            out += [i + 1, j - i]
            i = j
        else:
            i += 1
    return " ".join(map(str, out))


shapes = st.tuples(st.integers(1, 24), st.integers(1, 24))
masks = shapes.flatmap(lambda s: arrays(np.uint8, s, elements=st.integers(0, 1)))


@settings(max_examples=150, deadline=None)
@given(masks)
def test_round_trip_random(mask):
    h, w = mask.shape
    text = rle.encode(mask)
    assert text == reference_encode(mask)
    decoded = rle.decode(text, h, w)
    assert decoded.dtype == np.uint8 and decoded.shape == (h, w)
    np.testing.assert_array_equal(decoded, mask)
    np.testing.assert_array_equal(rle.encode(np.asfortranarray(mask)), text)
    np.testing.assert_array_equal(rle.encode(mask.astype(bool)), text)


@pytest.mark.parametrize("shape", [(1, 1), (1, 17), (17, 1), (5, 7), (512, 512)])
def test_special_masks(shape):
    h, w = shape
    empty = np.zeros(shape, np.uint8)
    full = np.ones(shape, np.uint8)
    assert rle.encode(empty) == ""
    assert rle.encode(full) == f"1 {h * w}"
    np.testing.assert_array_equal(rle.decode("", h, w), empty)
    np.testing.assert_array_equal(rle.decode(None, h, w), empty)
    np.testing.assert_array_equal(rle.decode(f"1 {h * w}", h, w), full)
    single = empty.copy()
    single[h - 1, w - 1] = 1
    assert rle.encode(single) == f"{h * w} 1"
    np.testing.assert_array_equal(rle.decode(f"{h * w} 1", h, w), single)


def test_column_major_convention():
    mask = np.zeros((3, 4), np.uint8)
    mask[1, 0] = 1  # pixel number 2 (down the first column)
    mask[0, 1] = 1  # pixel number 4 (top of the second column)
    mask[2, 1] = 1  # pixel number 6
    mask[0, 2] = 1  # pixel number 7: touches 6 in column-major order
    assert rle.encode(mask) == "2 1 4 1 6 2"
    np.testing.assert_array_equal(rle.decode("2 1 4 1 6 2", 3, 4), mask)


def test_non_binary_values_are_foreground():
    mask = np.array([[0, 255], [3, 0]], np.uint8)
    assert rle.encode(mask) == "2 2"
    assert rle.encode(mask.astype(np.float32) * 0.5) == "2 2"


def test_touching_runs_are_accepted():
    mask = rle.decode("1 2 3 2", 2, 3)
    assert mask.sum() == 4 and rle.encode(mask) == "1 4"


def test_whitespace_and_nan():
    np.testing.assert_array_equal(rle.decode(" 1\t2\n", 2, 2), [[1, 0], [1, 0]])
    assert rle.decode(float("nan"), 2, 2).sum() == 0
    assert rle.rle_area("1 2 4 1", 2, 2) == 3


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1 2 3", "odd number of tokens"),
        ("1 a", "non-numeric token 'a'"),
        ("1 2.5", "non-numeric token '2.5'"),
        ("1 1_0", "non-numeric token"),
        ("0 3", "start 0 < 1"),
        ("-4 3", "start -4 < 1"),
        ("3 0", "length 0 < 1"),
        ("3 -2", "length -2 < 1"),
        ("5 2 3 1", "not strictly increasing"),
        ("5 2 5 1", "not strictly increasing"),
        ("2 4 5 1", "overlapping"),
        ("11 3", "past height*width"),
        ("13 1", "past height*width"),
        ("1 99999999999999999999999", "past height*width"),
    ],
)
def test_errors(text, fragment):
    with pytest.raises(RLEError, match=re.escape(fragment)) as info:
        rle.decode(text, 3, 4, context="train.csv row 17, image abc.jpg")
    assert str(info.value).startswith("train.csv row 17, image abc.jpg: ")
    assert isinstance(info.value, FashionDataError)


@pytest.mark.parametrize(("h", "w"), [(0, 4), (3, -1), (2.5, 4), ("3", 4), (True, 4), (None, 2)])
def test_bad_size(h, w):
    with pytest.raises(RLEError, match="height|width"):
        rle.decode("1 1", h, w)


def test_numpy_int_size_accepted():
    out = rle.decode("1 1", np.int64(2), np.int32(2))
    assert out.shape == (2, 2)


def test_encode_rejects_bad_shapes():
    for bad in (np.zeros(4), np.zeros((2, 2, 2)), np.zeros((0, 3))):
        with pytest.raises(RLEError, match="2-D"):
            rle.encode(bad)


@pytest.mark.realdata
def test_decode_equals_pycocotools_on_ccp(ccp_dir):
    """Every mask of the real sample: train.csv RLE vs coco/instances.json compressed RLE."""
    import pandas as pd

    df = pd.read_csv(ccp_dir / "train.csv")
    with open(ccp_dir / "coco" / "instances.json") as f:
        coco = json.load(f)
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    by_key: dict[tuple[str, int], list] = {}
    for ann in coco["annotations"]:
        by_key.setdefault((names[ann["image_id"]], ann["category_id"]), []).append(ann)
    seen: dict[tuple[str, int], int] = {}
    for row in df.itertuples(index=False):
        key = (row.ImageId, int(str(row.ClassId).split("_")[0]))
        k = seen.get(key, 0)
        seen[key] = k + 1
        ann = by_key[key][k]
        seg = ann["segmentation"]
        if isinstance(seg, str):  # the sample stores the dict as its Python repr
            seg = json.loads(seg.replace("'", '"'))
        ref = mask_utils.decode({"size": seg["size"], "counts": seg["counts"].encode()})
        ours = rle.decode(row.EncodedPixels, row.Height, row.Width, context=row.ImageId)
        np.testing.assert_array_equal(ours, ref, err_msg=f"{row.ImageId} {key}")
    assert sum(seen.values()) == len(coco["annotations"]) == 3469


def test_decode_rles_tf_matches_numpy():
    rng = np.random.default_rng(0)
    for h, w, n in ((7, 5, 4), (32, 48, 6), (9, 9, 0)):
        masks = rng.random((h, w, n)) > 0.6
        if n:
            masks[..., 0] = False  # empty mask
            masks[..., -1] = True  # full mask
        rles = [rle.encode(masks[..., k]) for k in range(n)]
        expected = rle.decode_rles_np(rles, h, w)
        np.testing.assert_array_equal(expected, masks)
        got = rle.decode_rles_tf(np.array(rles, dtype=object).astype(bytes) if n else
                                   np.zeros(0, dtype=bytes), h, w).numpy()  # fmt: skip
        assert got.shape == (h, w, n) and got.dtype == bool
        np.testing.assert_array_equal(got, expected)
