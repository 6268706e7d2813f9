"""Tests for fashion_mrcnn.data.cache: packing, resuming, checksums, reading back."""

import json

import numpy as np
import pytest
from PIL import Image

from fashion_mrcnn.data import cache, rle, synthetic
from fashion_mrcnn.data.dataset import FashionDataset
from fashion_mrcnn.errors import FashionDataError


@pytest.fixture(scope="module")
def synth_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_cache_src")
    synthetic.generate(root, n_images=12, size=96, seed=4, attributes=True)
    return FashionDataset.from_imaterialist(root / "train.csv", root / "label_descriptions.json")


def _expected(dataset, i, size):
    inst = dataset.load_instances(i)
    image, masks, window, scale = cache.resize_instances(dataset.load_image(i), inst["masks"], size)
    keep = masks.any(axis=(0, 1))
    attrs = [a for a, k in zip(inst["attribute_ids"], keep) if k]
    return image, masks[..., keep], inst["class_ids"][keep], window, scale, attrs


def test_decode_rles_tf_matches_numpy():
    rng = np.random.default_rng(0)
    for h, w, n in ((7, 5, 4), (32, 48, 6), (9, 9, 0)):
        masks = rng.random((h, w, n)) > 0.6
        if n:
            masks[..., 0] = False  # empty mask
            masks[..., -1] = True  # full mask
        rles = [rle.encode(masks[..., k]) for k in range(n)]
        expected = cache.decode_rles_np(rles, h, w)
        np.testing.assert_array_equal(expected, masks)
        got = cache.decode_rles_tf(np.array(rles, dtype=object).astype(bytes) if n else
                                   np.zeros(0, dtype=bytes), h, w).numpy()  # fmt: skip
        assert got.shape == (h, w, n) and got.dtype == bool
        np.testing.assert_array_equal(got, expected)


def test_pack_interrupt_resume_verify_corrupt(synth_dataset, tmp_path):
    out = tmp_path / "cache"
    manifest_path = cache.pack_dataset(
        synth_dataset, out, image_size=64, shard_size=4, max_shards=1
    )
    manifest = json.loads(manifest_path.read_text())
    assert manifest["complete"] is False and len(manifest["shards"]) == 1
    assert sorted(p.name for p in out.glob("shard-*")) == ["shard-00000-of-00003.tfrecord"]
    with pytest.raises(FashionDataError, match="incomplete"):
        cache.verify_cache(out)
    first = out / "shard-00000-of-00003.tfrecord"
    stamp = first.stat().st_mtime_ns
    (out / "shard-00001-of-00003.tfrecord.tmp").write_bytes(b"half a shard")  # a crash leftover
    cache.pack_dataset(synth_dataset, out, image_size=64, shard_size=4)
    assert first.stat().st_mtime_ns == stamp  # kept, not rewritten
    assert not list(out.glob("*.tmp"))
    manifest = cache.verify_cache(out)
    assert manifest["complete"] and [s["num_images"] for s in manifest["shards"]] == [4, 4, 4]
    assert manifest["class_names"] == synth_dataset.class_names and manifest["image_size"] == 64
    # corrupt one byte of the middle shard
    bad = out / "shard-00001-of-00003.tfrecord"
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(FashionDataError, match="shard-00001-of-00003.tfrecord.*checksum"):
        cache.verify_cache(out)
    with pytest.raises(FashionDataError, match="checksum"):
        cache.CachedDataset(out)
    cache.pack_dataset(synth_dataset, out, image_size=64, shard_size=4)  # repairs that shard
    assert first.stat().st_mtime_ns == stamp
    cache.verify_cache(out)
    bad.unlink()
    with pytest.raises(FashionDataError, match="shard-00001-of-00003.tfrecord: shard file missing"):
        cache.verify_cache(out)
    with pytest.raises(FashionDataError, match="different"):
        cache.pack_dataset(synth_dataset, out, image_size=96, shard_size=4)


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


def test_verify_rejects_non_cache(tmp_path):
    with pytest.raises(FashionDataError, match="not a shard cache"):
        cache.verify_cache(tmp_path)
    with pytest.raises(ValueError, match="shard_size"):
        cache.pack_dataset(None, tmp_path, image_size=64, shard_size=0)


def test_restore_to_original_coordinates():
    rng = np.random.default_rng(1)
    h, w = 60, 150
    masks = np.zeros((h, w, 3), bool)
    masks[10:40, 20:90, 0] = True
    masks[0:60, 100:150, 1] = True
    masks[30:31, 5:6, 2] = True
    image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    _, small, window, scale = cache.resize_instances(image, masks, 100)
    assert window == (30, 0, 70, 100) and scale == pytest.approx(100 / 150)
    back = cache.restore_masks(small, window, (h, w))
    assert back.shape == (h, w, 3)
    for k in (0, 1):  # big shapes come back within a pixel or two of their edges (IoU > 0.9)
        inter = (back[..., k] & masks[..., k]).sum()
        union = (back[..., k] | masks[..., k]).sum()
        assert inter / union > 0.9
    boxes = np.array([[40, 13, 57, 60], [30, 67, 70, 100]])  # cached-image boxes of masks 0, 1
    np.testing.assert_allclose(
        cache.restore_boxes(boxes, window, scale, (h, w)),
        [[15, 19.5, 40.5, 90], [0, 100.5, 60, 150]],
    )
    many = np.zeros((100, 100, 150), bool)  # more channels than OpenCV resizes at once
    many[40:60, 10:20, :] = True
    assert cache.restore_masks(many, window, (h, w))[..., 149].sum() == (
        cache.restore_masks(many[..., :1], window, (h, w))[..., 0].sum()
    )


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


def test_resume_false_replaces_shards_of_another_layout(synth_dataset, tmp_path):
    out = tmp_path / "c"
    cache.pack_dataset(synth_dataset, out, image_size=48, shard_size=4)
    assert len(list(out.glob("shard-*"))) == 3
    cache.pack_dataset(synth_dataset, out, image_size=48, shard_size=6, resume=False)
    names = sorted(p.name for p in out.glob("shard-*"))
    assert names == ["shard-00000-of-00002.tfrecord", "shard-00001-of-00002.tfrecord"]
    assert cache.verify_cache(out)["shard_size"] == 6


def test_limited_resume_keeps_later_valid_shards(synth_dataset, tmp_path):
    out = tmp_path / "c"
    cache.pack_dataset(synth_dataset, out, image_size=48, shard_size=4)
    (out / "shard-00000-of-00003.tfrecord").unlink()
    last = out / "shard-00002-of-00003.tfrecord"
    stamp = last.stat().st_mtime_ns
    manifest = json.loads(cache.pack_dataset(synth_dataset, out, 48, 4, max_shards=0).read_text())
    assert [s["index"] for s in manifest["shards"]] == [1, 2] and not manifest["complete"]
    manifest = json.loads(cache.pack_dataset(synth_dataset, out, 48, 4).read_text())
    assert manifest["complete"] and last.stat().st_mtime_ns == stamp
    cache.verify_cache(out)
