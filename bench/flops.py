"""The FLOP floor of a workload: matmul / convolution FLOPs, and this machine's GEMM throughput.

A step's *floor* is the time it would take if every multiply-add of its convolutions and dense
layers ran at the speed of one large GEMM on the same threads: ``flops / gemm_flops_per_s``.
The ratio ``measured time / floor`` says how far a library is from the machine's limit; the
non-matmul work (RoIAlign, NMS, target building, the optimizer, the input pipeline) counts as
overhead. One multiply-add is 2 FLOPs. Training counts 3x the forward FLOPs (forward, the
gradient of the inputs, the gradient of the weights), as is usual for convolutional networks.

Our model is counted from its Keras layers: each Conv2D / Conv2DTranspose / DepthwiseConv2D /
Dense call, from its kernel and its output's static spatial size, times the rows it runs on:
the images for the backbone, FPN and RPN (the shared ``rpn_model`` runs once per pyramid level,
so its positions are the sum over levels), the box-head RoIs for ``mrcnn_class*`` /
``mrcnn_bbox*`` and the mask-head RoIs for ``mrcnn_mask*``. torchvision is counted by
``torch.utils.flop_counter.FlopCounterMode`` (see ``bench_vs_torchvision.py``).
"""

from __future__ import annotations

import math
import statistics
import time

BOX_HEAD_PREFIXES = ("mrcnn_class", "mrcnn_bbox")
MASK_HEAD_PREFIX = "mrcnn_mask"


def _layer_flops(layer, out_shape, in_shape, positions=None) -> float:
    """Forward FLOPs of one call of ``layer`` per row (image or RoI).

    ``out_shape`` / ``in_shape``: the call's Keras shapes, ``(rows, [h, w,] c)``; ``positions``
    replaces ``h * w`` where the spatial size is not static (the shared RPN model)."""
    import keras

    kernel = tuple(int(v) for v in layer.kernel.shape)
    if isinstance(layer, keras.layers.Dense):
        rows = 1
        for v in out_shape[1:-1]:
            rows *= int(v)
        return 2.0 * rows * kernel[0] * kernel[1]
    if positions is None:
        spatial_shape = in_shape if isinstance(layer, keras.layers.Conv2DTranspose) else out_shape
        positions = int(spatial_shape[1]) * int(spatial_shape[2])
    kh, kw = kernel[0], kernel[1]
    if isinstance(layer, keras.layers.DepthwiseConv2D):  # kernel [kh, kw, c, multiplier]
        return 2.0 * positions * kh * kw * kernel[2] * kernel[3]
    if isinstance(layer, keras.layers.Conv2DTranspose):  # kernel [kh, kw, out, in]
        return 2.0 * positions * kh * kw * kernel[2] * kernel[3]
    return 2.0 * positions * kh * kw * kernel[2] * kernel[3]  # Conv2D: [kh, kw, in, out]


def keras_forward_flops(
    model, images: float, box_rois: float, mask_rois: float, pyramid_positions: int
) -> dict[str, float]:
    """Forward matmul FLOPs of one call of our Mask R-CNN graph, by part.

    ``images``: images in the batch; ``box_rois`` / ``mask_rois``: RoIs through the box and
    mask heads (whole batch); ``pyramid_positions``: the feature-map positions of P2..P6 of one
    image (the shared RPN model's input). Returns ``{"backbone_fpn_rpn", "box_head",
    "mask_head", "total"}`` in FLOPs.
    """
    import keras

    kinds = (
        keras.layers.Conv2D,
        keras.layers.Conv2DTranspose,
        keras.layers.DepthwiseConv2D,
        keras.layers.Dense,
    )
    parts = {"backbone_fpn_rpn": 0.0, "box_head": 0.0, "mask_head": 0.0}

    def walk(m, nested_rpn=False):
        for layer in m.layers:
            if isinstance(layer, keras.Model):
                walk(layer, nested_rpn=layer.name == "rpn_model")
                continue
            if not isinstance(layer, kinds):
                continue
            if nested_rpn:
                # one call inside the nested model; it runs once per pyramid level
                per_row = _layer_flops(layer, None, None, positions=pyramid_positions)
                parts["backbone_fpn_rpn"] += per_row * images
                continue
            for node in layer._inbound_nodes:
                out_shape = node.output_tensors[0].shape
                in_shape = node.input_tensors[0].shape
                per_row = _layer_flops(layer, out_shape, in_shape)
                if layer.name.startswith(MASK_HEAD_PREFIX):
                    parts["mask_head"] += per_row * mask_rois
                elif layer.name.startswith(BOX_HEAD_PREFIXES):
                    parts["box_head"] += per_row * box_rois
                else:
                    parts["backbone_fpn_rpn"] += per_row * images

    walk(model)
    parts["total"] = sum(parts.values())
    return parts


def pyramid_positions(image_size: int, strides=(4, 8, 16, 32, 64)) -> int:
    """Feature-map positions of P2..P6 for a square ``image_size`` input."""
    return sum(math.ceil(image_size / s) ** 2 for s in strides)


def tf_gemm_flops_per_s(dtype: str = "float32", n: int = 4096, repeats: int = 5) -> float:
    """This machine's ``n x n`` GEMM throughput in TensorFlow (median of ``repeats``, after a
    warm-up), FLOP/s; the threads are whatever TensorFlow was configured with."""
    import tensorflow as tf

    a = tf.random.normal((n, n), dtype=tf.float32)
    b = tf.random.normal((n, n), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(b, dtype)
    tf.linalg.matmul(a, b).numpy()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        tf.linalg.matmul(a, b).numpy()
        times.append(time.perf_counter() - t0)
    return 2.0 * n**3 / statistics.median(times)


def torch_gemm_flops_per_s(dtype: str = "float32", n: int = 4096, repeats: int = 5) -> float:
    """As :func:`tf_gemm_flops_per_s`, in torch (``torch.mm``)."""
    import torch

    kind = getattr(torch, dtype)
    a = torch.randn(n, n).to(kind)
    b = torch.randn(n, n).to(kind)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t0)
    return 2.0 * n**3 / statistics.median(times)
