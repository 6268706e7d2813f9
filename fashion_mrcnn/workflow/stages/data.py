"""Data stages: open data on disk, synthetic scenes, subsets, oversampling, the explore report,
and the checks the other stages run on ground truth before their inference pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from fashion_mrcnn.errors import FashionDataError
from fashion_mrcnn.workflow.stages.common import mkdir


def ensure_synthetic(
    out_dir, n_images: int = 40, size: int = 128, seed: int = 0, attributes: bool = False
) -> Path:
    """Synthetic scenes in ``out_dir`` (iMaterialist layout); generated once, reused after.
    ``attributes``: the garments carry their attributes (``synth --attributes``), for a model
    with the attribute head.

    A previous run with other settings is detected from ``label_descriptions.json``'s info and
    from whether ``train.csv``'s ``ClassId`` carry attribute suffixes, and regenerated, so a
    directory never mixes two datasets.
    """
    from fashion_mrcnn.data.synthetic import generate

    out_dir = Path(out_dir)
    stamp = f"{n_images} images, {size} px, seed {seed}"
    labels = out_dir / "label_descriptions.json"
    if labels.is_file() and (out_dir / "train.csv").is_file():
        info = json.loads(labels.read_text()).get("info", {})
        same = stamp in str(info.get("description", ""))
        if same and _has_attribute_suffixes(out_dir / "train.csv") == bool(attributes):
            return out_dir
    return generate(out_dir, n_images=n_images, size=size, seed=seed, attributes=attributes)


def _has_attribute_suffixes(csv_path: Path) -> bool:
    """True when a ``ClassId`` of the iMaterialist CSV ``csv_path`` has attribute suffixes."""
    import csv

    from fashion_mrcnn.data.formats.kaggle_csv import CLASS_ID

    with open(csv_path, newline="", encoding="utf-8") as f:
        return any("_" in (row.get(CLASS_ID) or "") for row in csv.DictReader(f))


def synthetic_categories() -> list[int]:
    """Source category ids the synthetic generator draws."""
    from fashion_mrcnn.data.synthetic import CATEGORY_IDS

    return list(CATEGORY_IDS)


def open_dataset(
    data,
    split: str | None = None,
    categories: Iterable[int] | None = None,
    on_error: str = "raise",
    report_path=None,
    images_dir=None,
):
    """A prepared ``FashionDataset`` for data on disk.

    Args:
        data: an iMaterialist directory (``train.csv`` + ``label_descriptions.json`` +
            ``train/`` or ``images/``), an iMaterialist CSV, a COCO / Fashionpedia JSON (images in
            ``images/`` beside it or one level up, or ``images_dir``), or a folder of LabelImg
            VOC XML files (images beside them or ``images_dir``), or a shard cache folder
            (``fashion-mrcnn cache``; local or a ``gs://`` URL).
        split: a split name from the ``splits.json`` beside the data (``"train"``, ``"val"``);
            ``None`` keeps every image.
        categories: keep only these source category ids (e.g. the 27 main garments).
        on_error / report_path: the loaders' bad-input policy and skip-report CSV.
    """
    from fashion_mrcnn import storage
    from fashion_mrcnn.data.paths import apply_splits, find_splits, open_path

    path = storage.as_path(data)  # a URL (a shard cache on gs://) stays a string
    dataset = open_path(
        path,
        categories=categories,
        on_error=on_error,
        report_path=report_path,
        images_dir=images_dir,
    )
    if not split:
        return dataset
    split_file = find_splits(path)
    if split_file is None:
        raise FashionDataError(f"{path}: split {split!r} asked for but no splits.json found")
    parts = apply_splits(dataset, split_file)
    if split not in parts:
        raise FashionDataError(f"{split_file}: no split named {split!r} (has {sorted(parts)})")
    if parts[split].num_images == 0:
        raise FashionDataError(
            f"{split_file}: split {split!r} names no image of {path} (its ids must be the "
            "data's image ids, e.g. the image file names of a VOC folder)"
        )
    return parts[split]


def subset(dataset, n: int, seed: int = 0):
    """A seeded random subset of ``n`` images (all of them when ``n`` >= the dataset size)."""
    from fashion_mrcnn.data.sampling import random_subset_indices

    n = min(int(n), dataset.num_images)
    return dataset.subset(random_subset_indices(dataset.records, n, seed=seed))


def explore(datasets: Mapping[str, object], out_dir, n_examples: int = 4) -> dict:
    """Class counts per split, instances per image, mask sizes and example images.

    Writes ``stats.txt``, ``class_counts.csv``, ``class_counts.png``, ``instances_per_image.png``,
    ``mask_areas.png`` and ``examples.png`` into ``out_dir``.
    """
    import pandas as pd

    from fashion_mrcnn.data.stats import dataset_stats, format_stats
    from fashion_mrcnn.viz import plots

    out_dir = mkdir(out_dir)
    stats = dataset_stats(datasets)
    text = format_stats(stats)
    (out_dir / "stats.txt").write_text(text + "\n")
    rows = {}
    for split, ds in datasets.items():
        for name, (instances, images) in ds.class_counts().items():
            rows.setdefault(name, {})[f"{split}_instances"] = instances
            rows[name][f"{split}_images"] = images
    table = pd.DataFrame.from_dict(rows, orient="index").fillna(0).astype(int)
    table.index.name = "class"
    table.to_csv(out_dir / "class_counts.csv")
    per_image = {split: [len(r["instances"]) for r in ds.records] for split, ds in datasets.items()}
    areas = {split: _mask_area_fractions(ds) for split, ds in datasets.items()}
    artifacts = [out_dir / "stats.txt", out_dir / "class_counts.csv"]
    artifacts.append(plots.plot_class_counts(table, out_dir / "class_counts.png"))
    artifacts.append(
        plots.plot_histograms(
            per_image, out_dir / "instances_per_image.png", xlabel="instances per image"
        )
    )
    artifacts.append(
        plots.plot_histograms(
            areas, out_dir / "mask_areas.png", xlabel="mask area (fraction of image)", log=True
        )
    )
    first = next(iter(datasets.values()))
    artifacts.append(_example_grid(first, out_dir / "examples.png", n_examples))
    return {
        "num_images": {s: ds.num_images for s, ds in datasets.items()},
        "num_instances": {s: sum(per_image[s]) for s, ds in datasets.items()},
        "class_counts": table,
        "stats_text": text,
        "artifacts": [str(a) for a in artifacts],
    }


def _mask_area_fractions(dataset) -> list[float]:
    from fashion_mrcnn.data.stats import instance_area

    out = []
    for rec in dataset.records:
        n = rec["height"] * rec["width"]
        out += [instance_area(inst, rec["height"], rec["width"]) / n for inst in rec["instances"]]
    return out


def _example_grid(dataset, path: Path, n: int) -> Path:
    from fashion_mrcnn.ops.boxes import extract_bboxes
    from fashion_mrcnn.viz.overlay import draw_overlay, save_image, tile_images

    tiles = []
    for i in list(dataset.image_ids)[:n]:
        image = dataset.load_image(i)
        masks, class_ids = dataset.load_mask(i)
        tiles.append(
            draw_overlay(
                image,
                extract_bboxes(masks),
                masks,
                class_ids,
                dataset.class_names,
                min_side=384,
            )
        )
    save_image(tile_images(tiles), path)
    return path


def oversample(
    dataset,
    method: str = "repeat_factor",
    threshold: float = 0.1,
    min_count: int = 20,
    seed: int = 0,
):
    """Minority-class oversampling: ``(oversampled FashionDataset, count table DataFrame)``."""
    from fashion_mrcnn.data.sampling import oversample_indices

    indices, report = oversample_indices(
        dataset.records, method, threshold, min_count, seed, dataset.categories
    )
    return dataset.subset(indices), report.table


def check_ground_truth(dataset) -> None:
    """Check every annotation of a record-backed dataset (``data.records.check_annotations``),
    so ``evaluate`` / ``tune-postprocess`` stop at a bad row before their inference pass;
    datasets without records (Matterport-style ``load_mask``) are not checked."""
    from fashion_mrcnn.data.records import check_annotations

    check_annotations(getattr(dataset, "records", None) or [])


def is_box_only(dataset) -> bool:
    """True when every instance of a record-backed dataset is box-only (LabelImg VOC) and
    there is at least one instance; False for datasets without records."""
    records = getattr(dataset, "records", None) or []
    flags = [bool(inst.get("box_only")) for rec in records for inst in rec["instances"]]
    return bool(flags) and all(flags)
