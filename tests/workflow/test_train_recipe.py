"""``train``'s recipe options: which recipe and learning-rate settings a command line gets
(no training here; the training itself is covered by test_cli.py)."""

from __future__ import annotations

import pytest

from fashion_mrcnn.cli import build_parser
from fashion_mrcnn.workflow.commands import train_config


def _config(*argv, num_classes=8):
    args = build_parser().parse_args(["train", "data", *map(str, argv)])
    return train_config(args, num_classes)


def test_cpu_presets_train_from_scratch_by_default():
    config = _config("--preset", "cpu-small")  # ImageNet backbone: the scratch schedule at 0.005
    assert (config.RECIPE, config.LEARNING_RATE, config.LR_SCHEDULE) == ("scratch", 0.005, "cosine")
    config = _config("--preset", "cpu-smoke")
    assert (config.RECIPE, config.LEARNING_RATE, config.LR_SCHEDULE) == ("scratch", 0.02, "cosine")


def test_init_weights_switch_to_the_finetune_recipe(tmp_path):
    config = _config("--preset", "cpu-small", "--init-weights", tmp_path / "coco.h5")
    assert (config.RECIPE, config.LEARNING_RATE, config.LR_SCHEDULE) == (
        "finetune",
        0.001,
        "constant",
    )
    forced = _config("--init-weights", tmp_path / "coco.h5", "--recipe", "scratch")
    assert forced.RECIPE == "scratch" and forced.LEARNING_RATE == 0.005  # cpu-small's
    forced = _config(
        "--preset", "cpu-smoke", "--init-weights", tmp_path / "coco.h5", "--recipe", "scratch"
    )
    assert forced.RECIPE == "scratch" and forced.LEARNING_RATE == 0.02


def test_explicit_learning_rate_options_win():
    config = _config("--lr", 0.005, "--lr-schedule", "step", "--warmup-steps", 7)
    assert (config.RECIPE, config.LEARNING_RATE, config.LR_SCHEDULE, config.LR_WARMUP_STEPS) == (
        "scratch",
        0.005,
        "step",
        7,
    )


def test_a_config_yaml_keeps_its_rates_unless_the_recipe_changes(tmp_path):
    path = tmp_path / "c.yaml"
    _config("--preset", "cpu-smoke", "--lr", 0.03).to_yaml(path)
    assert _config("--config", path).LEARNING_RATE == 0.03
    assert _config("--config", path, "--recipe", "finetune").LEARNING_RATE == 0.001


def test_out_has_a_default_and_recipe_names_are_checked(capsys):
    args = build_parser().parse_args(["train", "data"])
    assert args.out == "runs/train"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "data", "--recipe", "yolo"])


def test_validation_is_sized_to_the_epoch_and_the_validation_split():
    from types import SimpleNamespace

    from fashion_mrcnn.workflow.stages import validation_steps_for

    config = _config("--preset", "cpu-small")  # VALIDATION_STEPS 50, 2 images a step
    ccp_val = SimpleNamespace(num_images=119)
    # ccp-fashion: a pass over its 480 training photos is 240 steps; 50 validation steps
    assert validation_steps_for(ccp_val, config, 240) == 50
    # short epochs: at most 0.3 validation steps a training step (~10 % of the epoch's time)
    assert validation_steps_for(ccp_val, config, 60) == 18
    # a small validation split is seen once, not 50 steps' worth of repeats
    assert validation_steps_for(SimpleNamespace(num_images=9), config, 240) == 5
    assert validation_steps_for(SimpleNamespace(num_images=1), config, 1) == 1


def test_jit_compile_option_sets_the_compiled_graph():
    config = _config("--preset", "cpu-smoke", "--jit-compile")
    assert (config.JIT_COMPILE, config.ROI_ALIGN) == (True, "xla")
    config = _config("--preset", "cpu-smoke")
    assert (config.JIT_COMPILE, config.ROI_ALIGN) == (False, "crop_and_resize")
