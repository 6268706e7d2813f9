"""Config: Matterport defaults, derived fields, overrides, YAML round trip, validation, presets."""

import numpy as np
import pytest

from fashion_mrcnn.config import Config, FashionConfig, FashionInferenceConfig
from fashion_mrcnn.constants import LOSS_NAMES
from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.presets import PRESETS, get_preset


def test_matterport_defaults_and_derived():
    c = Config()
    assert c.BACKBONE == "resnet101"
    assert c.IMAGES_PER_GPU == 2 and c.GPU_COUNT == 1 and c.BATCH_SIZE == 2
    assert list(c.IMAGE_SHAPE) == [1024, 1024, 3]
    assert c.IMAGE_META_SIZE == 12 + 1
    assert c.RPN_ANCHOR_SCALES == (32, 64, 128, 256, 512)
    assert c.POST_NMS_ROIS_TRAINING == 2000 and c.POST_NMS_ROIS_INFERENCE == 1000
    np.testing.assert_allclose(c.BBOX_STD_DEV, [0.1, 0.1, 0.2, 0.2])
    assert set(c.LOSS_WEIGHTS) == set(LOSS_NAMES) | {"mrcnn_attr_loss"}
    assert c.NUM_ATTRIBUTES == 0 and c.ATTRIBUTE_IDS == []
    assert c.NORM == "frozen_bn" and c.TRAIN_BN is False
    assert c.MASK_THRESHOLD == 0.5 and c.LR_SCHEDULE == "constant"


def test_subclass_and_kwargs_override():
    class Mine(Config):
        NAME = "mine"
        NUM_CLASSES = 5
        IMAGES_PER_GPU = 3
        GPU_COUNT = 2

    m = Mine()
    assert m.BATCH_SIZE == 6 and m.IMAGE_META_SIZE == 17
    k = Config(NAME="x", NUM_CLASSES=5, IMAGE_RESIZE_MODE="crop", IMAGE_MIN_DIM=256)
    assert k.NAME == "x" and k.IMAGE_META_SIZE == 17
    assert list(k.IMAGE_SHAPE) == [256, 256, 3]
    # the class default is untouched by an instance override
    assert Config.NUM_CLASSES == 1


def test_numpy_scalars_accepted():
    c = Config(IMAGES_PER_GPU=np.int64(3), DETECTION_MIN_CONFIDENCE=np.float32(0.6))
    assert c.BATCH_SIZE == 3
    with pytest.raises(ConfigError, match="IMAGES_PER_GPU"):
        Config(IMAGES_PER_GPU=True)


def test_unknown_and_derived_kwargs_rejected():
    with pytest.raises(ConfigError, match="NUM_CLASES"):
        Config(NUM_CLASES=3)
    with pytest.raises(ConfigError, match="derived"):
        Config(BATCH_SIZE=4)


def test_roi_align_method_is_checked():
    assert Config().ROI_ALIGN == "crop_and_resize" and Config(ROI_ALIGN="xla").ROI_ALIGN == "xla"
    with pytest.raises(ConfigError, match="ROI_ALIGN"):
        Config(ROI_ALIGN="CropAndResize")


def test_train_bn_maps_onto_norm():
    assert Config(TRAIN_BN=None).NORM == "bn"
    assert Config(NORM="gn").TRAIN_BN is None
    assert Config(NORM="frozen_bn").TRAIN_BN is False


def test_display_prints_every_setting(capsys):
    FashionConfig().display()
    out = capsys.readouterr().out
    for name in ("NUM_CLASSES", "BATCH_SIZE", "IMAGE_SHAPE", "NORM", "LOSS_WEIGHTS"):
        assert name in out
    assert "47" in out


def test_yaml_round_trip(tmp_path):
    c = FashionConfig(IMAGES_PER_GPU=3, NORM="gn", LOSS_WEIGHTS={k: 2.0 for k in LOSS_NAMES})
    path = c.to_yaml(tmp_path / "cfg.yaml")
    back = FashionConfig.from_yaml(path)
    assert back.to_dict() == c.to_dict()
    assert isinstance(back.RPN_ANCHOR_SCALES, tuple)
    assert isinstance(back.BBOX_STD_DEV, np.ndarray)
    assert back.BATCH_SIZE == 3
    # a base Config restores the fashion values from the file
    generic = Config.from_yaml(path)
    assert generic.NUM_CLASSES == 47 and generic.NAME == "fashion"
    assert generic.IMAGE_META_SIZE == 12 + 47


def test_yaml_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("NUM_CLASSES: 3\nFOO: 1\n")
    with pytest.raises(ConfigError, match="bad.yaml.*FOO"):
        Config.from_yaml(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        Config.from_yaml(bad)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"IMAGE_MAX_DIM": 1000}, "IMAGE_MAX_DIM = 1000 is not divisible by 64"),
        ({"IMAGE_RESIZE_MODE": "none", "IMAGE_MAX_DIM": 500}, "divisible by 64"),
        ({"IMAGE_RESIZE_MODE": "pad64", "IMAGE_MIN_DIM": 500}, "IMAGE_MIN_DIM"),
        ({"IMAGE_RESIZE_MODE": "crop", "IMAGE_MIN_DIM": 100}, "IMAGE_MIN_DIM"),
        ({"BACKBONE": "resnet18"}, "BACKBONE"),
        ({"NORM": "ln"}, "NORM"),
        ({"IMAGE_RESIZE_MODE": "stretch"}, "IMAGE_RESIZE_MODE"),
        ({"LR_SCHEDULE": "poly"}, "LR_SCHEDULE"),
        ({"LOSS_WEIGHTS": {"rpn_class_loss": 1.0}}, "LOSS_WEIGHTS keys"),
        ({"LOSS_WEIGHTS": {**{k: 1.0 for k in LOSS_NAMES}, "mask": 1.0}}, "LOSS_WEIGHTS keys"),
        ({"DETECTION_MIN_CONFIDENCE": -0.1}, "DETECTION_MIN_CONFIDENCE"),
        ({"RPN_NMS_THRESHOLD": -1}, "RPN_NMS_THRESHOLD"),
        ({"MASK_THRESHOLD": 1.5}, "MASK_THRESHOLD"),
        ({"RPN_ANCHOR_SCALES": (32, 64, 128)}, "one anchor scale per level"),
        ({"IMAGES_PER_GPU": 0}, "IMAGES_PER_GPU"),
        ({"MASK_SHAPE": [56, 56]}, "MASK_SHAPE"),
        ({"LEARNING_RATE": 0}, "LEARNING_RATE"),
        ({"BBOX_STD_DEV": np.array([0.1, 0.1])}, "BBOX_STD_DEV"),
    ],
)
def test_validation_errors(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        Config(**kwargs)


def test_validate_against_dataset_num_classes():
    c = FashionConfig()
    assert c.validate(num_classes=47) is c
    with pytest.raises(ConfigError, match="NUM_CLASSES is 47 but the dataset has 13"):
        c.validate(num_classes=13)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_build_valid_configs(name):
    c = FashionConfig.preset(name)
    assert "_PRESET_KEEP" not in c.to_dict()
    assert c.NUM_CLASSES == 47
    for key, value in get_preset(name).items():
        assert np.array_equal(np.asarray(getattr(c, key)), np.asarray(value)), key
    assert c.IMAGE_SHAPE[0] == get_preset(name)["IMAGE_MAX_DIM"]


def test_cpu_smoke_preset_values_and_unknown_preset():
    c = Config.preset("cpu-smoke", NUM_CLASSES=4)
    assert list(c.IMAGE_SHAPE) == [128, 128, 3]
    assert c.BACKBONE == "mobilenetv2" and c.MOBILENET_ALPHA == 0.35
    assert c.NORM in ("gn", "bn") and c.NUM_CLASSES == 4
    with pytest.raises(ConfigError, match="unknown preset"):
        get_preset("huge")


def test_fashion_configs():
    f = FashionConfig()
    assert f.NAME == "fashion" and f.NUM_CLASSES == 47 and f.BACKBONE == "resnet50"
    assert list(f.IMAGE_SHAPE) == [512, 512, 3]
    assert f.DETECTION_MAX_INSTANCES == 50
    i = FashionInferenceConfig()
    assert i.BATCH_SIZE == 1 and i.NUM_CLASSES == 47
    small = FashionInferenceConfig.preset("colab-t4")  # the preset's batch of 4 is not applied
    assert small.BATCH_SIZE == 1 and small.BACKBONE == "resnet50"
    assert FashionInferenceConfig.preset("colab-t4", IMAGES_PER_GPU=3).BATCH_SIZE == 3


def test_replace_keeps_class():
    f = FashionInferenceConfig()
    g = f.replace(DETECTION_MIN_CONFIDENCE=0.5)
    assert type(g) is FashionInferenceConfig and g.DETECTION_MIN_CONFIDENCE == 0.5
    assert f.DETECTION_MIN_CONFIDENCE == 0.7


def test_replace_norm_or_train_bn_alone_decides():
    from fashion_mrcnn.config import Config

    bn = Config(NORM="bn")
    frozen = bn.replace(NORM="frozen_bn")
    assert frozen.NORM == "frozen_bn" and frozen.TRAIN_BN is False
    assert bn.replace(NORM="gn").NORM == "gn"
    assert Config().replace(TRAIN_BN=None).NORM == "bn"
    assert bn.replace(TRAIN_BN=False).NORM == "frozen_bn"
    assert bn.replace(LEARNING_RATE=0.01).NORM == "bn"
