"""Dataset statistics: per-class counts per split, instances per image, mask-area quantiles.

Mask areas come from the encodings, without decoding full masks: a Kaggle RLE's area is the sum
of its run lengths, a COCO RLE's the sum of its foreground counts, a polygon's the pixel count of
its rasterised RLE, a box's its width x height.

Entry points: :func:`dataset_stats` + :func:`format_stats` for prepared datasets, and
:func:`stats_for_paths` for paths on disk (what ``fashion-mrcnn stats DATA...`` prints).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from fashion_mrcnn import storage
from fashion_mrcnn.data.formats import coco_rle, rle
from fashion_mrcnn.data.paths import apply_splits, find_splits, open_path
from fashion_mrcnn.errors import FashionDataError, SkipReport

__all__ = ["AREA_QUANTILES", "dataset_stats", "format_stats", "instance_area", "stats_for_paths"]

AREA_QUANTILES = (5, 25, 50, 75, 95)


def instance_area(inst: dict, height: int, width: int) -> int:
    """Foreground pixel count of one instance, from its encoding (no full-mask decode)."""
    seg = inst["segmentation"]
    kind, data = seg["kind"], seg["data"]
    where = inst.get("origin")
    if kind == "kaggle_rle":
        return rle.rle_area(data, height, width, context=where)
    if kind == "coco_rle":
        return int(coco_rle.check_coco_rle(data, context=where)[1::2].sum())
    if kind == "polygon":
        from pycocotools import mask as mask_utils

        polys = data if isinstance(data[0], list | tuple) else [data]
        merged = mask_utils.merge(mask_utils.frPyObjects([list(p) for p in polys], height, width))
        return int(mask_utils.area(merged))
    if kind == "box":
        y1, x1, y2, x2 = (round(float(v)) for v in data)
        return max(0, y2 - y1) * max(0, x2 - x1)
    raise FashionDataError(f"{where}: unknown segmentation kind {kind!r}")


def _split_stats(dataset) -> dict:
    per_image = np.array([len(r["instances"]) for r in dataset.records], dtype=np.int64)
    fractions = [
        100.0 * instance_area(inst, r["height"], r["width"]) / (r["height"] * r["width"])
        for r in dataset.records
        for inst in r["instances"]
    ]
    if per_image.size:
        ipi = {
            "mean": float(per_image.mean()),
            "median": float(np.median(per_image)),
            "max": int(per_image.max()),
        }
    else:
        ipi = {"mean": 0.0, "median": 0.0, "max": 0}
    quantiles = (
        dict(zip(AREA_QUANTILES, np.percentile(fractions, AREA_QUANTILES).tolist(), strict=True))
        if fractions
        else dict.fromkeys(AREA_QUANTILES, float("nan"))
    )
    return {
        "images": int(per_image.size),
        "instances": int(per_image.sum()),
        "images_without_instances": int((per_image == 0).sum()),
        "instances_per_image": ipi,
        "mask_area_percent": quantiles,
        "class_counts": dataset.class_counts(),
    }


def dataset_stats(datasets: Mapping[str, object]) -> dict:
    """Statistics of named datasets (e.g. ``{"train": ds_train, "val": ds_val}``).

    Args:
        datasets: split name -> prepared ``FashionDataset`` (uses ``records``, ``class_names``,
            ``class_counts()``).

    Returns:
        ``{"splits": [names], "classes": [class names, BG excluded, union in first-seen order],
        "per_split": {name: {"images", "instances", "images_without_instances",
        "instances_per_image": {"mean", "median", "max"}, "mask_area_percent": {5, 25, 50, 75, 95:
        percent of image area}, "class_counts": {class: (instances, images)}}}}``.
    """
    per_split = {name: _split_stats(ds) for name, ds in datasets.items()}
    classes: list[str] = []
    for stats in per_split.values():
        classes += [c for c in stats["class_counts"] if c not in classes]
    return {"splits": list(datasets), "classes": classes, "per_split": per_split}


def format_stats(stats: dict) -> str:
    """Render :func:`dataset_stats` output as plain-text tables."""
    splits = stats["splits"]
    per = stats["per_split"]
    name_w = max([len("class"), *(len(c) for c in stats["classes"])])
    col_w = max(9, *(len(s) + 4 for s in splits)) if splits else 9
    header = f"{'class':<{name_w}}" + "".join(
        f" {s + ' inst':>{col_w}} {s + ' imgs':>{col_w}}" for s in splits
    )
    lines = ["Per-class instances / images containing the class", header, "-" * len(header)]
    for cls in stats["classes"]:
        row = f"{cls:<{name_w}}"
        for s in splits:
            n_inst, n_img = per[s]["class_counts"].get(cls, (0, 0))
            row += f" {n_inst:>{col_w}} {n_img:>{col_w}}"
        lines.append(row)
    total = f"{'total':<{name_w}}" + "".join(
        f" {per[s]['instances']:>{col_w}} {per[s]['images']:>{col_w}}" for s in splits
    )
    lines += ["-" * len(header), total, ""]
    split_w = max(5, *(len(s) for s in splits)) if splits else 5
    head = f"{'split':<{split_w}}  images  no-inst  instances  inst/img mean  median  max"
    lines += ["Instances per image", head, "-" * len(head)]
    for s in splits:
        p, ipi = per[s], per[s]["instances_per_image"]
        lines.append(
            f"{s:<{split_w}}  {p['images']:>6}  {p['images_without_instances']:>7}  "
            f"{p['instances']:>9}  {ipi['mean']:>13.2f}  {ipi['median']:>6.1f}  {ipi['max']:>3}"
        )
    head = f"{'split':<{split_w}}" + "".join(f"  {f'p{q}':>6}" for q in AREA_QUANTILES)
    lines += ["", "Mask area, % of image area, at quantiles", head, "-" * len(head)]
    for s in splits:
        area = per[s]["mask_area_percent"]
        lines.append(f"{s:<{split_w}}" + "".join(f"  {area[q]:>6.2f}" for q in AREA_QUANTILES))
    return "\n".join(lines)


def stats_for_paths(
    paths: str | Path | Iterable[str | Path],
    split_file=None,
    on_error: str = "raise",
    report_path=None,
) -> str:
    """Statistics text for data on disk (the ``fashion-mrcnn stats DATA...`` command).

    Args:
        paths: one or more of: an iMaterialist directory (``train.csv`` + optional
            ``label_descriptions.json`` + ``train/`` or ``images/``), a CSV, or a COCO JSON
            (or a directory holding exactly one COCO JSON).
        split_file: a ``splits.json`` (``{"train": [image ids], "val": [...]}``); when ``None``,
            a ``splits.json`` beside the data (or one level up) is used if present. Images in no
            split are reported as ``unassigned``.
        on_error: ``"raise"``: the first problem raises; every image file is checked at
            header cost (:func:`fashion_mrcnn.data.images.check_image_quick`: present, readable,
            the annotated size, not cut short; about 0.1 ms per image), unless none of them is
            there (statistics of a CSV without its images: the text says they were not
            checked). ``"skip"``: the loaders' full skip-mode validation (every RLE
            parsed, every image decoded), so the counts are those training would see.
        report_path: write the items skipped or dropped (duplicates) as a CSV ``item,reason``.

    Returns:
        The formatted tables (:func:`format_stats`), one column pair per split (per path when
        several paths are given, prefixed ``<path name>:``), then a section listing what was
        skipped or dropped while reading (duplicates included) when anything was.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    paths = [storage.as_path(p) for p in paths]
    if not paths:
        raise FashionDataError("stats: no data path given")
    datasets: dict = {}
    opened = []
    skipped = SkipReport("Skipped or dropped while reading")
    for path in paths:
        dataset = open_path(path, on_error=on_error, check_images=on_error == "skip")
        opened.append(dataset)
        skipped.extend(dataset.skip_report)
        split_path = Path(split_file) if split_file else find_splits(path)
        parts = apply_splits(dataset, split_path) if split_path else {"all": dataset}
        for name, ds in parts.items():
            key = name if len(paths) == 1 else f"{storage.name(path)}:{name}"
            datasets[key] = ds
    header = "Data: " + ", ".join(str(p) for p in paths)
    if split_file or any(find_splits(p) for p in paths):
        header += f" (splits: {split_file or ', '.join(str(find_splits(p)) for p in paths)})"
    tables = format_stats(dataset_stats(datasets))  # the annotations' errors come first
    notes = [
        n
        for ds in opened
        if on_error == "raise" and not getattr(ds, "images_verified", False)
        for n in _check_image_files(ds.records)
    ]
    text = "\n".join([header, *notes]) + "\n\n" + tables
    if report_path is not None:
        skipped.write(report_path)
    if len(skipped):
        text += "\n\n" + str(skipped)
        if report_path is not None:
            text += f"\n(all of them listed in {report_path})"
    return text


def _check_image_files(records: list[dict]) -> list[str]:
    """Raise-mode image check of ``stats`` (see :func:`stats_for_paths`); returns the notes
    to print: none, or that no image file was found, so none was checked."""
    from fashion_mrcnn.data.images import check_image_quick

    if records and not any(Path(rec["path"]).is_file() for rec in records):
        where = Path(records[0]["path"]).parent
        return [f"Image files not checked: none of the {len(records)} is in {where}"]
    for rec in records:
        check_image_quick(rec["path"], rec["height"], rec["width"])
    return []
