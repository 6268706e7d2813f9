"""``stages.tune_postprocess`` end to end on synthetic scenes with an oracle model (no TF), and
``stages.tuned_postprocess``, the file notebook 05 applies by default."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.evaluation.postprocess_search import MASK_THRESHOLD_SKIPPED
from fashion_mrcnn.inference.postprocess import POSTPROCESS_YAML, read_postprocess
from fashion_mrcnn.ops.boxes import extract_bboxes
from fashion_mrcnn.ops.masks import SOFT_MASK_LEVELS
from fashion_mrcnn.workflow import stages


class OracleModel:
    """detect() returns each image's ground-truth masks (score 0.9) plus one whole-image false
    positive (score 0.1), in the order ``detect_dataset`` asks for the images; soft masks on
    request (probability 1 on each mask) unless ``soft`` is False (a detector without them)."""

    class config:  # noqa: N801 - mimics model.config
        BATCH_SIZE = 1
        DETECTION_MIN_CONFIDENCE = 0.05
        DETECTION_MAX_INSTANCES = 100

    def __init__(self, dataset, soft=True):
        self.soft = soft
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

    def detect(self, images, soft_masks=False):
        out = [self.queue.pop(0) for _ in images]
        if soft_masks and self.soft:
            out = [{**r, "soft_masks": r["masks"].astype(np.uint8) * SOFT_MASK_LEVELS} for r in out]
        return out


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
    assert result["notes"] == [] and "mask_threshold" in table.columns
    again = stages.tune_postprocess(
        config, OracleModel(dataset, soft=False), dataset, tmp_path / "out"
    )
    assert not again["reused_cache"]  # a model object is never matched to a cache
    assert again["notes"] == [MASK_THRESHOLD_SKIPPED] and again["best"].mask_threshold is None


def test_tuned_postprocess_auto_finds_the_tuned_file_or_says_there_is_none(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "logs" / "x").mkdir(parents=True)
    (run / "train_config.yaml").write_text("NAME: x\n")
    ckpt = run / "logs" / "x" / "mask_rcnn_x_0001.h5"
    previous = tmp_path / "04"
    previous.mkdir()
    assert stages.tuned_postprocess(stages.AUTO_POSTPROCESS, previous, ckpt) is None
    said = capsys.readouterr().out
    assert f"no tuned {POSTPROCESS_YAML} found (looked in {previous}, {run})" in said
    (run / POSTPROCESS_YAML).write_text("score_threshold: 0.5\n")
    assert stages.tuned_postprocess("auto", previous, ckpt) == run / POSTPROCESS_YAML
    (previous / POSTPROCESS_YAML).write_text("score_threshold: 0.6\n")
    assert stages.tuned_postprocess("auto", previous, ckpt) == previous / POSTPROCESS_YAML
    assert f"the tuned {previous / POSTPROCESS_YAML}" in capsys.readouterr().out
    assert stages.tuned_postprocess("", previous, ckpt) is None
    with pytest.raises(ConfigError, match="no such post-processing file"):
        stages.tuned_postprocess(tmp_path / "missing.yaml", previous, ckpt)
