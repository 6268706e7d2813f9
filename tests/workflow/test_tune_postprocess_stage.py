"""``stages.tune_postprocess`` end to end on synthetic scenes with an oracle model (no TF)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fashion_mrcnn.inference.postprocess import read_postprocess
from fashion_mrcnn.ops.boxes import extract_bboxes
from fashion_mrcnn.workflow import stages


class OracleModel:
    """detect() returns each image's ground-truth masks (score 0.9) plus one whole-image false
    positive (score 0.1), in the order ``detect_dataset`` asks for the images."""

    class config:  # noqa: N801 - mimics model.config
        BATCH_SIZE = 1
        DETECTION_MIN_CONFIDENCE = 0.05
        DETECTION_MAX_INSTANCES = 100

    def __init__(self, dataset):
        self.queue = []
        for image_id in dataset.image_ids:
            inst = dataset.load_instances(image_id)
            masks, class_ids = inst["masks"], inst["class_ids"]
            h, w, n = masks.shape
            self.queue.append({
                "rois": np.vstack([extract_bboxes(masks), [[0, 0, h, w]]]).astype(np.int32),
                "class_ids": np.append(class_ids, class_ids[0]).astype(np.int32),
                "scores": np.append(np.full(n, 0.9), 0.1).astype(np.float32),
                "masks": np.concatenate([masks, np.ones((h, w, 1), bool)], axis=-1),
            })  # fmt: skip

    def detect(self, images):
        return [self.queue.pop(0) for _ in images]


def test_tune_postprocess_finds_the_threshold_and_writes_table_and_yaml(tmp_path):
    data = stages.ensure_synthetic(tmp_path / "synth", n_images=4, size=48, seed=5)
    dataset = stages.open_dataset(data)
    config = stages.make_config("cpu-smoke", num_classes=dataset.num_classes)
    result = stages.tune_postprocess(config, OracleModel(dataset), dataset, tmp_path / "out")
    assert result["baseline"] < 0.9
    assert result["score"] == pytest.approx(1.0)
    best = read_postprocess(result["yaml"])
    assert best == result["best"] and 0.1 < best.score_threshold <= 0.9
    table = pd.read_csv(result["csv"])
    assert table["score"].iloc[0] == pytest.approx(1.0) and not result["reused_cache"]
    again = stages.tune_postprocess(config, OracleModel(dataset), dataset, tmp_path / "out")
    assert not again["reused_cache"]  # a model object is never matched to a cache
