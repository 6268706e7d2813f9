"""Sharded batch inference: which images shard I of N takes, and the manifest each shard writes.

**The rule** (its one owner: :meth:`Shard.select`). ``predict --shard I/N`` and ``submit --shard
I/N`` (1-based: ``1 <= I <= N``) take the contiguous block ``items[(I-1)*n//N : I*n//N]`` of the
``n`` inputs the unsharded command would process, in its order: ``submit``, the folder's images
sorted by name; ``predict``, the inputs as given (a folder's images sorted by name). Every machine
given the same inputs and the same N gets a different block; the blocks cover the list with no
overlap and no gap, differ in size by at most one (a block is empty when N > n), and their
outputs concatenated in shard order are in the unsharded output's order.

**The manifest** (:func:`write_manifest`), written when a shard's run finished (a run stopped by
an error leaves none), records what a merge needs to check that the shards make up one whole
run: the command, ``shard`` / ``of`` (I and N), ``total`` and ``inputs_sha256`` (the size and a
fingerprint of the whole input list), ``items`` (the inputs this shard covered, in order),
``written`` (how many records, skipped images or rows its output holds) and ``settings`` (the
options that shape the output, equal across shards). Inside a folder output (``predict --out
DIR``) it is ``DIR/shard.json``; beside a file output (``submit --out X.csv``) ``X.csv.shard.json``
(:func:`manifest_path`). :func:`check_shard_set` refuses a set of shards that is not one whole run.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from fashion_mrcnn.errors import FashionDataError

T = TypeVar("T")

#: The manifest inside a folder output; beside a file output it is ``<file>`` + this suffix.
MANIFEST_FILE = "shard.json"
MANIFEST_SUFFIX = ".shard.json"
_SHARD_RE = re.compile(r"^\s*(-?\d+)\s*/\s*(-?\d+)\s*$")
_KEYS = ("command", "shard", "of", "total", "inputs_sha256", "items", "written", "settings")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based: ``1 <= index <= count``)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"the number of shards N must be >= 1, got {self}")
        if not 1 <= self.index <= self.count:
            raise ValueError(
                f"shard I must be between 1 and N = {self.count} (1-based), got {self}"
            )

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/4"`` -> ``Shard(2, 4)``; ValueError naming the value for anything else."""
        match = _SHARD_RE.match(str(text))
        if not match:
            raise ValueError(
                f"expected I/N with whole numbers 1 <= I <= N (e.g. 1/4), got {text!r}"
            )
        return cls(int(match[1]), int(match[2]))

    def bounds(self, n: int) -> tuple[int, int]:
        """``(start, stop)`` of this shard's block of ``n`` items."""
        return (self.index - 1) * n // self.count, self.index * n // self.count

    def select(self, items: Sequence[T]) -> list[T]:
        """This shard's block of ``items`` (see the module docstring)."""
        start, stop = self.bounds(len(items))
        return list(items[start:stop])


def fingerprint(items: Iterable[str]) -> str:
    """sha256 of the items, one per line: equal lists, equal fingerprints."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(str(item).encode("utf-8") + b"\n")
    return digest.hexdigest()


def manifest_path(output: str | Path, folder: bool) -> Path:
    """The manifest of a shard's output: ``output/shard.json`` for a folder output, else
    ``<output>.shard.json`` beside the file."""
    output = Path(output)
    return output / MANIFEST_FILE if folder else output.with_name(output.name + MANIFEST_SUFFIX)


def write_manifest(
    path: str | Path,
    command: str,
    shard: Shard,
    all_items: Sequence[str],
    written: dict[str, int],
    settings: dict[str, Any] | None = None,
) -> Path:
    """Write the manifest of ``shard`` of ``all_items`` (the whole input list) to ``path``
    (written whole, then renamed into place)."""
    all_items = [str(i) for i in all_items]
    manifest = {
        "command": command,
        "shard": shard.index,
        "of": shard.count,
        "total": len(all_items),
        "inputs_sha256": fingerprint(all_items),
        "items": shard.select(all_items),
        "written": {k: int(v) for k, v in written.items()},
        "settings": settings or {},
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    tmp.replace(path)
    return path


def read_manifest(path: str | Path) -> dict:
    """A manifest written by :func:`write_manifest`; FashionDataError naming the file when it is
    missing (not the output of a finished sharded run) or malformed."""
    path = Path(path)
    if not path.is_file():
        raise FashionDataError(
            f"{path}: no shard manifest: not the output of a finished --shard run (a run stopped "
            "by an error writes none)"
        )
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FashionDataError(f"{path}: not a shard manifest ({exc})") from None
    missing = [k for k in _KEYS if not isinstance(manifest, dict) or k not in manifest]
    if missing:
        raise FashionDataError(f"{path}: not a shard manifest (no {', '.join(missing)})")
    try:
        Shard(int(manifest["shard"]), int(manifest["of"]))
    except (TypeError, ValueError) as exc:
        raise FashionDataError(f"{path}: bad shard in the manifest: {exc}") from None
    return manifest


def check_shard_set(manifests: Sequence[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """The ``(source, manifest)`` pairs sorted by shard index, when they are the N shards of one
    run: one command, one N, one input list, the same settings, every shard 1..N exactly once,
    no input in two shards and, in shard order, exactly the whole input list. Otherwise a
    FashionDataError naming the shards (by ``source``) and the problem."""
    if not manifests:
        raise FashionDataError("no shard outputs given")
    first_source, first = manifests[0]

    def differ(key: str, what: str) -> None:
        for source, m in manifests[1:]:
            if m[key] != first[key]:
                raise FashionDataError(
                    f"{source} and {first_source} are not shards of one run: {what} differ "
                    f"({m[key]!r} and {first[key]!r})"
                )

    differ("command", "the commands")
    differ("of", "the numbers of shards N")
    differ("total", "the input counts")
    differ("inputs_sha256", "the input lists (give every shard the same inputs)")
    differ("settings", "the settings")
    by_index: dict[int, str] = {}
    for source, m in manifests:
        if m["shard"] in by_index:
            raise FashionDataError(
                f"shard {m['shard']}/{m['of']} given twice: {by_index[m['shard']]} and {source}"
            )
        by_index[m["shard"]] = source
    count = int(first["of"])
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in by_index]
    if missing:
        raise FashionDataError(
            f"missing shard(s) {', '.join(missing)}: got {len(manifests)} of {count} "
            f"({', '.join(s for _, s in sorted(by_index.items()))})"
        )
    ordered = sorted(manifests, key=lambda pair: pair[1]["shard"])
    total = int(first["total"])
    for source, m in ordered:
        start, stop = Shard(int(m["shard"]), count).bounds(total)
        if len(m["items"]) != stop - start:
            raise FashionDataError(
                f"{source}: shard {m['shard']}/{count} covers {len(m['items'])} inputs where the "
                f"rule gives it {stop - start} of {total}"
            )
    joined = [item for _, m in ordered for item in m["items"]]
    if fingerprint(joined) != first["inputs_sha256"]:
        raise FashionDataError(
            f"the shards' inputs in shard order are not the input list: {_overlap(ordered)}"
        )
    return ordered


def _overlap(ordered: Sequence[tuple[str, dict]]) -> str:
    """Name an input two shards both cover, or say there is a gap."""
    owner: dict[str, str] = {}
    for source, m in ordered:
        for item in dict.fromkeys(m["items"]):
            if item in owner:
                return f"{owner[item]} and {source} overlap (both cover {item})"
            owner[item] = source
    return "an input is missing from every shard (a gap) or the shards are out of order"
