"""model.trainable: the layer presets, set_trainable (nested models, frozen BN), the layers a
backbone file must hold, the frozen-BN warning. (``MaskRCNN.set_trainable`` on a real ResNet:
tests/model/test_maskrcnn.py.)"""

from __future__ import annotations

import warnings

import keras
import pytest

from fashion_mrcnn.config import Config
from fashion_mrcnn.model import trainable
from fashion_mrcnn.model.norm import FrozenBatchNorm


def _tiny_model():
    """conv1 -> bn_conv1 (frozen BN) -> [nested: res5a_branch2a, bn5a_branch2a (BN)] ->
    fpn_p2 -> mrcnn_mask, plus a weightless layer."""
    x = keras.Input((8, 8, 3))
    y = keras.layers.Conv2D(4, 1, name="conv1")(x)
    y = FrozenBatchNorm(name="bn_conv1")(y)
    inner_in = keras.Input((8, 8, 4))
    z = keras.layers.Conv2D(4, 1, name="res5a_branch2a")(inner_in)
    z = keras.layers.BatchNormalization(name="bn5a_branch2a")(z)
    y = keras.Model(inner_in, z, name="stage5")(y)
    y = keras.layers.Activation("relu", name="res5a_out")(y)
    y = keras.layers.Conv2D(4, 1, name="fpn_p2")(y)
    y = keras.layers.Conv2D(2, 1, name="mrcnn_mask")(y)
    return keras.Model(x, y)


def _names(model):
    return {layer.name for layer in trainable.get_trainable_layers(model)}


def test_set_trainable_presets_regexes_nested_models_and_frozen_bn():
    model = _tiny_model()
    trainable.set_trainable(model, "heads")
    assert _names(model) == {"fpn_p2", "mrcnn_mask"}
    trainable.set_trainable(model, "5+")
    assert _names(model) == {"res5a_branch2a", "bn5a_branch2a", "fpn_p2", "mrcnn_mask"}
    trainable.set_trainable(model, r"conv1|mrcnn_.*")
    assert _names(model) == {"conv1", "mrcnn_mask"}
    trainable.set_trainable(model, "all")
    assert _names(model) == {"conv1", "res5a_branch2a", "bn5a_branch2a", "fpn_p2", "mrcnn_mask"}
    assert not model.get_layer("bn_conv1").trainable  # frozen BN stays frozen under "all"


def test_set_trainable_verbose_prints_the_trainable_layers_indented(capsys):
    trainable.set_trainable(_tiny_model(), "5+", verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "res5a_branch2a",
        "bn5a_branch2a",
        "fpn_p2",
        "mrcnn_mask",
    ]
    assert lines[0].startswith("    res5a_branch2a") and lines[2].startswith("fpn_p2")


def test_backbone_layers_leave_out_the_heads_and_resnet101_blocks_for_the_resnet50_file():
    names = ["conv1", "res4a_branch2a", "res4g_branch2a", "bn4w_branch2c", "fpn_p2", "rpn_conv_shared",
             "mrcnn_mask", "mrcnn_class_logits"]  # fmt: skip
    assert trainable.backbone_layers(names, imagenet_resnet50=False) == names[:4]
    assert trainable.backbone_layers(names, imagenet_resnet50=True) == names[:2]


def test_training_from_random_weights_with_frozen_bn_warns_once_naming_the_fixes(monkeypatch):
    monkeypatch.setattr(trainable, "_WARNED_UNNORMALISED", False)
    frozen = Config(NORM="frozen_bn", NUM_CLASSES=3)
    with pytest.warns(UserWarning, match="frozen BatchNorm") as caught:
        trainable.warn_unnormalised(frozen, weights_loaded=False)
    assert all(
        fix in str(caught[0].message) for fix in ("NORM='gn'", "NORM='bn'", "--init-weights")
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trainable.warn_unnormalised(frozen, weights_loaded=False)  # once per process
        monkeypatch.setattr(trainable, "_WARNED_UNNORMALISED", False)
        trainable.warn_unnormalised(frozen, weights_loaded=True)  # weights were loaded
        trainable.warn_unnormalised(Config(NORM="gn", NUM_CLASSES=3), weights_loaded=False)
