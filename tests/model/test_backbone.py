"""Backbones: Matterport layer names, C2..C5 strides, norm choices; FPN and RPN shapes."""

import keras
import numpy as np
import pytest

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.model.backbone import mobilenet_graph, resnet_graph
from fashion_mrcnn.model.fpn import fpn_graph
from fashion_mrcnn.model.norm import FrozenBatchNorm, GroupNorm, group_count, norm_layer
from fashion_mrcnn.model.rpn import rpn_graph


def _names(model):
    return {layer.name for layer in model.layers}


def test_resnet50_names_and_strides():
    x = keras.Input((128, 128, 3))
    cs = resnet_graph(x, "resnet50", "frozen_bn")
    model = keras.Model(x, cs)
    names = _names(model)
    expected = [
        "conv1",
        "bn_conv1",
        "res2a_branch1",
        "bn2a_branch1",
        "res2a_branch2a",
        "bn2a_branch2a",
        "res2c_branch2c",
        "res3d_branch2c",
        "res4f_branch2c",
        "res5a_branch1",
        "res5c_branch2c",
        "bn5c_branch2c",
    ]
    for n in expected:
        assert n in names, n
    assert "res4g_branch2a" not in names  # resnet50 stage 4 is a-f
    assert [tuple(c.shape[1:]) for c in cs] == [
        (32, 32, 256),
        (16, 16, 512),
        (8, 8, 1024),
        (4, 4, 2048),
    ]
    assert model.get_layer("conv1").kernel.shape == (7, 7, 3, 64)
    assert model.get_layer("res2a_branch2a").kernel.shape == (1, 1, 64, 64)


def test_resnet101_has_23_stage4_blocks():
    x = keras.Input((64, 64, 3))
    model = keras.Model(x, resnet_graph(x, "resnet101", "gn"))
    blocks = {n[:5] for n in _names(model) if n.startswith("res4") and n.endswith("_branch2a")}
    assert len(blocks) == 23
    assert "res4w_branch2a" in _names(model) and "res4x_branch2a" not in _names(model)
    assert isinstance(model.get_layer("bn4w_branch2a"), GroupNorm)


def test_resnet_rejects_unknown_architecture():
    with pytest.raises(ConfigError, match="resnet50 or resnet101"):
        resnet_graph(keras.Input((64, 64, 3)), "resnet18")


@pytest.mark.parametrize("norm", ["gn", "bn", "frozen_bn"])
def test_mobilenet_strides(norm):
    x = keras.Input((128, 128, 3))
    cs = mobilenet_graph(x, alpha=0.35, weights=None, norm=norm)
    assert [c.shape[1] for c in cs] == [32, 16, 8, 4]
    model = keras.Model(x, cs)
    out = model(np.random.default_rng(0).normal(size=(1, 128, 128, 3)).astype("float32"))
    assert all(np.isfinite(np.asarray(o)).all() for o in out)
    inner = model.get_layer("mobilenetv2_features")
    bns = [la for la in inner.layers if isinstance(la, keras.layers.BatchNormalization)]
    gns = [la for la in inner.layers if isinstance(la, keras.layers.GroupNormalization)]
    if norm == "gn":
        assert not bns and gns
    else:
        assert bns and all(la.trainable == (norm == "bn") for la in bns)


def test_frozen_bn_uses_moving_stats_and_stays_frozen():
    layer = FrozenBatchNorm(name="bn_x")
    x = np.random.default_rng(1).normal(5.0, 3.0, size=(4, 3, 3, 8)).astype("float32")
    out = np.asarray(layer(x, training=True))
    # moving mean 0 / var 1: output is x / sqrt(1 + eps), not batch-normalised
    np.testing.assert_allclose(out, x / np.sqrt(1 + 1e-3), rtol=1e-5)
    layer.trainable = True
    assert layer.trainable is False and not layer.trainable_weights
    np.testing.assert_allclose(np.asarray(layer.moving_mean), 0.0)


def test_norm_layer_choices():
    assert group_count(256) == 32 and group_count(24) == 24 and group_count(40) == 20
    assert isinstance(norm_layer("bn", "b", 8), keras.layers.BatchNormalization)
    assert isinstance(norm_layer("gn", "g", 64), GroupNorm)
    with pytest.raises(ConfigError):
        norm_layer("ln", "x", 8)


def test_fpn_and_rpn_shapes():
    c = [keras.Input((s, s, ch)) for s, ch in ((32, 24), (16, 32), (8, 64), (4, 128))]
    ps = fpn_graph(*c, size=64)
    assert [p.shape[1] for p in ps] == [32, 16, 8, 4, 2]
    assert all(p.shape[-1] == 64 for p in ps)
    logits, probs, bbox = rpn_graph(ps, 1, 3, 64)
    total = 3 * sum(s * s for s in (32, 16, 8, 4, 2))
    model = keras.Model(c, [logits, probs, bbox])
    rpn = model.get_layer("rpn_model")
    assert {la.name for la in rpn.layers} >= {"rpn_conv_shared", "rpn_class_raw", "rpn_bbox_pred"}
    feeds = [np.zeros((2,) + tuple(t.shape[1:]), "float32") for t in c]
    out = model(feeds)
    assert tuple(out[0].shape) == (2, total, 2) and tuple(out[2].shape) == (2, total, 4)
    np.testing.assert_allclose(np.asarray(out[1]).sum(-1), 1.0, rtol=1e-5)
    names = _names(model)
    assert {"fpn_c5p5", "fpn_c2p2", "fpn_p2", "fpn_p5", "fpn_p6"} <= names


def test_resnet101_fpn_heads_match_coco_shapes(tmp_path):
    """A resnet101, 81-class inference graph has every weighted layer of mask_rcnn_coco.h5 with
    the COCO shapes (so the file binds by name)."""
    from fashion_mrcnn.config import Config
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    from fashion_mrcnn.model.weights import leaf_layers

    cfg = Config(
        NAME="coco",
        NUM_CLASSES=81,
        IMAGE_MIN_DIM=128,
        IMAGE_MAX_DIM=128,
        IMAGES_PER_GPU=1,
        BACKBONE="resnet101",
    )
    layers = leaf_layers(MaskRCNN("inference", cfg, tmp_path).keras_model)
    shapes = {
        "conv1": (7, 7, 3, 64),
        "res4w_branch2c": (1, 1, 256, 1024),
        "fpn_c5p5": (1, 1, 2048, 256),
        "fpn_p2": (3, 3, 256, 256),
        "rpn_conv_shared": (3, 3, 256, 512),
        "rpn_class_raw": (1, 1, 512, 6),
        "rpn_bbox_pred": (1, 1, 512, 12),
        "mrcnn_class_conv1": (7, 7, 256, 1024),
        "mrcnn_class_logits": (1024, 81),
        "mrcnn_bbox_fc": (1024, 324),
        "mrcnn_mask_conv4": (3, 3, 256, 256),
        "mrcnn_mask_deconv": (2, 2, 256, 256),
        "mrcnn_mask": (1, 1, 256, 81),
    }
    for name, shape in shapes.items():
        assert tuple(layers[name].weights[0].shape) == shape, name
    assert [v.name for v in layers["bn5c_branch2c"].weights] == [
        "gamma",
        "beta",
        "moving_mean",
        "moving_variance",
    ]
    # 104 conv + 104 BN in ResNet101, 8 FPN, 3 RPN, 6 box-head, 10 mask-head weighted layers
    assert len(layers) == 235
