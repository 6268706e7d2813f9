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
