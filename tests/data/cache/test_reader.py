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


def test_a_cache_folder_opens_as_data_with_its_splits_and_categories(synth_dataset, tmp_path):
    """``open_path`` / ``open_dataset`` read a cache like the data it was packed from: the same
    records by image id (instances, categories, attributes), splits from the splits.json
    beside the manifest, subsets and a category filter that keep the images in the shards."""
    from fashion_mrcnn.data.paths import open_path
    from fashion_mrcnn.workflow.stages import open_dataset

    out = tmp_path / "cache"
    cache.pack_dataset(synth_dataset, out, image_size=64, shard_size=5)
    opened = open_path(out)
    assert isinstance(opened, cache.CachedDataset) and opened.images_verified
    assert opened.class_counts() == synth_dataset.class_counts()
    ids = [info["id"] for info in synth_dataset.image_info]
    (out / "splits.json").write_text(json.dumps({"train": ids[:8], "val": ids[8:]}))
    val = open_dataset(out, split="val")
    assert isinstance(val, cache.CachedDataset) and [i["id"] for i in val.image_info] == ids[8:]
    np.testing.assert_array_equal(val.load_mask(1)[0], opened.load_mask(9)[0])
    assert val.load_instances(1)["attribute_ids"] == opened.load_instances(9)["attribute_ids"]
    counts = synth_dataset.class_counts()
    k = next(k for k, name in enumerate(synth_dataset.class_names[1:]) if counts[name][0])
    only = open_path(out, categories=[int(synth_dataset.categories[k]["id"])])
    assert only.class_names == ["BG", synth_dataset.class_names[k + 1]]
    assert only.class_counts() == {only.class_names[1]: counts[only.class_names[1]]}
    (out / "manifest.json").write_text(json.dumps({"images": []}))  # not a cache manifest
    with pytest.raises(Exception, match="annotations|categories|images|COCO"):
        open_path(out)


def test_a_cache_on_a_url_opens_with_its_splits_and_other_urls_are_refused(synth_dataset):
    import uuid

    from fashion_mrcnn import storage
    from fashion_mrcnn.errors import FashionDataError
    from fashion_mrcnn.workflow.stages import open_dataset

    remote = f"ram://open-{uuid.uuid4().hex}/cache"
    cache.pack_dataset(synth_dataset, remote, image_size=48, shard_size=6)
    ids = [info["id"] for info in synth_dataset.image_info]
    storage.write_text(storage.join(remote, "splits.json"), json.dumps({"val": ids[3:5]}))
    val = open_dataset(remote, split="val")
    assert [i["id"] for i in val.image_info] == ids[3:5] and val.load_image(0).shape == (48, 48, 3)
    with pytest.raises(FashionDataError, match="only a shard cache"):
        open_dataset(f"ram://open-{uuid.uuid4().hex}/train.csv")


@pytest.mark.parametrize("where", ["local", "ram"])
def test_verified_cache_reads_each_shard_once(synth_dataset, tmp_path, monkeypatch, where):
    """CachedDataset(verify=True) hashes and parses each shard from one read (on gs:// a second
    read doubles start-up I/O): every shard read through storage.open_file is deleted right
    after, so any second read of it (for the checksum, or TensorFlow's own) fails. A corrupt
    shard is still refused, naming it."""
    import io
    import uuid
    from collections import Counter

    from fashion_mrcnn import storage
    from fashion_mrcnn.errors import FashionDataError

    out = str(tmp_path / "c") if where == "local" else f"ram://once-{uuid.uuid4().hex}/c"
    cache.pack_dataset(synth_dataset, out, image_size=48, shard_size=5)
    want = cache.CachedDataset(out)  # read as usual, for comparison
    shards = [storage.join(out, s["file"]) for s in want.manifest["shards"]]
    reads, real_open = Counter(), storage.open_file

    def open_once(path, mode="r"):
        if str(path) not in shards:
            return real_open(path, mode)
        reads[str(path)] += 1
        with real_open(path, mode) as f:
            data = f.read()
        storage.replace(path, str(path) + ".read")  # a second read finds no shard here
        return io.BytesIO(data)

    monkeypatch.setattr(storage, "open_file", open_once)
    got = cache.CachedDataset(out)
    assert reads == Counter({p: 1 for p in shards}) and len(shards) == 3
    assert got.images_verified and len(got.image_ids) == 12
    assert got.records == want.records
    for i in (0, 11):
        np.testing.assert_array_equal(got.load_image(i), want.load_image(i))
        np.testing.assert_array_equal(got.load_mask(i)[0], want.load_mask(i)[0])
    monkeypatch.undo()
    for p in shards:
        storage.replace(p + ".read", p)
    data = bytearray(storage.read_bytes(shards[1]))
    data[len(data) // 2] ^= 0xFF
    with storage.open_file(shards[1], "wb") as f:
        f.write(bytes(data))
    with pytest.raises(FashionDataError, match=r"shard-00001-of-00003\.tfrecord: checksum"):
        cache.CachedDataset(out)
