"""Tests for fashion_mrcnn.data.cache.reader: reading packed shards back (tf.data and the
numpy CachedDataset), windows of non-square images, real photos."""

import json

import numpy as np
import pytest
from PIL import Image

from fashion_mrcnn.data import cache
from fashion_mrcnn.data.dataset import FashionDataset
from fashion_mrcnn.data.formats import rle
from tests.data.cache.cache_expected import expected_instances as _expected


def test_read_back_equals_resized_source(synth_dataset, tmp_path):
    out = tmp_path / "cache"
    cache.pack_dataset(synth_dataset, out, image_size=64, shard_size=5)
    cached = cache.CachedDataset(out)
    assert cached.class_names == synth_dataset.class_names
    assert len(cached.image_ids) == 12
    tf_items = list(cache.read_cache(out).as_numpy_iterator())
    assert len(tf_items) == 12
    for i in synth_dataset.image_ids:
        image, masks, class_ids, window, scale, attrs = _expected(synth_dataset, i, 64)
        inst = cached.load_instances(i)
        np.testing.assert_array_equal(inst["masks"], masks)
        np.testing.assert_array_equal(inst["class_ids"], class_ids)
        assert inst["window"] == window and inst["scale"] == pytest.approx(scale)
        assert inst["original_shape"] == (96, 96)
        got_image = cached.load_image(i)
        assert got_image.shape == (64, 64, 3) and got_image.dtype == np.uint8
        assert np.abs(got_image.astype(int) - image).mean() < 4
        assert inst["attribute_ids"] == attrs
        item = tf_items[i]
        assert item["image_id"].decode() == synth_dataset.image_info[i]["id"]
        np.testing.assert_array_equal(item["masks"], masks)
        np.testing.assert_array_equal(item["class_ids"], class_ids)
        assert np.abs(item["image"].astype(int) - got_image).max() <= 1
        m, c = cached.load_mask(i)
        np.testing.assert_array_equal(m, masks)
    assert "shard-00000-of-00003.tfrecord" in cached.image_reference(0)


def test_non_square_images_keep_window(tmp_path):
    """A 40x100 image: long side scaled to 50, padded top and bottom; masks follow."""
    records = []
    for k, (h, w) in enumerate(((40, 100), (100, 30))):
        img = np.zeros((h, w, 3), np.uint8)
        img[5:15, 10:20] = 255
        Image.fromarray(img).save(tmp_path / f"im{k}.png")
        mask = np.zeros((h, w), bool)
        mask[5:15, 10:20] = True
        tiny = np.zeros((h, w), bool)
        tiny[1, 1] = True  # nearest-neighbour at scale 0.5 samples even rows: it vanishes
        records.append({
            "image_id": f"im{k}.png", "path": str(tmp_path / f"im{k}.png"), "height": h,
            "width": w, "source": "imaterialist",
            "instances": [
                {"category_id": 6, "attribute_ids": [1, 2], "box_only": False, "origin": "t",
                 "segmentation": {"kind": "kaggle_rle", "data": rle.encode(mask)}},
                {"category_id": 23, "attribute_ids": [], "box_only": True, "origin": "t",
                 "segmentation": {"kind": "kaggle_rle", "data": rle.encode(tiny)}},
            ],
        })  # fmt: skip
    ds = FashionDataset.from_records(records)
    manifest = json.loads(cache.pack_dataset(ds, tmp_path / "c", image_size=50).read_text())
    assert manifest["shards"][0]["empty_instances_dropped"] == 2
    cached = cache.CachedDataset(tmp_path / "c")
    inst = cached.load_instances(0)
    assert inst["window"] == (15, 0, 35, 50) and inst["scale"] == pytest.approx(0.5)
    assert inst["masks"].shape == (50, 50, 1)
    ys, xs = np.nonzero(inst["masks"][..., 0])
    assert (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1) == (
        15 + 3,
        15 + 8,
        5,
        10,
    )  # rows 2r in 5..14
    assert inst["attribute_ids"] == [[1, 2]] and not inst["box_only"][0]
    assert ds.class_names[inst["class_ids"][0]] == "pants"
    assert cached.load_instances(1)["window"] == (0, 17, 50, 32)


@pytest.mark.realdata
def test_pack_real_street_photos(ccp_dir, tmp_path):
    """Six real 550 x 832 photos: non-square resize, many instances, read back exactly."""
    full = FashionDataset.from_imaterialist(
        ccp_dir / "train.csv", ccp_dir / "label_descriptions.json", ccp_dir / "images"
    )
    ds = full.subset(range(6))
    cache.pack_dataset(ds, tmp_path / "c", image_size=256, shard_size=3)
    cached = cache.CachedDataset(tmp_path / "c")
    assert cached.class_names == ds.class_names
    for i in ds.image_ids:
        image, masks, class_ids, window, scale, _ = _expected(ds, i, 256)
        inst = cached.load_instances(i)
        assert inst["original_shape"] == ds.load_image(i).shape[:2]
        assert inst["window"] == window and window[0] == 0 and window[1] > 0  # portrait: side pads
        np.testing.assert_array_equal(inst["masks"], masks)
        np.testing.assert_array_equal(inst["class_ids"], class_ids)
        assert np.abs(cached.load_image(i).astype(int) - image).mean() < 4
