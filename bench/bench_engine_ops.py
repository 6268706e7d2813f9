"""Timings of the engine's numpy targets and graph layers on CPU.

Usage: python bench/bench_engine_ops.py [--repeats 10]

Prints the median wall time of: ``build_rpn_targets`` (512 px image, 65,472 anchors, 50 GT
boxes), and one call (traced tf.function) of ProposalLayer, DetectionTargetLayer, PyramidROIAlign and
DetectionLayer with FashionConfig sizes (512 px, batch 2).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def graph(layer):
    """The layer as a traced tf.function (how Keras runs it inside fit / predict)."""
    import tensorflow as tf

    fn = tf.function(lambda inputs: layer(inputs))
    return lambda inputs: fn([tf.constant(x) for x in inputs])


def timed_text(fn, repeats):
    """'median wall ms (median process CPU ms)' of ``fn`` (``bench_setup.timed``)."""
    from bench_setup import timed

    wall, cpu = timed(fn, repeats)
    return f"{wall:8.2f} ms wall ({cpu:.2f} ms CPU)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    from fashion_mrcnn.config import FashionConfig
    from fashion_mrcnn.data.targets import build_rpn_targets
    from fashion_mrcnn.layers import (
        DetectionLayer,
        DetectionTargetLayer,
        ProposalLayer,
        PyramidROIAlign,
    )
    from fashion_mrcnn.ops.anchors import get_anchors_for_config
    from fashion_mrcnn.ops.image import compose_image_meta

    c = FashionConfig()
    rng = np.random.default_rng(0)
    px = get_anchors_for_config(c, normalized=False)
    size = rng.uniform(20, 200, (50, 2))
    y1x1 = rng.uniform(0, 512, (50, 2)) * (1 - size / 512)
    gt_px = np.concatenate([y1x1, y1x1 + size], 1).astype(np.float32)
    ids = rng.integers(1, 47, 50).astype(np.int32)
    ms = timed_text(
        lambda: build_rpn_targets(px, ids, gt_px, c, rng=np.random.default_rng(1)), args.repeats
    )
    print(f"build_rpn_targets  anchors={len(px)} gt=50            {ms}")

    b = 2
    anchors = np.broadcast_to(get_anchors_for_config(c), (b, len(px), 4)).copy()
    logits = rng.normal(size=(b, len(px), 2)).astype(np.float32)
    probs = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    deltas = rng.normal(0, 0.5, (b, len(px), 4)).astype(np.float32)
    prop = ProposalLayer(
        c.POST_NMS_ROIS_TRAINING, c.RPN_NMS_THRESHOLD, c.PRE_NMS_LIMIT, c.RPN_BBOX_STD_DEV
    )
    g_prop = graph(prop)
    ms = timed_text(lambda: g_prop([probs, deltas, anchors]), args.repeats)
    print(f"ProposalLayer      B=2 pre={c.PRE_NMS_LIMIT} post={c.POST_NMS_ROIS_TRAINING}  {ms}")
    proposals = np.asarray(prop([probs, deltas, anchors]))

    g = c.MAX_GT_INSTANCES
    gt_ids = np.zeros((b, g), np.int32)
    gt_ids[:, :50] = ids
    gt_boxes = np.zeros((b, g, 4), np.float32)
    gt_boxes[:, :50] = gt_px / 511
    masks = (rng.random((b, 56, 56, g)) > 0.5).astype(np.float32)
    valid = (gt_ids > 0).astype(np.float32)
    dtl = DetectionTargetLayer(
        c.TRAIN_ROIS_PER_IMAGE, c.ROI_POSITIVE_RATIO, c.MASK_SHAPE, c.BBOX_STD_DEV, True
    )
    g_dtl = graph(dtl)
    ms = timed_text(lambda: g_dtl([proposals, gt_ids, gt_boxes, masks, valid]), args.repeats)
    print(f"DetectionTarget    B=2 N={proposals.shape[1]} G={g} T={c.TRAIN_ROIS_PER_IMAGE}   {ms}")

    fms = [rng.normal(size=(b, 512 // s, 512 // s, 256)).astype(np.float32) for s in (4, 8, 16, 32)]
    align = PyramidROIAlign([7, 7], c.IMAGE_SHAPE)
    g_align = graph(align)
    ms = timed_text(lambda: g_align([proposals[:, :1000]] + fms), args.repeats)
    print(f"PyramidROIAlign    B=2 N=1000 7x7 C=256           {ms}")

    n, k = 1000, c.NUM_CLASSES
    cls_logits = rng.normal(0, 3, (b, n, k))
    cls = (np.exp(cls_logits) / np.exp(cls_logits).sum(-1, keepdims=True)).astype(np.float32)
    bbox = rng.normal(0, 1, (b, n, k, 4)).astype(np.float32)
    meta = np.stack(
        [compose_image_meta(0, (512, 512, 3), (512, 512, 3), (0, 0, 512, 512), 1, [1] * k)] * b
    )
    det = DetectionLayer(c.BBOX_STD_DEV, 0.05, c.DETECTION_MAX_INSTANCES, c.DETECTION_NMS_THRESHOLD)
    g_det = graph(det)
    ms = timed_text(lambda: g_det([proposals[:, :n], cls, bbox, meta]), args.repeats)
    print(f"DetectionLayer     B=2 N=1000 C={k} min_conf=0.05     {ms}")


if __name__ == "__main__":
    main()
