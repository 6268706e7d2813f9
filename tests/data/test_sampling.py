"""Tests for fashion_mrcnn.data.sampling: subsets, stratified splits, repeat factors."""

import math

import numpy as np
import pandas as pd
import pytest

from fashion_mrcnn.data import sampling


def _record(i, cats):
    return {
        "image_id": f"img_{i:04d}.jpg",
        "path": f"/data/img_{i:04d}.jpg",
        "height": 10,
        "width": 10,
        "source": "synthetic",
        "instances": [
            {"category_id": c, "attribute_ids": [], "box_only": True, "origin": f"test {i}",
             "segmentation": {"kind": "box", "data": [0, 0, 5, 5]}}
            for c in cats
        ],
    }  # fmt: skip


def _imbalanced(n=200, seed=0):
    """Class 0 common, 1..4 rarer, 5 in exactly 2 images, 6 in one image, a few empty images."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        cats = [0] * int(rng.integers(1, 4))
        for c, p in ((1, 0.3), (2, 0.1), (3, 0.05), (4, 0.02)):
            if rng.random() < p:
                cats.append(c)
        records.append(_record(i, cats))
    records[10]["instances"] += _record(10, [5])["instances"]
    records[11]["instances"] += _record(11, [5, 5])["instances"]
    records[12]["instances"] += _record(12, [6])["instances"]
    for i in (20, 21, 22):
        records[i]["instances"] = []
    return records


def test_class_counts():
    records = [_record(0, [1, 1, 2]), _record(1, [2]), _record(2, [])]
    assert sampling.class_counts(records) == {1: (2, 1), 2: (2, 2)}
    assert list(sampling.class_counts([_record(0, [9, 3])])) == [3, 9]


def test_random_subset():
    records = _imbalanced(50)
    a = sampling.random_subset(records, 10, seed=1)
    b = sampling.random_subset(records, 10, seed=1)
    c = sampling.random_subset(records, 10, seed=2)
    assert a == b and a != c
    ids = [r["image_id"] for r in a]
    assert len(set(ids)) == 10 and ids == sorted(ids)
    assert len(sampling.random_subset(records, 50, seed=0)) == 50
    with pytest.raises(ValueError, match="cannot draw"):
        sampling.random_subset(records, 51)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_stratified_split_covers_classes(seed):
    records = _imbalanced(200, seed)
    train, val = sampling.stratified_split_indices(records, 0.2, seed=seed)
    assert sorted(train + val) == list(range(200)) and not set(train) & set(val)
    assert abs(len(val) - 40) <= 4
    counts = sampling.class_counts(records)
    tr = sampling.class_counts([records[i] for i in train])
    va = sampling.class_counts([records[i] for i in val])
    for c, (_, images) in counts.items():
        if images >= 2:
            assert c in tr and c in va, f"class {c} ({images} images) missing from a side"
    assert (6 in tr) != (6 in va)  # the single-image class lands on exactly one side
    # proportional: the common class is in about 20 % of validation images
    assert abs(va[1][1] / counts[1][1] - 0.2) < 0.1


def test_stratified_split_deterministic_and_records():
    records = _imbalanced(60)
    assert sampling.stratified_split_indices(records, 0.25, 4) == (
        sampling.stratified_split_indices(records, 0.25, 4)
    )
    assert sampling.stratified_split_indices(records, 0.25, 4) != (
        sampling.stratified_split_indices(records, 0.25, 5)
    )
    train, val = sampling.stratified_split(records, 0.25, 4)
    assert len(train) + len(val) == 60 and all(isinstance(r, dict) for r in val)
    tiny = sampling.stratified_split_indices(records[:2], 0.2, 0)
    assert len(tiny[0]) == 1 and len(tiny[1]) == 1
    with pytest.raises(ValueError, match="val_fraction"):
        sampling.stratified_split(records, 1.0)


def test_repeat_factors_match_lvis_formula():
    records = [
        _record(0, [0, 1]),
        _record(1, [0]),
        _record(2, [0]),
        _record(3, [0]),
        _record(4, []),
    ]
    r = sampling.repeat_factors(records, threshold=0.5)
    # f_0 = 4/5 -> r = 1; f_1 = 1/5 -> r = sqrt(0.5 / 0.2)
    np.testing.assert_allclose(r, [math.sqrt(2.5), 1, 1, 1, 1])
    assert sampling.repeat_factors(records, threshold=1e-3).tolist() == [1.0] * 5
    with pytest.raises(ValueError, match="threshold"):
        sampling.repeat_factors(records, threshold=0)


def test_oversample_repeat_factor_expected_copies():
    records = _imbalanced(300, seed=5)
    factors = sampling.repeat_factors(records, 0.2)
    totals = []
    for seed in range(20):
        idx, _ = sampling.oversample_indices(records, "repeat_factor", threshold=0.2, seed=seed)
        assert idx == sorted(idx) and set(idx) == set(range(300))
        copies = np.bincount(idx, minlength=300)
        assert (copies >= np.floor(factors)).all() and (copies <= np.ceil(factors)).all()
        totals.append(len(idx))
    assert abs(np.mean(totals) - factors.sum()) < 0.05 * factors.sum()
    a, rep_a = sampling.oversample(records, threshold=0.2, seed=9)
    b, _ = sampling.oversample(records, threshold=0.2, seed=9)
    assert [r["image_id"] for r in a] == [r["image_id"] for r in b]
    assert isinstance(rep_a.table, pd.DataFrame)
    t = rep_a.table
    assert (t["images_after"] >= t["images_before"]).all()
    assert t.loc[4, "factor"] > t.loc[0, "factor"]  # rare classes gain more
    assert "images_after" in str(rep_a) and f"300 -> {len(a)}" in rep_a.text


def test_oversample_min_count_and_names():
    records = _imbalanced(100, seed=2)
    cats = [{"id": i, "name": f"class{i}"} for i in range(7)]
    out, report = sampling.oversample(records, "min_count", min_count=15, seed=0, categories=cats)
    after = sampling.class_counts(out)
    assert all(images >= 15 for _, images in after.values())
    assert report.table["name"].tolist()[:2] == ["class0", "class1"]
    assert report.table.loc[6, "images_after"] == 15
    assert len(out) > len(records)
    with pytest.raises(ValueError, match="method"):
        sampling.oversample(records, method="smote")


@pytest.mark.realdata
def test_on_ccp_fashion(ccp_dir):
    """The real, strongly imbalanced sample: coverage of the split and the rare-class boost."""
    from fashion_mrcnn.data.imaterialist import read_imaterialist

    records, labels, _ = read_imaterialist(
        ccp_dir / "train.csv", ccp_dir / "label_descriptions.json", ccp_dir / "images",
        check_images=False,
    )  # fmt: skip
    train, val = sampling.stratified_split(records, 0.2, seed=0)
    assert abs(len(val) - 0.2 * len(records)) <= 5
    tr, va = sampling.class_counts(train), sampling.class_counts(val)
    for c, (_, images) in sampling.class_counts(records).items():
        if images >= 2:
            assert c in tr and c in va
    out, report = sampling.oversample(
        records, threshold=0.1, seed=0, categories=labels["categories"]
    )
    t = report.table.set_index("name")
    assert t.loc["cardigan", "factor"] > 1.5 and t.loc["shoe", "factor"] < 1.3


def test_dataset_helpers():
    from fashion_mrcnn.data.dataset import FashionDataset

    records = _imbalanced(80, seed=1)
    for r in records:
        r["source"] = "voc"
    cats = [{"id": i, "name": f"class{i}", "supercategory": ""} for i in range(7)]
    ds = FashionDataset.from_records(records, cats, source="voc")
    train, val = sampling.split_dataset(ds, 0.25, seed=2)
    expected = sampling.stratified_split_indices(records, 0.25, seed=2)
    assert [r["image_id"] for r in val.records] == [records[i]["image_id"] for i in expected[1]]
    assert len(train.image_ids) + len(val.image_ids) == 80
    big, report = sampling.oversample_dataset(ds, "min_count", min_count=10, seed=0)
    assert len(big.image_ids) > 80 and report.table["name"].iloc[0] == "class0"
    assert all(images >= 10 for _, images in sampling.class_counts(big.records).values())
