"""Post-processing of one image's detections: thresholds, NMS, max instances, overlap policy,
min area, and the ``postprocess.yaml`` reader / writer (numpy, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.inference.postprocess import (
    PostprocessSetting,
    apply_postprocess,
    read_postprocess,
    write_postprocess,
)

SIZE = (32, 32)


def _detections(boxes, class_ids, scores):
    """A ``detect()`` dict whose masks fill their boxes."""
    masks = np.zeros((*SIZE, len(boxes)), dtype=bool)
    for k, (y1, x1, y2, x2) in enumerate(boxes):
        masks[y1:y2, x1:x2, k] = True
    return {
        "rois": np.array(boxes, dtype=np.int32),
        "class_ids": np.array(class_ids, dtype=np.int32),
        "scores": np.array(scores, dtype=np.float32),
        "masks": masks,
    }


def test_max_instances_min_area_and_overlap_policy():
    det = _detections(
        [(0, 0, 10, 10), (0, 0, 10, 12), (20, 20, 22, 22)], [1, 2, 1], [0.9, 0.8, 0.7]
    )
    out = apply_postprocess(det, PostprocessSetting(overlap="class"))
    assert out["masks"][:, :, 1].sum() == 120  # other class: overlap kept
    out = apply_postprocess(det, PostprocessSetting(overlap="all", min_area=5))
    np.testing.assert_array_equal(out["class_ids"], [1, 2])  # 4-pixel mask dropped
    assert out["masks"][:, :, 1].sum() == 20  # only the pixels the first mask did not claim
    out = apply_postprocess(det, PostprocessSetting(max_instances=1, overlap="none"))
    np.testing.assert_array_equal(out["scores"], np.float32([0.9]))


def test_yaml_round_trip_and_bad_keys(tmp_path):
    setting = PostprocessSetting(0.3, {2: 0.7, 1: 0.1}, 0.5, 20, "class", 64)
    path = write_postprocess(setting, tmp_path / "postprocess.yaml")
    assert read_postprocess(path) == setting
    path.write_text("score_threshold: 0.3\nnms: 0.5\n")
    with pytest.raises(ConfigError, match=r"postprocess.yaml: unknown key 'nms'"):
        read_postprocess(path)
    path.write_text("overlap: pixels\n")
    with pytest.raises(ConfigError, match=r"postprocess.yaml: overlap must be one of"):
        read_postprocess(path)
    path.write_text("max_instances: many\n")
    with pytest.raises(
        ConfigError, match=r"postprocess.yaml: max_instances must be int, got .many."
    ):
        read_postprocess(path)
    path.write_text("[1, 2\n")
    with pytest.raises(ConfigError, match=r"postprocess.yaml: not valid YAML"):
        read_postprocess(path)
