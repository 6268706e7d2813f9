"""Presets carry their recipe (``presets.RECIPES``): scratch for the CPU presets, Matterport's
fine-tuning for the GPU ones."""

from __future__ import annotations

import pytest

from fashion_mrcnn.config import Config
from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.presets import PRESETS, recipe_stages


@pytest.mark.parametrize(
    ("preset", "recipe", "lr", "schedule", "warmup"),
    [
        ("cpu-smoke", "scratch", 0.02, "cosine", 200),
        # an ImageNet backbone: the same schedule at a quarter of the rate
        ("cpu-small", "scratch", 0.005, "cosine", 200),
        ("colab-t4", "finetune", 0.001, "constant", 0),
        ("full", "finetune", 0.001, "constant", 0),
    ],
)
def test_each_preset_trains_with_its_recipe(preset, recipe, lr, schedule, warmup):
    config = Config.preset(preset, NUM_CLASSES=5)
    assert (config.RECIPE, config.LEARNING_RATE, config.LR_SCHEDULE, config.LR_WARMUP_STEPS) == (
        recipe,
        lr,
        schedule,
        warmup,
    )


def test_choosing_the_other_recipe_brings_its_settings_and_explicit_values_win():
    # cpu-small's own LEARNING_RATE (0.005) belongs to its scratch recipe, not to finetune
    config = Config.preset("cpu-small", NUM_CLASSES=5, RECIPE="finetune")
    assert (config.LEARNING_RATE, config.LR_SCHEDULE) == (0.001, "constant")
    config = Config.preset("cpu-small", NUM_CLASSES=5, RECIPE="scratch")
    assert (config.LEARNING_RATE, config.LR_SCHEDULE) == (0.005, "cosine")
    config = Config.preset("colab-t4", NUM_CLASSES=5, RECIPE="scratch", LEARNING_RATE=0.01)
    assert (config.LEARNING_RATE, config.LR_SCHEDULE, config.LR_WARMUP_STEPS) == (
        0.01,
        "cosine",
        200,
    )
    with pytest.raises(ConfigError, match="RECIPE must be one of"):
        Config(RECIPE="yolo")


def test_recipe_stages():
    assert recipe_stages("scratch", 30, 0.02) == [
        {"layers": "all", "epochs": 30, "learning_rate": 0.02}
    ]
    assert recipe_stages("finetune", 12, 0.001) == [
        {"layers": "heads", "epochs": 4, "learning_rate": 0.001},
        {"layers": "all", "epochs": 12, "learning_rate": pytest.approx(0.0001)},
    ]
    assert [s["layers"] for s in recipe_stages("finetune", 1, 0.001)] == ["heads"]
    with pytest.raises(ConfigError, match="at least 1 epoch"):
        recipe_stages("scratch", 0, 0.02)


def test_every_preset_names_a_recipe():
    assert all(p["RECIPE"] in ("scratch", "finetune") for p in PRESETS.values())


def test_cpu_small_starts_from_imagenet_in_native_precision():
    config = Config.preset("cpu-small", NUM_CLASSES=5)
    assert (config.BACKBONE, config.BACKBONE_WEIGHTS, config.NORM, config.MIXED_PRECISION) == (
        "efficientnet-lite0",
        "imagenet",
        "frozen_bn",
        "auto",
    )
