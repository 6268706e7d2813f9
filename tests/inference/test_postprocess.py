"""Post-processing of one image's detections: thresholds, NMS, max instances, overlap policy,
min area, the mask threshold on soft masks, and the ``postprocess.yaml`` reader / writer (numpy,
no model)."""

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


def test_mask_threshold_rebinarises_the_soft_masks():
    """Two instances, soft masks of rings: 0.8 in the centre, 0.4 around it, 0.2 outside."""
    det = _detections([(0, 0, 12, 12), (16, 16, 28, 28)], [1, 2], [0.9, 0.6])
    soft = np.zeros((*SIZE, 2), np.uint8)
    for k, (y, x) in enumerate([(0, 0), (16, 16)]):
        soft[y : y + 12, x : x + 12, k] = 40  # 0.2
        soft[y + 2 : y + 10, x + 2 : x + 10, k] = 80  # 0.4
        soft[y + 4 : y + 8, x + 4 : x + 8, k] = 160  # 0.8
    det["soft_masks"] = soft
    kept = apply_postprocess(det, PostprocessSetting(overlap="none"))
    np.testing.assert_array_equal(kept["masks"], det["masks"])  # None: detect's masks stay
    assert "soft_masks" not in kept  # consumed: the binary masks are what is written
    for threshold, pixels in ((0.1, 144), (0.3, 64), (0.5, 16), (0.8, 16), (0.85, 0)):
        setting = PostprocessSetting(overlap="none", mask_threshold=threshold)
        out = apply_postprocess(det, setting)
        if pixels:
            assert out["masks"].sum(axis=(0, 1)).tolist() == [pixels, pixels], threshold
            assert out["masks"][4:8, 4:8, 0].all() and out["masks"][20:24, 20:24, 1].all()
        else:  # every mask left empty: dropped with its detection
            assert out["masks"].shape == (*SIZE, 0) and out["scores"].size == 0
    # the threshold comes first: min area and overlaps see the re-binarised masks
    out = apply_postprocess(det, PostprocessSetting(mask_threshold=0.5, min_area=20))
    assert out["scores"].size == 0
    assert PostprocessSetting(mask_threshold=0.4).needs_soft_masks
    assert not PostprocessSetting().needs_soft_masks
    del det["soft_masks"]
    with pytest.raises(ValueError, match="soft_masks=True"):
        apply_postprocess(det, PostprocessSetting(mask_threshold=0.5))
    with pytest.raises(ConfigError, match="mask_threshold must be in"):
        PostprocessSetting(mask_threshold=0.0)


def test_yaml_round_trip_and_bad_keys(tmp_path):
    setting = PostprocessSetting(0.3, {2: 0.7, 1: 0.1}, 0.5, 20, "class", 64)
    path = write_postprocess(setting, tmp_path / "postprocess.yaml")
    assert read_postprocess(path) == setting
    assert read_postprocess(path).mask_threshold is None
    with_mask = PostprocessSetting(0.3, {}, None, None, "all", 0, 0.35)
    assert read_postprocess(write_postprocess(with_mask, path)) == with_mask
    assert "mask_threshold: 0.35" in path.read_text()
    path.write_text("score_threshold: 0.2\n")  # written before the mask threshold was searched
    assert read_postprocess(path) == PostprocessSetting(0.2)
    path.write_text("mask_threshold: 1.5\n")
    with pytest.raises(ConfigError, match=r"postprocess.yaml: mask_threshold must be in \(0, 1\]"):
        read_postprocess(path)
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
