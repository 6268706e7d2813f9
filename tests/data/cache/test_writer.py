"""Tests for fashion_mrcnn.data.cache.writer (and layout): packing, resuming, checksums."""

import json

import pytest

from fashion_mrcnn.data import cache
from fashion_mrcnn.errors import FashionDataError


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


def test_verify_rejects_non_cache(tmp_path):
    with pytest.raises(FashionDataError, match="not a shard cache"):
        cache.verify_cache(tmp_path)
    with pytest.raises(ValueError, match="shard_size"):
        cache.pack_dataset(None, tmp_path, image_size=64, shard_size=0)


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


def test_pack_resume_verify_and_read_on_ram_filesystem(synth_dataset, tmp_path):
    """The cache goes through tf.io.gfile: packed into TensorFlow's in-memory file system (as
    into gs://), interrupted and resumed, then verified and read back, its shards hold the same
    bytes as a local pack's."""
    import uuid

    from fashion_mrcnn import storage

    remote = f"ram://cache-{uuid.uuid4().hex}/cache"
    first = cache.pack_dataset(synth_dataset, remote, 64, 5, max_shards=1)
    assert first == f"{remote}/manifest.json"
    assert not json.loads(storage.read_text(first))["complete"]
    cache.pack_dataset(synth_dataset, remote, 64, 5)
    manifest = cache.verify_cache(remote)
    local = tmp_path / "cache"
    cache.pack_dataset(synth_dataset, local, 64, 5)
    assert manifest["shards"] == cache.verify_cache(local)["shards"]  # names, sha256, ids
    cached = cache.CachedDataset(remote)
    assert len(cached.image_ids) == 12 and cached.load_mask(3)[1].tolist() == (
        cache.CachedDataset(local).load_mask(3)[1].tolist()
    )
    assert len(list(cache.read_cache(remote).as_numpy_iterator())) == 12
