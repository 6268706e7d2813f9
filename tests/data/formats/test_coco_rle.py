"""The Kaggle <-> COCO RLE bridge: agreement with pycocotools both ways, every error case."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as mask_utils

from fashion_mrcnn.data.formats import coco_rle, rle
from fashion_mrcnn.errors import RLEError

# pycocotools.decode trips a numpy-2 DeprecationWarning about the copy keyword.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

shapes = st.tuples(st.integers(1, 24), st.integers(1, 24))
masks = shapes.flatmap(lambda s: arrays(np.uint8, s, elements=st.integers(0, 1)))


@settings(max_examples=60, deadline=None)
@given(masks)
def test_coco_bridge_equals_pycocotools(mask):
    h, w = mask.shape
    text = rle.encode(mask)
    ref = mask_utils.encode(np.asfortranarray(mask))
    coco = coco_rle.to_coco(text, h, w)
    assert coco == {"size": [h, w], "counts": ref["counts"].decode("ascii")}
    assert coco_rle.from_coco(ref) == text
    assert coco_rle.from_coco(coco) == text
    np.testing.assert_array_equal(coco_rle.coco_to_mask(coco), mask)


def test_from_coco_uncompressed_and_errors():
    # 2 x 3 mask, counts start with background: 1 bg, 2 fg, 3 bg.
    assert coco_rle.from_coco({"size": [2, 3], "counts": [1, 2, 3]}) == "2 2"
    assert coco_rle.from_coco({"size": [2, 3], "counts": [0, 6]}) == "1 6"
    assert coco_rle.from_coco({"size": [2, 3], "counts": [1, 2]}) == "2 2"  # short: rest background
    with pytest.raises(RLEError, match="past height"):
        coco_rle.from_coco({"size": [2, 3], "counts": [1, 2, 4]})
    with pytest.raises(RLEError, match="< 0"):
        coco_rle.from_coco({"size": [2, 3], "counts": [1, -2]})
    with pytest.raises(RLEError, match="size"):
        coco_rle.from_coco({"counts": [1]})
    with pytest.raises(RLEError, match="invalid character"):
        coco_rle.from_coco({"size": [2, 3], "counts": "1 2"})
    with pytest.raises(RLEError, match="middle of a count"):
        coco_rle.from_coco({"size": [2, 3], "counts": "o"})  # 'o' has the continuation bit set


def test_compressed_counts_parser_matches_pycocotools():
    rng = np.random.default_rng(3)
    for _ in range(30):
        h, w = rng.integers(20, 300, 2)
        mask = np.zeros((h, w), np.uint8)
        y, x = rng.integers(0, h), rng.integers(0, w)
        mask[y : y + rng.integers(1, h), x : x + rng.integers(1, w)] = 1
        mask[rng.random((h, w)) < 0.01] ^= 1
        ref = mask_utils.encode(np.asfortranarray(mask))
        np.testing.assert_array_equal(coco_rle.coco_to_mask(ref), mask)
        counts = coco_rle.compressed_to_counts(ref["counts"].decode())
        assert sum(counts) == h * w


def test_coco_conversion_matches_pycocotools_encode():
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = rng.random((13, 7)) < 0.4
        ours = coco_rle.to_coco_rle(rle.encode(m), 13, 7)
        ref = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        assert ours["counts"] == ref["counts"]
    # touching runs are merged rather than producing zero-length counts
    touching = coco_rle.to_coco_rle("1 3 4 2", 3, 3)
    assert mask_utils.area(touching) == 5
    np.testing.assert_array_equal(mask_utils.decode(touching), rle.decode("1 5", 3, 3))
