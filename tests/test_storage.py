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
