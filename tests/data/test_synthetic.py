"""Tests for fashion_mrcnn.data.synthetic: determinism, coverage, mask validity, on-disk layout."""

import csv
import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from fashion_mrcnn.data import synthetic
from fashion_mrcnn.data.formats import rle


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    synthetic.generate(out, n_images=10, size=128, seed=7)
    return out


def test_render_scene_contract():
    for i in range(20):
        image, masks, cats = synthetic.render_scene(synthetic.image_rng(0, i), size=96)
        n = masks.shape[-1]
        assert image.shape == (96, 96, 3) and image.dtype == np.uint8
        assert masks.shape[:2] == (96, 96) and masks.dtype == bool
        assert cats.shape == (n,) and cats.dtype == np.int32
        assert 1 <= n <= 14
        assert masks.sum(axis=-1).max() <= 1, "masks overlap"
        assert masks.reshape(-1, n).sum(axis=0).min() >= 12, "an instance is (nearly) empty"
        assert set(cats.tolist()) <= set(synthetic.CATEGORY_IDS)


def test_every_class_appears_in_50_images():
    counts = Counter()
    for i in range(50):
        counts.update(synthetic.render_scene(synthetic.image_rng(3, i), size=128)[2].tolist())
    assert set(counts) == set(synthetic.CATEGORY_IDS), counts
    assert counts[synthetic.SHOE] >= 20


def test_outfits_are_plausible():
    """Per person: a dress never comes with pants, a skirt or a top; at most one of each item
    except shoes (a pair); drawing order puts the bag last and the lower garment first."""
    styles = Counter()
    for i in range(200):
        rng = np.random.default_rng(i)
        person = synthetic._Person(rng, 128, (0.5, 1.0))
        cats = [item[0] for item in synthetic._outfit(rng, person)]
        c = Counter(cats)
        assert all(n == 1 for cat, n in c.items() if cat != synthetic.SHOE)
        assert c[synthetic.SHOE] in (0, 2)
        if c[synthetic.DRESS]:
            assert not (c[synthetic.PANTS] or c[synthetic.SKIRT] or c[synthetic.TOP])
            styles["dress"] += 1
        else:
            assert c[synthetic.PANTS] + c[synthetic.SKIRT] == 1
            styles["two-piece"] += 1
        if c[synthetic.BAG]:
            assert cats[-1] == synthetic.BAG
        assert cats[0] in (synthetic.PANTS, synthetic.SKIRT, synthetic.SHOE, synthetic.DRESS)
    assert styles["dress"] > 30 and styles["two-piece"] > 100


def test_same_seed_same_scene_and_size_limits():
    a = synthetic.render_scene(synthetic.image_rng(5, 2), size=64)
    b = synthetic.render_scene(synthetic.image_rng(5, 2), size=64)
    c = synthetic.render_scene(synthetic.image_rng(5, 3), size=64)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    with pytest.raises(ValueError, match="size"):
        synthetic.render_scene(np.random.default_rng(0), size=16)
    with pytest.raises(ValueError, match="min_instances"):
        synthetic.render_scene(np.random.default_rng(0), size=64, min_instances=5, max_instances=2)
    _, masks, _ = synthetic.render_scene(np.random.default_rng(0), 96, min_instances=6)
    assert masks.shape[-1] >= 6


def test_generate_is_deterministic(small_set, tmp_path):
    synthetic.generate(tmp_path, n_images=10, size=128, seed=7)
    assert (tmp_path / "train.csv").read_bytes() == (small_set / "train.csv").read_bytes()
    for f in sorted((small_set / "train").iterdir()):
        assert (tmp_path / "train" / f.name).read_bytes() == f.read_bytes()
    other = tmp_path / "other"
    synthetic.generate(other, n_images=3, size=128, seed=8)
    assert (other / "train.csv").read_bytes() != (small_set / "train.csv").read_bytes()


def test_generate_layout_and_csv_round_trip(small_set):
    rows = _read_csv(small_set / "train.csv")
    assert list(rows[0]) == ["ImageId", "EncodedPixels", "Height", "Width", "ClassId"]
    assert b"\r" not in (small_set / "train.csv").read_bytes()  # LF lines, as it always wrote
    images = sorted(p.name for p in (small_set / "train").iterdir())
    assert images == [f"synth_{i:05d}.jpg" for i in range(10)]
    splits = json.loads((small_set / "splits.json").read_text())
    assert splits == {"train": images[:8], "val": images[8:]}
    labels = json.loads((small_set / "label_descriptions.json").read_text())
    assert [c["id"] for c in labels["categories"]] == list(range(46))
    assert labels["categories"][1]["name"] == "top, t-shirt, sweatshirt"
    by_image = {}
    for r in rows:
        by_image.setdefault(r["ImageId"], []).append(r)
    for i, image_id in enumerate(images):
        image, masks, cats = synthetic.render_scene(synthetic.image_rng(7, i), size=128)
        got = by_image[image_id]
        assert [int(r["ClassId"]) for r in got] == cats.tolist()
        for k, r in enumerate(got):
            assert (int(r["Height"]), int(r["Width"])) == (128, 128)
            decoded = rle.decode(r["EncodedPixels"], 128, 128)
            np.testing.assert_array_equal(decoded.astype(bool), masks[..., k])
        jpeg = np.asarray(Image.open(small_set / "train" / image_id).convert("RGB"))
        assert jpeg.shape == image.shape
        assert np.abs(jpeg.astype(int) - image).mean() < 6  # JPEG q95 is close, not exact


def test_generate_attributes(tmp_path):
    synthetic.generate(tmp_path, n_images=6, size=96, seed=1, attributes=True)
    rows = _read_csv(tmp_path / "train.csv")
    labels = json.loads((tmp_path / "label_descriptions.json").read_text())
    known = {a["id"] for a in labels["attributes"]}
    with_attrs = 0
    for r in rows:
        parts = [int(x) for x in r["ClassId"].split("_")]
        cat, attrs = parts[0], parts[1:]
        assert set(attrs) <= known
        if attrs:
            with_attrs += 1
            assert cat in synthetic.ATTRIBUTE_CATEGORIES
            assert attrs == sorted(attrs)
    assert with_attrs > 0


def test_generate_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="n_images"):
        synthetic.generate(tmp_path, n_images=0)
    with pytest.raises(ValueError, match="val_fraction"):
        synthetic.generate(tmp_path, n_images=3, val_fraction=1.0)


def test_read_by_imaterialist_loader(small_set):
    from fashion_mrcnn.data.dataset import FashionDataset

    ds = FashionDataset.from_imaterialist(
        small_set / "train.csv", small_set / "label_descriptions.json"
    )
    assert len(ds.image_ids) == 10 and len(ds.skip_report) == 0
    for image_id in ds.image_ids[:4]:
        rec = ds.record(image_id)
        index = int(rec["image_id"][len("synth_") : -len(".jpg")])
        _, masks, cats = synthetic.render_scene(synthetic.image_rng(7, index), size=128)
        inst = ds.load_instances(image_id)
        np.testing.assert_array_equal(inst["masks"], masks)
        names = [ds.class_names[c] for c in inst["class_ids"]]
        expected = [ds.class_names[ds.internal_class_id(c)] for c in cats]
        assert names == expected
        assert ds.load_image(image_id).shape == (128, 128, 3)


def test_fill_takes_the_union_of_overlapping_polygons():
    """Overlapping parts (sleeve over torso, hand over arm) must not cancel out (even-odd)."""
    person = synthetic._Person(np.random.default_rng(0), 200, (0.9, 0.9))
    person.rot = np.eye(2)  # 1 unit = 1 px, no rotation
    person.offset = np.zeros(2)
    a = np.array([[10, 10], [30, 10], [30, 30], [10, 30]], float)
    b = a + 10
    hole = np.array([[12, 12], [16, 12], [16, 16], [12, 16]], float)
    mask = synthetic._fill((60, 60), person, [a, b], [hole])
    assert mask[20:30, 20:30].all()  # the overlap stays filled
    # fillPoly includes the boundary: a 10..30 square covers 21 x 21 pixels
    assert mask.sum() == 2 * 21 * 21 - 11 * 11 - 5 * 5
    assert not mask[12:17, 12:17].any()
