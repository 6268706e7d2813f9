"""MaskRCNN.detect_molded's unmolding, on made-up graph outputs (no graph is built): each image's
detections are unmolded once, and its binary masks, soft masks and attribute rows all come from
that one ``ops.transform.unmold_instances`` call."""

import numpy as np
import pytest

from fashion_mrcnn.data.attributes import detection_attributes
from fashion_mrcnn.model.maskrcnn import MaskRCNN
from fashion_mrcnn.ops import transform as T
from fashion_mrcnn.ops.masks import threshold_soft_masks
from tests.model.engine_helpers import smoke_config

SHAPES = ((97, 131), (150, 80))  # two originals, both molded to 192 x 192


def _unbuilt_model(config, raw) -> MaskRCNN:
    """A MaskRCNN without a graph whose ``run_molded`` returns ``raw`` (the graph's outputs)."""
    model = MaskRCNN.__new__(MaskRCNN)  # no __init__: nothing is built
    model.mode, model.config = "inference", config

    def run_molded(molded_images, image_metas):
        assert len(molded_images) == len(image_metas) == len(raw["detections"])
        return raw

    model.run_molded = run_molded
    return model


@pytest.fixture()
def inputs():
    cfg = smoke_config(
        IMAGE_MIN_DIM=192, IMAGE_MAX_DIM=192, NUM_ATTRIBUTES=3, ATTRIBUTE_IDS=[115, 136, 140],
        ATTRIBUTE_CLASS_IDS=[1, 2],
    )  # fmt: skip
    rng = np.random.default_rng(5)
    images = [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for h, w in SHAPES]
    molded, metas, _ = T.mold_inputs(
        images, min_dim=192, max_dim=192, min_scale=0, mode="square",
        mean_pixel=cfg.MEAN_PIXEL, num_classes=cfg.NUM_CLASSES,
    )  # fmt: skip
    one = np.array(
        [
            [0.30, 0.25, 0.60, 0.70, 1, 0.95],
            [0.40, 0.40, 0.50, 0.50, 2, 0.20],  # below the min confidence of the test
            [0.10, 0.00, 0.45, 0.30, 3, 0.80],  # reaches into the padding; a class without attrs
            [0.50, 0.50, 0.45, 0.60, 1, 0.90],  # inverted: no height once unmolded, dropped
            [0.55, 0.20, 0.90, 0.60, 2, 0.60],
            [0, 0, 0, 0, 0, 0],  # a padding row
        ],
        np.float32,
    )
    raw = {
        "detections": np.stack([one, one[::-1]]),  # the second image keeps other rows
        # probabilities near 0.5, where the threshold and the soft levels must agree
        "mrcnn_mask": rng.uniform(0.3, 0.7, (2, 6, 28, 28, cfg.NUM_CLASSES)).astype(np.float32),
        "mrcnn_attr": rng.uniform(0, 1, (2, 6, 3)).astype(np.float32),
    }
    return cfg, molded, metas, raw


def test_detect_molded_unmolds_each_image_once_and_pastes_both_masks(inputs, monkeypatch):
    cfg, molded, metas, raw = inputs
    windows = T.mold_inputs(
        [np.zeros((h, w, 3), np.uint8) for h, w in SHAPES], min_dim=192, max_dim=192,
        min_scale=0, mode="square", mean_pixel=cfg.MEAN_PIXEL, num_classes=cfg.NUM_CLASSES,
    )[2]  # fmt: skip
    want = []  # the three unmoldings detect_molded used to run per image
    for i, (h, w) in enumerate(SHAPES):
        frame = ((h, w, 3), molded[i].shape, windows[i])
        rois, ids, scores, masks = T.unmold_detections(
            raw["detections"][i], raw["mrcnn_mask"][i], *frame, 0.3, cfg.MASK_THRESHOLD
        )
        boxes, _, _, small = T.unmold_instances(
            raw["detections"][i], raw["mrcnn_mask"][i], *frame, 0.3
        )
        rows = T.kept_detection_rows(raw["detections"][i], *frame, 0.3)
        want.append(
            {"rois": rois, "class_ids": ids, "scores": scores, "masks": masks,
             "soft_masks": T.paste_soft_masks(small, boxes, frame[0]),
             **detection_attributes(raw["mrcnn_attr"][i][rows], ids, cfg)}
        )  # fmt: skip
    assert [len(w["rois"]) for w in want] == [3, 3]
    assert want[0]["attribute_ids"][1] == []  # class 3 carries no attributes

    calls = []
    counted = T.kept_detection_rows

    def counting(*args, **kwargs):
        calls.append(1)
        return counted(*args, **kwargs)

    monkeypatch.setattr(T, "kept_detection_rows", counting)
    got = _unbuilt_model(cfg, raw).detect_molded(molded, metas, 0, 0.3, None, True)
    assert len(calls) == len(SHAPES), "each image's detections are unmolded exactly once"
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert sorted(g) == sorted(w)
        for key in ("rois", "class_ids", "scores", "masks", "soft_masks", "attribute_probs"):
            assert g[key].dtype == w[key].dtype
            np.testing.assert_array_equal(g[key], w[key], err_msg=key)
        assert g["attribute_ids"] == w["attribute_ids"]
        assert g["attribute_scores"] == w["attribute_scores"]
        np.testing.assert_array_equal(threshold_soft_masks(g["soft_masks"], 0.5), g["masks"])
    plain = _unbuilt_model(cfg, raw).detect_molded(molded, metas, 0, 0.3)
    assert "soft_masks" not in plain[0]
    np.testing.assert_array_equal(plain[1]["masks"], want[1]["masks"])
