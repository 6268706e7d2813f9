"""Size presets: named overrides applied on top of a ``Config`` class.

``Config.preset(name, **overrides)`` builds a configuration from one; :func:`get_preset` returns
a copy of a preset's overrides. Presets use Matterport's upper-case attribute names.
"""

from __future__ import annotations

from typing import Any

from fashion_mrcnn.errors import ConfigError

PRESETS: dict[str, dict[str, Any]] = {
    # A few seconds per step on a laptop CPU; no pretrained weights, hence GroupNorm.
    "cpu-smoke": {
        "IMAGE_MIN_DIM": 128,
        "IMAGE_MAX_DIM": 128,
        "BACKBONE": "mobilenetv2",
        "MOBILENET_ALPHA": 0.35,
        "NORM": "gn",
        "TOP_DOWN_PYRAMID_SIZE": 64,
        "RPN_ANCHOR_SCALES": (8, 16, 32, 64, 128),
        "TRAIN_ROIS_PER_IMAGE": 32,
        "POST_NMS_ROIS_TRAINING": 300,
        "POST_NMS_ROIS_INFERENCE": 100,
        "PRE_NMS_LIMIT": 1000,
        "MASK_HEAD_CHANNELS": 64,
        "FPN_CLASSIF_FC_LAYERS_SIZE": 128,
        "IMAGES_PER_GPU": 2,
        "MAX_GT_INSTANCES": 20,
        "DETECTION_MIN_CONFIDENCE": 0.5,
        "MINI_MASK_SHAPE": (28, 28),
    },
    # Real training on a CPU over a few hours.
    "cpu-small": {
        "IMAGE_MIN_DIM": 256,
        "IMAGE_MAX_DIM": 256,
        "BACKBONE": "mobilenetv2",
        "MOBILENET_ALPHA": 1.0,
        "NORM": "gn",
        "TOP_DOWN_PYRAMID_SIZE": 128,
        "RPN_ANCHOR_SCALES": (16, 32, 64, 128, 256),
        "TRAIN_ROIS_PER_IMAGE": 64,
        "POST_NMS_ROIS_TRAINING": 1000,
        "POST_NMS_ROIS_INFERENCE": 300,
        "PRE_NMS_LIMIT": 2000,
        "MASK_HEAD_CHANNELS": 128,
        "FPN_CLASSIF_FC_LAYERS_SIZE": 512,
        "IMAGES_PER_GPU": 2,
        "MAX_GT_INSTANCES": 50,
    },
    # A Colab / Kaggle T4 (16 GB): the Matterport fashion-kernel scale.
    "colab-t4": {
        "IMAGE_MIN_DIM": 512,
        "IMAGE_MAX_DIM": 512,
        "BACKBONE": "resnet50",
        "NORM": "frozen_bn",
        "RPN_ANCHOR_SCALES": (16, 32, 64, 128, 256),
        "IMAGES_PER_GPU": 4,
        "POST_NMS_ROIS_TRAINING": 1000,
        "POST_NMS_ROIS_INFERENCE": 500,
    },
    # The paper-size model.
    "full": {
        "IMAGE_MIN_DIM": 800,
        "IMAGE_MAX_DIM": 1024,
        "BACKBONE": "resnet101",
        "NORM": "frozen_bn",
        "RPN_ANCHOR_SCALES": (32, 64, 128, 256, 512),
        "IMAGES_PER_GPU": 2,
    },
}


def get_preset(name: str) -> dict[str, Any]:
    """The overrides of a named preset (a copy). Raises ConfigError for an unknown name."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return dict(PRESETS[name])
