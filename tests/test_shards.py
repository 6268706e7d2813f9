"""The shard rule (no overlap, no gap, unsharded order), ``I/N`` parsing, and the checks a merge
makes on a set of shard manifests."""

from __future__ import annotations

import json

import pytest

from fashion_mrcnn.errors import FashionDataError
from fashion_mrcnn.shards import (
    Shard,
    check_shard_set,
    fingerprint,
    manifest_path,
    read_manifest,
    write_manifest,
)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 7, 13])
@pytest.mark.parametrize("count", [1, 2, 3, 4, 8])
def test_the_shards_split_the_list_in_order_with_no_overlap_and_no_gap(n, count):
    items = [f"img{k:02d}.jpg" for k in range(n)]
    blocks = [Shard(i, count).select(items) for i in range(1, count + 1)]
    assert [item for block in blocks for item in block] == items  # in order, each item once
    sizes = [len(block) for block in blocks]
    assert max(sizes) - min(sizes) <= 1, sizes


def test_the_rule_is_contiguous_blocks():
    items = list("abcdefg")
    assert [Shard(i, 3).select(items) for i in (1, 2, 3)] == [["a", "b"], ["c", "d"], list("efg")]
    assert Shard(2, 3).bounds(7) == (2, 4)


@pytest.mark.parametrize("text, shard", [("1/2", Shard(1, 2)), (" 2 / 2 ", Shard(2, 2)),
                                         ("1/1", Shard(1, 1)), ("7/10", Shard(7, 10))])  # fmt: skip
def test_parse(text, shard):
    assert Shard.parse(text) == shard
    assert str(shard) == text.replace(" ", "")


@pytest.mark.parametrize(
    "text, message",
    [
        ("0/2", "between 1 and N = 2 (1-based), got 0/2"),
        ("3/2", "between 1 and N = 2 (1-based), got 3/2"),
        ("-1/2", "between 1 and N = 2 (1-based), got -1/2"),
        ("1/0", "N must be >= 1, got 1/0"),
        ("1", "expected I/N with whole numbers 1 <= I <= N (e.g. 1/4), got '1'"),
        ("a/b", "got 'a/b'"),
        ("1/2/3", "got '1/2/3'"),
        ("1.5/2", "got '1.5/2'"),
        ("", "got ''"),
    ],
)
def test_parse_refuses_naming_the_value(text, message):
    with pytest.raises(ValueError) as exc:
        Shard.parse(text)
    assert message in str(exc.value)


def test_manifest_paths():
    assert manifest_path("out/p1", folder=True).as_posix() == "out/p1/shard.json"
    assert manifest_path("out/s1.csv", folder=False).as_posix() == "out/s1.csv.shard.json"


ITEMS = [f"im{k}.jpg" for k in range(7)]


def manifests(tmp_path, count=3, items=ITEMS, command="submit", settings=None):
    """``(source, manifest)`` of every shard of ``items``, written and read back."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(1, count + 1):
        path = tmp_path / f"s{i}of{count}.json"
        write_manifest(path, command, Shard(i, count), items, {"rows": 1}, settings or {})
        out.append((f"shard-{i}-of-{count}", read_manifest(path)))
    return out


def test_a_whole_set_comes_back_in_shard_order(tmp_path):
    pairs = manifests(tmp_path)
    ordered = check_shard_set(pairs[::-1])
    assert [m["shard"] for _, m in ordered] == [1, 2, 3]
    assert [item for _, m in ordered for item in m["items"]] == ITEMS
    first = ordered[0][1]
    assert (first["of"], first["total"], first["inputs_sha256"]) == (3, 7, fingerprint(ITEMS))


def test_missing_and_duplicated_shards_are_refused(tmp_path):
    one, two, three = manifests(tmp_path)
    with pytest.raises(FashionDataError, match=r"missing shard\(s\) 2/3: got 2 of 3"):
        check_shard_set([one, three])
    with pytest.raises(FashionDataError, match="shard 2/3 given twice: shard-2-of-3 and copy"):
        check_shard_set([one, two, ("copy", two[1]), three])
    with pytest.raises(FashionDataError, match="no shard outputs given"):
        check_shard_set([])


def test_shards_of_another_run_are_refused(tmp_path):
    one, two, _ = manifests(tmp_path)
    other_n = manifests(tmp_path / "n", count=2)
    with pytest.raises(FashionDataError, match="numbers of shards N differ"):
        check_shard_set([one, two, other_n[1]])
    other_inputs = manifests(tmp_path / "i", items=ITEMS[:-1] + ["other.jpg"])
    with pytest.raises(FashionDataError, match="input lists .* differ"):
        check_shard_set([one, two, other_inputs[2]])
    other_settings = manifests(tmp_path / "s", settings={"size": [64, 64]})
    with pytest.raises(FashionDataError, match="the settings differ"):
        check_shard_set([one, two, other_settings[2]])
    predict = manifests(tmp_path / "p", command="predict")
    with pytest.raises(FashionDataError, match="the commands differ"):
        check_shard_set([one, two, predict[2]])


def test_overlapping_or_gapped_shards_are_refused(tmp_path):
    one, two, three = manifests(tmp_path)
    overlapping = dict(three[1], items=[two[1]["items"][0], *three[1]["items"][1:]])
    with pytest.raises(FashionDataError, match="shard-2-of-3 and late overlap .*im2.jpg"):
        check_shard_set([one, two, ("late", overlapping)])
    gap = dict(three[1], items=["im9.jpg", *three[1]["items"][1:]])
    with pytest.raises(FashionDataError, match="not the input list: an input is missing"):
        check_shard_set([one, two, ("gap", gap)])
    longer = dict(three[1], items=[*three[1]["items"], "im7.jpg"])
    with pytest.raises(FashionDataError, match="long: shard 3/3 covers 4 inputs where the rule"):
        check_shard_set([one, two, ("long", longer)])


def test_read_manifest_names_the_file(tmp_path):
    with pytest.raises(FashionDataError, match=r"nope\.json: no shard manifest"):
        read_manifest(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(FashionDataError, match=r"bad\.json: not a shard manifest"):
        read_manifest(bad)
    bad.write_text(json.dumps({"command": "predict"}))
    with pytest.raises(FashionDataError, match=r"bad\.json: not a shard manifest \(no shard, of"):
        read_manifest(bad)
    path = tmp_path / "m.json"
    write_manifest(path, "predict", Shard(1, 2), ITEMS, {"records": 3, "skipped": 1})
    manifest = json.loads(path.read_text())
    manifest["shard"] = 5
    path.write_text(json.dumps(manifest))
    with pytest.raises(FashionDataError, match=r"m\.json: bad shard in the manifest"):
        read_manifest(path)
