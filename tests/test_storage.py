"""Tests for fashion_mrcnn.storage: one set of file operations for local paths and URLs, checked
on TensorFlow's in-memory ``ram://`` file system (what ``gs://`` goes through on Colab)."""

import uuid
from pathlib import Path

import pytest

from fashion_mrcnn import storage


@pytest.fixture
def ram_dir():
    return f"ram://storage-test-{uuid.uuid4().hex}"


def test_join_keeps_the_scheme_and_name_reads_it():
    assert storage.join("gs://bucket/run", "a", "b.json") == "gs://bucket/run/a/b.json"
    assert storage.name("gs://bucket/run/b.json") == "b.json"
    assert storage.name("gs://bucket/run/") == "run"
    assert storage.parent("gs://bucket/run/b.json") == "gs://bucket/run"
    assert storage.parent("b.json") == "." and storage.parent("/a/b.json") == "/a"
    assert storage.as_path("gs://bucket/x") == "gs://bucket/x"
    assert storage.as_path("local/x") == Path("local/x")


@pytest.mark.parametrize("where", ["local", "ram"])
def test_write_read_glob_replace_remove(where, tmp_path, ram_dir):
    folder = storage.join(tmp_path if where == "local" else ram_dir, "sub")
    storage.makedirs(folder)
    storage.makedirs(folder)  # again: no error
    assert storage.is_dir(folder) and not storage.is_file(folder)
    first = storage.join(folder, "a.txt")
    storage.write_text(first, "hello")
    storage.write_text(storage.join(folder, "b.tmp"), "x" * 3_000_000)
    assert storage.read_text(first) == "hello" and storage.is_file(first)
    assert [storage.name(p) for p in storage.glob(folder, "*.txt")] == ["a.txt"]
    assert sum(len(b) for b in storage.read_blocks(storage.join(folder, "b.tmp"))) == 3_000_000
    storage.replace(storage.join(folder, "b.tmp"), first)  # replaces the existing file
    assert len(storage.read_text(first)) == 3_000_000
    assert not storage.exists(storage.join(folder, "b.tmp"))
    storage.remove(first)
    assert storage.glob(folder, "*") == []


@pytest.mark.parametrize("where", ["local", "ram"])
def test_files_under_lists_every_file_below_and_copy_goes_both_ways(where, tmp_path, ram_dir):
    folder = storage.join(tmp_path / "src" if where == "local" else ram_dir, "run")
    names = ["a.json", "logs/x/training.csv", "logs/x/train/events.v2", "logs/x/m.h5"]
    for k, rel in enumerate(names):  # a folder "train" beside "training.csv": listed apart
        storage.makedirs(storage.parent(storage.join(folder, rel)))
        storage.write_text(storage.join(folder, rel), f"file {k}")
    assert storage.files_under(folder) == sorted(names)
    assert storage.files_under(storage.join(folder, "logs/x/train")) == ["events.v2"]
    assert storage.files_under(storage.join(folder, "none")) == []
    back = tmp_path / "back.csv"
    storage.copy(storage.join(folder, names[1]), back)  # URL (or local) -> local
    storage.copy(back, storage.join(folder, "a.json"))  # and back, replacing a file
    assert back.read_text() == storage.read_text(storage.join(folder, "a.json")) == "file 1"
    assert storage.read_bytes(storage.join(folder, "logs/x/m.h5")) == b"file 3"
