"""``fashion-mrcnn merge-shards``: join the outputs of ``predict --shard I/N`` or ``submit --shard
I/N`` into exactly what the unsharded command writes.

Each shard's manifest (:mod:`fashion_mrcnn.shards`) is read and the set checked first
(``shards.check_shard_set``: one run, every shard once, no overlap, no gap); then each shard's
output is checked against its manifest (every input it covered is in it once: a record or a
skipped line for ``predict``, rows of its images only and as many as it wrote for ``submit``), and
only then is anything written. The merged output is the shards' outputs in shard order:

- ``predict``: ``predictions.jsonl`` (the shards' files concatenated), ``overlays/`` (the PNG
  of every predicted input, named as the unsharded run names it), ``skipped.csv`` when an image
  was skipped;
- ``submit``: the CSV (one header, the shards' rows), then validated as ``submit`` validates it.

No manifest is written into the merged output: it is the unsharded command's output.
"""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from fashion_mrcnn.errors import SKIP_REPORT_FILE, FashionDataError, SkipReport
from fashion_mrcnn.predict import JSONL_NAME, OVERLAYS_DIR, overlay_names, read_jsonl
from fashion_mrcnn.shards import check_shard_set, manifest_path, read_manifest


def merge_shards(out: str | Path, shard_outputs: Sequence[str | Path]) -> dict:
    """Merge shard outputs (``predict`` output folders or ``submit`` CSV files) into ``out``.

    Returns ``{"command", "out", "shards", "images"}`` plus, for ``predict``, ``records`` and
    ``skipped`` (counts), for ``submit``, ``rows`` and ``problems`` (``validate_submission``'s
    list). FashionDataError naming the shard and the problem when the shards are not one whole
    run or an output does not match its manifest; nothing is written then.
    """
    out = Path(out)
    sources = [Path(p) for p in shard_outputs]
    for source in sources:
        if not source.exists():
            raise FashionDataError(f"{source}: no such shard output (a folder or a CSV file)")
    pairs = [(str(p), read_manifest(manifest_path(p, folder=p.is_dir()))) for p in sources]
    ordered = check_shard_set(pairs)
    for source in sources:
        if out.resolve() == source.resolve():
            raise FashionDataError(f"{out}: the merged output would overwrite shard {source}")
    shards = [(Path(source), manifest) for source, manifest in ordered]
    command = ordered[0][1]["command"]
    if command == "predict":
        result = _merge_predict(out, shards)
    elif command == "submit":
        result = _merge_submit(out, shards)
    else:
        raise FashionDataError(f"{ordered[0][0]}: shards of {command!r} cannot be merged")
    images = int(ordered[0][1]["total"])
    return {"command": command, "out": str(out), "shards": len(shards), "images": images, **result}


# ----------------------------------------------------------------------------- predict
def _read_skipped(folder: Path) -> list[tuple[str, str]]:
    """The ``item,reason`` rows of a shard's ``skipped.csv`` (none when it has no such file)."""
    path = folder / SKIP_REPORT_FILE
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != ["item", "reason"] or any(len(r) != 2 for r in rows[1:]):
        raise FashionDataError(f"{path}: not a skip report (columns item,reason)")
    return [(item, reason) for item, reason in rows[1:]]


def _check_predict_shard(folder: Path, manifest: dict) -> tuple[int, list[tuple[str, str]]]:
    """``(records, skipped rows)`` of one predict shard, checked against its manifest."""
    jsonl = folder / JSONL_NAME
    if not jsonl.is_file():
        raise FashionDataError(f"{folder}: no {JSONL_NAME}")
    records = read_jsonl(jsonl)
    skipped = _read_skipped(folder)
    written = manifest["written"]
    if len(records) != written.get("records") or len(skipped) != written.get("skipped"):
        raise FashionDataError(
            f"{folder}: {len(records)} records and {len(skipped)} skipped images, but its "
            f"manifest says {written.get('records')} and {written.get('skipped')} (a file "
            "changed after the run?)"
        )
    found = Counter([r.get("image") for r in records] + [item for item, _ in skipped])
    if found != Counter(manifest["items"]):
        extra = sorted((found - Counter(manifest["items"])).elements())
        lacking = sorted((Counter(manifest["items"]) - found).elements())
        raise FashionDataError(
            f"{folder}: its records and skipped images are not the inputs its manifest lists "
            f"(not listed: {extra[:3]}; not predicted: {lacking[:3]})"
        )
    return len(records), skipped


def _overlays(shards: list[tuple[Path, dict]], skipped: list[list[tuple[str, str]]]) -> list:
    """``(shard's PNG, merged name)`` of every predicted input, named as the unsharded run names
    them (``predict.overlay_names`` over the whole input list); a shard without an overlays
    folder contributes none (a stale PNG in a shard's folder is not taken)."""
    all_items = [item for _, manifest in shards for item in manifest["items"]]
    names = iter(overlay_names([Path(item) for item in all_items]))
    found = []
    for (folder, manifest), rows in zip(shards, skipped):
        left = Counter(item for item, _ in rows)
        for item, name in zip(manifest["items"], names):
            if left[item]:
                left[item] -= 1
                continue
            png = folder / OVERLAYS_DIR / name
            if (folder / OVERLAYS_DIR).is_dir() and not png.is_file():
                raise FashionDataError(f"{png}: overlay of {item} missing")
            if png.is_file():
                found.append((png, name))
    return found


def _merge_predict(out: Path, shards: list[tuple[Path, dict]]) -> dict:
    checked = [_check_predict_shard(folder, manifest) for folder, manifest in shards]
    overlays = _overlays(shards, [rows for _, rows in checked])
    out.mkdir(parents=True, exist_ok=True)
    manifest_path(out, folder=True).unlink(missing_ok=True)  # the unsharded output has none
    with (out / JSONL_NAME).open("wb") as merged:
        for folder, _ in shards:
            merged.write((folder / JSONL_NAME).read_bytes())
    if overlays:
        (out / OVERLAYS_DIR).mkdir(exist_ok=True)
    for png, name in overlays:
        shutil.copyfile(png, out / OVERLAYS_DIR / name)
    report = SkipReport("predict")
    for _, rows in checked:
        for item, reason in rows:
            report.add(item, reason, warn=False)
    report_path = out / SKIP_REPORT_FILE
    report_path.unlink(missing_ok=True)  # as predict: no report when nothing was skipped
    if len(report):
        report.write(report_path)
    return {
        "records": sum(n for n, _ in checked),
        "skipped": len(report),
        "skip_report": str(report_path) if len(report) else None,
    }


# ----------------------------------------------------------------------------- submit
def _csv_parts(path: Path, manifest: dict) -> tuple[str, str]:
    """``(header line, rows)`` of one submit shard's CSV, checked against its manifest."""
    from fashion_mrcnn.data.formats.kaggle_csv import LAYOUTS, pred_columns

    if not path.is_file():
        raise FashionDataError(f"{path}: no such submission file")
    with path.open(newline="") as f:  # line ends kept as written
        text = f.read()
    header, newline, body = text.partition("\n")
    headers = [list(pred_columns(layout)) for layout in LAYOUTS]  # 2019 or 2020
    if header.rstrip("\r").split(",") not in headers:
        raise FashionDataError(f"{path}: bad header {header!r}, expected one of {headers}")
    rows = [row for row in csv.reader(body.splitlines()) if row]
    if len(rows) != manifest["written"].get("rows"):
        raise FashionDataError(
            f"{path}: {len(rows)} rows, but its manifest says {manifest['written'].get('rows')} "
            "(the file changed after the run?)"
        )
    foreign = sorted({r[0] for r in rows} - set(manifest["items"]))
    if foreign:
        raise FashionDataError(f"{path}: rows for images outside this shard: {foreign[:3]}")
    return header + newline, body


def _merge_submit(out: Path, shards: list[tuple[Path, dict]]) -> dict:
    from fashion_mrcnn.submission import validate_submission

    parts = [_csv_parts(path, manifest) for path, manifest in shards]
    out.parent.mkdir(parents=True, exist_ok=True)
    manifest_path(out, folder=False).unlink(missing_ok=True)  # the unsharded output has none
    with out.open("w", newline="") as merged:
        merged.write(parts[0][0])
        for _, body in parts:
            merged.write(body)
    settings = shards[0][1]["settings"]
    check = {k: settings[k] for k in ("size", "overlap") if k in settings}
    if "size" in check:
        check["size"] = tuple(check["size"])
    names = [item for _, manifest in shards for item in manifest["items"]]
    problems = validate_submission(out, names, **check)
    rows = sum(int(manifest["written"]["rows"]) for _, manifest in shards)
    return {"rows": rows, "problems": problems}
