"""Sample photos the page offers when the user has none at hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fashion_mrcnn.app.project import (
    category_names,
    default_categories,
    image_rng,
    list_images,
    load_rgb,
    render_scene,
)

#: Synthetic samples are drawn with this seed (the demo trains on seed 0, the default catalogue
#: uses seed 101), so they are scenes the model has not seen.
SAMPLE_SEED = 202


@dataclass
class Sample:
    """``image`` uint8 [H, W, 3] RGB; ``tags`` the garments it holds when known."""

    name: str
    image: np.ndarray
    tags: list[str] = field(default_factory=list)


def synthetic_samples(size: int, n: int = 6, seed: int = SAMPLE_SEED) -> list[Sample]:
    """``n`` synthetic scenes of ``size`` px with 2-4 clearly visible garments each."""
    names = category_names(default_categories())
    samples = []
    for i in range(n):
        image, _masks, cats = render_scene(
            image_rng(seed, i), size, min_instances=2, max_instances=4, min_area=size * size // 50
        )
        samples.append(Sample(f"scene {i + 1}", image, sorted({names[int(c)] for c in cats})))
    return samples


def folder_samples(folder, limit: int = 12) -> list[Sample]:
    """The first ``limit`` images of a folder (sorted by name)."""
    paths = list_images(Path(folder))[:limit]
    if not paths:
        raise FileNotFoundError(f"no images (jpg, png, bmp, webp) in {folder}")
    return [Sample(p.name, load_rgb(p)) for p in paths]


#: Real sample photos the page offers by default (from ccp-fashion's held-out val split).
REAL_SAMPLES = 6


def dataset_samples(dataset_dir, split: str = "val", n: int = REAL_SAMPLES) -> list[Sample]:
    """The first ``n`` photos of ``split`` in a dataset folder's ``splits.json`` (photos the
    starter model did not train on), or [] when the folder has no such split."""
    import json

    splits = Path(dataset_dir) / "splits.json"
    if not splits.is_file():
        return []
    names = json.loads(splits.read_text()).get(split, [])[:n]
    paths = [Path(dataset_dir) / "images" / name for name in names]
    return [Sample(p.name, load_rgb(p)) for p in paths if p.is_file()]
