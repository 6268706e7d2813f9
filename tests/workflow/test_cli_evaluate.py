"""``fashion-mrcnn evaluate --postprocess FILE``: the metrics score the detections after the tuned
post-processing, applied as ``submit`` applies it (soft masks asked for, the file's overlap
policy), and the result says which setting it was; without the option nothing changes.

No model is trained: a stand-in detector returns the same three detections for every image.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import yaml

from fashion_mrcnn.cli import main
from fashion_mrcnn.config import Config
from fashion_mrcnn.ops.masks import SOFT_MASK_LEVELS


def run(*args) -> int:
    return main([str(a) for a in args])


class FakeDetector:
    """``detect`` gives, for any image, A (class 1, score 0.9), B (class 2, score 0.8, half over
    A) and C (class 1, score 0.2); each mask is a core at probability 0.8 in a ring at 0.4, so a
    mask threshold of 0.3 takes the ring too. ``calls`` records the options of every call."""

    def __init__(self):
        self.calls = []

    def detect(self, images, **options):
        self.calls.append(options)
        return [self._one(image.shape[:2], options.get("soft_masks", False)) for image in images]

    @staticmethod
    def _one(shape, soft: bool) -> dict:
        h, w = shape
        boxes = np.array([[8, 8, 40, 40], [8, 24, 40, 56], [44, 4, 60, 20]], np.int32)
        probs = np.zeros((h, w, 3), np.float32)
        for k, (y1, x1, y2, x2) in enumerate(boxes):
            probs[y1:y2, x1:x2, k] = 0.4
            probs[y1 + 4 : y2 - 4, x1 + 4 : x2 - 4, k] = 0.8
        out = {
            "rois": boxes,
            "class_ids": np.array([1, 2, 1], np.int32),
            "scores": np.array([0.9, 0.8, 0.2], np.float32),
            "masks": probs >= 0.5,
        }
        if soft:
            out["soft_masks"] = np.floor(probs * SOFT_MASK_LEVELS).astype(np.uint8)
        return out


def test_evaluate_scores_the_detections_after_the_postprocess_file(tmp_path, monkeypatch, capsys):
    from fashion_mrcnn.workflow import run_inputs

    data = tmp_path / "synth"
    assert run("synth", "--images", 4, "--size", 64, "--seed", 1, "--out", data) == 0
    labels = json.loads((data / "label_descriptions.json").read_text())["categories"]
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps([{"id": c["id"], "name": c["name"]} for c in labels]))
    config = Config.preset("cpu-smoke", NUM_CLASSES=len(labels) + 1).to_yaml(tmp_path / "c.yaml")
    weights = tmp_path / "w.h5"
    weights.write_bytes(b"")
    fake = FakeDetector()
    monkeypatch.setattr(run_inputs, "detector", lambda config, args: fake)
    common = ("--weights", weights, "--config", config, "--classes", classes, "--split", "train")

    assert run("evaluate", data, *common, "--out", tmp_path / "plain") == 0
    plain = json.loads((tmp_path / "plain" / "metrics.json").read_text())
    assert "postprocess" not in plain and plain["num_predictions"] == 3 * 3
    assert fake.calls == [{}] * 3  # no soft masks asked for
    assert "post-processing" not in capsys.readouterr().out

    setting = {"score_threshold": 0.5, "overlap": "none", "mask_threshold": 0.3}
    pp = tmp_path / "postprocess.yaml"
    pp.write_text(yaml.safe_dump(setting))
    fake.calls.clear()
    out = tmp_path / "tuned"
    assert run("evaluate", data, *common, "--out", out, "--postprocess", pp) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {k: metrics["postprocess"][k] for k in setting} == setting  # the setting applied
    assert metrics["num_predictions"] == 2 * 3  # C is under the score threshold
    assert fake.calls == [{"soft_masks": True}] * 3
    printed = capsys.readouterr().out
    assert f"post-processing: {pp} (score_threshold=0.5 " in printed
    assert "overlap=none" in printed and "mask_threshold=0.3" in printed

    # the scored predictions are the rows submit writes with the same file: the ring is kept
    # (mask threshold 0.3) and A and B still overlap (the file's overlap policy, not "all")
    sub = tmp_path / "sub.csv"
    assert run("submit", data / "train", *common[:6], "--out", sub, "--postprocess", pp) == 0
    scored = pd.read_csv(out / "kaggle_pred.csv", dtype=str)
    submitted = pd.read_csv(sub, dtype=str)
    submitted = submitted[submitted["ImageId"].isin(set(scored["ImageId"]))]
    assert len(scored) == 2 * 3
    assert scored.values.tolist() == submitted.values.tolist()
