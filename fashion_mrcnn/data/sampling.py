"""Subsets, stratified splits and minority oversampling over records lists.

Everything works on the framework-free records of docs/DESIGN.md (one dict per image with an
``instances`` list carrying ``category_id``). Each function has an ``*_indices`` twin returning
positions instead of records, for ``FashionDataset.subset(indices)``. All randomness comes from
the ``seed`` argument: same records + same seed -> same result.

Oversampling follows LVIS repeat-factor sampling (Gupta et al., 2019): with ``f_c`` the fraction
of images containing class ``c``, ``r_c = max(1, sqrt(t / f_c))`` and an image's factor is the
largest ``r_c`` over its classes. Fractional factors are rounded stochastically (seeded), so the
expected number of copies equals the factor.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "SamplingReport",
    "class_counts",
    "count_table",
    "oversample",
    "oversample_dataset",
    "oversample_indices",
    "random_subset",
    "random_subset_indices",
    "repeat_factors",
    "split_dataset",
    "stratified_split",
    "stratified_split_indices",
]


def _image_classes(record: dict) -> set[int]:
    return {int(inst["category_id"]) for inst in record.get("instances", [])}


def class_counts(records: list[dict]) -> dict[int, tuple[int, int]]:
    """``{category_id: (instances, images)}`` over records, sorted by category id."""
    instances: Counter = Counter()
    images: Counter = Counter()
    for record in records:
        cats = [int(inst["category_id"]) for inst in record.get("instances", [])]
        instances.update(cats)
        images.update(set(cats))
    return {c: (instances[c], images[c]) for c in sorted(instances)}


def random_subset_indices(records: list[dict], n: int, seed: int = 0) -> list[int]:
    """``n`` distinct positions drawn uniformly without replacement, in increasing order."""
    if not 0 <= n <= len(records):
        raise ValueError(f"cannot draw {n} images from {len(records)} records")
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(len(records), size=n, replace=False))


def random_subset(records: list[dict], n: int, seed: int = 0) -> list[dict]:
    """``n`` records drawn uniformly without replacement (kept in their original order)."""
    return [records[i] for i in random_subset_indices(records, n, seed)]


def stratified_split_indices(
    records: list[dict], val_fraction: float, seed: int = 0
) -> tuple[list[int], list[int]]:
    """Split image positions into (train, val), stratified on each image's rarest class.

    Images are ordered by the image count of their rarest class (then randomly, seeded) and
    every ``1 / val_fraction``-th one goes to validation (systematic sampling, random offset), so
    each rarity stratum is split in proportion. A repair pass then moves single images so every
    class with at least 2 images is present on both sides where that is possible; it prefers
    images whose other classes stay present on the side they leave. The validation share is
    ``val_fraction`` up to those few moves. Images without instances are split like the rest.

    Returns:
        ``(train, val)``: sorted lists of positions, disjoint, together all of ``range(N)``.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n = len(records)
    if n < 2:
        raise ValueError(f"need at least 2 records to split, got {n}")
    rng = np.random.default_rng(seed)
    classes = [_image_classes(r) for r in records]
    n_images = Counter(c for cs in classes for c in cs)
    rarity = [min((n_images[c] for c in cs), default=n + 1) for cs in classes]
    tiebreak = rng.permutation(n)
    order = sorted(range(n), key=lambda i: (rarity[i], tiebreak[i]))
    offset = rng.random()
    in_val = np.zeros(n, dtype=bool)
    for rank, i in enumerate(order):
        in_val[i] = math.floor((rank + 1) * val_fraction + offset) > math.floor(
            rank * val_fraction + offset
        )
    if in_val.all() or not in_val.any():  # tiny inputs: keep both sides non-empty
        in_val[order[0]] = not in_val[order[0]]
    _repair(classes, n_images, in_val, tiebreak)
    return [int(i) for i in np.flatnonzero(~in_val)], [int(i) for i in np.flatnonzero(in_val)]


def _repair(classes, n_images, in_val, tiebreak) -> None:
    """Move images so that classes with >= 2 images appear on both sides (in place)."""
    for c in sorted(n_images, key=lambda c: (n_images[c], c)):
        if n_images[c] < 2:
            continue
        holders = [i for i, cs in enumerate(classes) if c in cs]
        for missing_side in (True, False):  # True: val lacks c
            if any(in_val[i] == missing_side for i in holders):
                continue
            side_count = Counter(
                k for i in range(len(classes)) if in_val[i] != missing_side for k in classes[i]
            )
            if sum(in_val[i] != missing_side for i in range(len(in_val))) <= 1:
                continue  # moving would empty the other side

            def cost(i, side_count=side_count):
                lost = sum(1 for k in classes[i] if side_count[k] == 1 and n_images[k] >= 2)
                return (lost, len(classes[i]), tiebreak[i])

            in_val[min(holders, key=cost)] = missing_side


def stratified_split(
    records: list[dict], val_fraction: float, seed: int = 0
) -> tuple[list[dict], list[dict]]:
    """``(train, val)`` records; see :func:`stratified_split_indices`."""
    train, val = stratified_split_indices(records, val_fraction, seed)
    return [records[i] for i in train], [records[i] for i in val]


def repeat_factors(records: list[dict], threshold: float = 0.1) -> np.ndarray:
    """LVIS repeat factor per image.

    Args:
        records: the images.
        threshold: ``t``; classes in fewer than a fraction ``t`` of the images are repeated.
            LVIS uses 0.001 for 100k+ images; 0.1 suits the few-hundred-image sets here.

    Returns:
        float64 [N], each >= 1 (exactly 1 for images without instances).
    """
    if threshold <= 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    n = len(records)
    classes = [_image_classes(r) for r in records]
    n_images = Counter(c for cs in classes for c in cs)
    r_class = {c: max(1.0, math.sqrt(threshold / (k / n))) for c, k in n_images.items()}
    return np.array([max((r_class[c] for c in cs), default=1.0) for cs in classes], np.float64)


@dataclass
class SamplingReport:
    """Class counts before and after resampling.

    ``table``: DataFrame indexed by ``category_id`` with columns ``name`` (when categories were
    given), ``instances_before``, ``images_before``, ``instances_after``, ``images_after``,
    ``factor`` (images after / before). ``text``: the table formatted for printing.
    """

    table: pd.DataFrame
    text: str

    def __str__(self) -> str:
        return self.text


def count_table(
    before: list[dict], after: list[dict], categories: list[dict] | None = None
) -> SamplingReport:
    """Compare per-class instance / image counts of two record lists."""
    cb, ca = class_counts(before), class_counts(after)
    ids = sorted(set(cb) | set(ca))
    table = pd.DataFrame(
        {
            "instances_before": [cb.get(c, (0, 0))[0] for c in ids],
            "images_before": [cb.get(c, (0, 0))[1] for c in ids],
            "instances_after": [ca.get(c, (0, 0))[0] for c in ids],
            "images_after": [ca.get(c, (0, 0))[1] for c in ids],
        },
        index=pd.Index(ids, name="category_id"),
    )
    table["factor"] = (
        table["images_after"] / table["images_before"].where(table.images_before > 0)
    ).round(2)
    if categories is not None:
        names = {int(c["id"]): str(c["name"]) for c in categories}
        table.insert(0, "name", [names.get(c, "?") for c in ids])
    text = f"images: {len(before)} -> {len(after)}\n" + table.to_string()
    return SamplingReport(table=table, text=text)


def oversample_indices(
    records: list[dict],
    method: str = "repeat_factor",
    threshold: float = 0.1,
    min_count: int = 20,
    seed: int = 0,
    categories: list[dict] | None = None,
) -> tuple[list[int], SamplingReport]:
    """Positions of an oversampled image list (with repeats) and the count report.

    Methods:
        ``"repeat_factor"``: image ``i`` appears ``floor(r_i)`` times plus once more with
            probability ``r_i - floor(r_i)`` (seeded), ``r_i`` from :func:`repeat_factors`.
        ``"min_count"``: classes from the rarest up get extra copies of randomly chosen images
            (seeded, cycling through the class's images) until they are in ``min_count`` images
            or more; copies also raise the counts of the other classes in those images.

    Every original image appears at least once; positions are in increasing order.
    """
    n = len(records)
    rng = np.random.default_rng(seed)
    if method == "repeat_factor":
        factors = repeat_factors(records, threshold)
        whole = np.floor(factors)
        copies = whole.astype(np.int64) + (rng.random(n) < factors - whole)
    elif method == "min_count":
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        copies = np.ones(n, dtype=np.int64)
        classes = [_image_classes(r) for r in records]
        images_now = Counter(c for cs in classes for c in cs)
        for c in sorted(images_now, key=lambda c: (images_now[c], c)):
            holders = [i for i, cs in enumerate(classes) if c in cs]
            picks = rng.permutation(holders)
            k = 0
            while images_now[c] < min_count:
                i = int(picks[k % len(picks)])
                copies[i] += 1
                images_now.update(classes[i])
                k += 1
    else:
        raise ValueError(f"method must be 'repeat_factor' or 'min_count', got {method!r}")
    indices = [int(i) for i in np.repeat(np.arange(n), copies)]
    return indices, count_table(records, [records[i] for i in indices], categories)


def oversample(
    records: list[dict],
    method: str = "repeat_factor",
    threshold: float = 0.1,
    min_count: int = 20,
    seed: int = 0,
    categories: list[dict] | None = None,
) -> tuple[list[dict], SamplingReport]:
    """Oversampled records (the same dict objects, repeated) and the count report.

    See :func:`oversample_indices` for the methods.
    """
    indices, report = oversample_indices(records, method, threshold, min_count, seed, categories)
    return [records[i] for i in indices], report


def _dataset_records(dataset) -> list[dict]:
    """Records of a FashionDataset in image-index order (image i is ``records[i]``)."""
    return [dataset.record(int(i)) for i in dataset.image_ids]


def split_dataset(dataset, val_fraction: float, seed: int = 0):
    """``(train, val)`` FashionDatasets from a FashionDataset (via ``dataset.subset``)."""
    train, val = stratified_split_indices(_dataset_records(dataset), val_fraction, seed)
    return dataset.subset(train), dataset.subset(val)


def oversample_dataset(dataset, method: str = "repeat_factor", **kwargs):
    """``(oversampled FashionDataset, SamplingReport)``; ``kwargs`` as :func:`oversample_indices`
    (``categories`` defaults to the dataset's)."""
    kwargs.setdefault("categories", getattr(dataset, "categories", None))
    indices, report = oversample_indices(_dataset_records(dataset), method, **kwargs)
    return dataset.subset(indices), report
