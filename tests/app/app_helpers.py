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


# ----------------------------------------------------------------------------- stand-in engines
class StandInEngine:
    """One 'shirt' in the middle of every image, after ``delay`` seconds (or an error): the
    server's behaviour without TensorFlow."""

    class_names = ["BG", "shirt"]
    category_ids = {1: 5}
    attribute_names: dict = {}  # a model without the attribute head

    def __init__(self, delay: float = 0.0, fail: bool = False):
        import threading

        self.delay, self.fail = delay, fail
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def garments(
        self, h: int, w: int
    ) -> list[tuple[int, float, tuple[float, float, float, float]]]:
        """(class id, score, (y1, x1, y2, x2) as fractions of the image) per garment."""
        return [(1, 0.9, (0.25, 0.25, 0.75, 0.75))]

    def garment_attributes(self) -> list[tuple[list[int], list[float]]] | None:
        """(attribute ids, scores) per garment, as ``detect`` gives them with the attribute
        head; None: no head."""
        return None

    def analyse(self, image):
        import time

        from fashion_mrcnn.app.embedding import COLOUR_DIM, SHAPE_DIM
        from fashion_mrcnn.app.engine import Analysis

        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            time.sleep(self.delay)
            if self.fail:
                raise RuntimeError("the stand-in model broke")
            h, w = image.shape[:2]
            garments = self.garments(h, w)
            n = len(garments)
            masks = np.zeros((h, w, n), bool)
            rois = np.zeros((n, 4), np.int32)
            for k, (_, _, (y1, x1, y2, x2)) in enumerate(garments):
                box = [round(y1 * h), round(x1 * w), round(y2 * h), round(x2 * w)]
                masks[box[0] : box[2], box[1] : box[3], k] = True
                rois[k] = box
            result = {
                "rois": rois,
                "class_ids": np.array([g[0] for g in garments], np.int32),
                "scores": np.array([g[1] for g in garments], np.float32),
                "masks": masks,
            }
            attributes = self.garment_attributes()
            if attributes is not None:
                result["attribute_ids"] = [list(ids) for ids, _ in attributes]
                result["attribute_scores"] = [list(scores) for _, scores in attributes]
            unit = np.ones((n, 4), np.float32) / 2
            return Analysis(
                result,
                unit,
                np.ones((n, COLOUR_DIM), np.float32) / np.sqrt(COLOUR_DIM),
                np.ones((n, SHAPE_DIM), np.float32) / np.sqrt(SHAPE_DIM),
                ["grey"] * n,
            )
        finally:
            with self._lock:
                self.running -= 1

    def record(self, name, image_shape, result):
        from fashion_mrcnn.predict import detection_to_record

        return detection_to_record(name, image_shape, result, self.class_names, self.category_ids)

    def summary(self):
        return {"weights": "stand-in", "backbone": "none", "image_size": 64,
                "classes": self.class_names[1:], "default_min_score": 0.5}  # fmt: skip

    def warm_up(self):
        self.analyse(np.zeros((64, 64, 3), np.uint8))


class OverlapEngine(StandInEngine):
    """Overlapping garments, as a real photo gives them: a dress (0.80), a skirt inside its
    lower part (0.60, mask IoU 0.45 with the dress: a garment of its own), a top over nearly
    the same pixels as the dress (0.55, IoU 0.86: another guess for the dress's region) and a
    small shoe below (0.95). The main garment is the dress, with the attribute head's
    "stripe" (0.81) and an attribute whose name the model does not know (999, 0.64)."""

    class_names = ["BG", "shoe", "dress", "skirt", "top"]
    category_ids = {1: 23, 2: 10, 3: 7, 4: 1}
    attribute_names = {72: "stripe"}
    DRESS, SKIRT, TOP, SHOE = 0, 1, 2, 3
    #: a pixel (x, y fractions) inside the dress, the skirt and the top
    SKIRT_SPOT = (0.5, 0.72)

    def garments(self, h, w):
        return [
            (2, 0.80, (0.20, 0.30, 0.90, 0.70)),
            (3, 0.60, (0.55, 0.32, 0.90, 0.68)),
            (4, 0.55, (0.20, 0.30, 0.80, 0.70)),
            (1, 0.95, (0.92, 0.35, 0.99, 0.45)),
        ]

    def garment_attributes(self):
        return [([72, 999], [0.81, 0.64]), ([], []), ([], []), ([], [])]


def find_nothing(monkeypatch, engine) -> None:
    """Make ``engine.analyse`` report no garment (its whole-photo descriptor kept), whatever the
    trained test model would find, for tests of the page's "nothing found" path."""
    from fashion_mrcnn.app.engine import Analysis

    real = engine.analyse

    def analyse(image, min_score=0.0):
        found = real(image, min_score)
        result = {key: value[..., :0] if key == "masks" else value[:0]
                  for key, value in found.result.items()}  # fmt: skip
        empty = found.roi[:0], found.colour[:0], found.shape[:0], []
        return Analysis(result, *empty, photo=found.photo)

    monkeypatch.setattr(engine, "analyse", analyse)
