"""Helpers for the app tests (a uniquely named module: several test folders have a conftest).

``train_overfit_run`` trains the cpu-smoke model until it overfits a few synthetic scenes (the
recipe of tests/model/test_overfit.py), through the same stage functions as ``fashion-mrcnn
train``, so the run folder holds what ``fashion-mrcnn serve --weights`` reads: a checkpoint,
``train_config.yaml`` and ``classes.json``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image

from fashion_mrcnn.data.categories import category_names, load_label_descriptions
from fashion_mrcnn.data.formats import rle
from fashion_mrcnn.data.synthetic import CATEGORY_IDS, render_scene

SIZE = 128
# the overfit recipe of tests/model/test_overfit.py
EPOCHS = 12
STEPS = 10
LEARNING_RATE = 0.02


def write_scenes(out_dir: Path, n: int, seed: int, size: int = SIZE) -> list[dict]:
    """Render ``n`` scenes (2-3 garments of >= 300 px each) into ``out_dir`` in the iMaterialist
    layout (``train/*.png``, ``train.csv``, ``label_descriptions.json``).

    Returns one dict per scene: ``path``, ``image`` uint8 [S, S, 3], ``masks`` bool [S, S, N],
    ``category_ids`` [N] and ``names`` (the N class names, the tags the page must show)."""
    names = category_names(load_label_descriptions()["categories"])
    rng = np.random.default_rng(seed)
    (out_dir / "train").mkdir(parents=True, exist_ok=True)
    scenes, rows = [], []
    for i in range(n):
        image, masks, cats = render_scene(rng, size, min_instances=2, max_instances=3, min_area=300)
        path = out_dir / "train" / f"scene_{seed}_{i}.png"
        Image.fromarray(image).save(path)
        for k in range(masks.shape[-1]):
            rows.append([path.name, rle.encode(masks[..., k]), size, size, str(int(cats[k]))])
        scenes.append(
            {
                "path": path,
                "image": image,
                "masks": masks,
                "category_ids": [int(c) for c in cats],
                "names": [names[int(c)] for c in cats],
            }
        )
    with (out_dir / "train.csv").open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["ImageId", "EncodedPixels", "Height", "Width", "ClassId"])
        writer.writerows(rows)
    labels = load_label_descriptions()
    (out_dir / "label_descriptions.json").write_text(json.dumps(labels))
    return scenes


def train_overfit_run(data_dir: Path, run_dir: Path) -> Path:
    """Train cpu-smoke on ``data_dir`` until it overfits; returns the checkpoint path."""
    import keras

    from fashion_mrcnn.workflow import stages

    keras.utils.set_random_seed(0)
    dataset = stages.open_dataset(data_dir, categories=list(CATEGORY_IDS))
    config = stages.make_config(
        "cpu-smoke",
        num_classes=dataset.num_classes,
        name="apptest",
        IMAGE_MIN_DIM=SIZE,
        IMAGE_MAX_DIM=SIZE,
        IMAGES_PER_GPU=2,
        LEARNING_RATE=LEARNING_RATE,
        LR_WARMUP_STEPS=10,
        WEIGHT_DECAY=0.0,
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "classes.json").write_text(json.dumps(dataset.categories))
    trained = stages.train(
        config,
        dataset,
        None,
        run_dir,
        schedule=[{"layers": "all", "epochs": EPOCHS, "learning_rate": LEARNING_RATE}],
        steps_per_epoch=STEPS,
        verbose=0,
    )
    losses = trained["history"]["loss"]
    assert losses[-1] <= 0.3 * losses[0], f"the app-test model did not overfit: {losses}"
    return Path(trained["checkpoint"])
