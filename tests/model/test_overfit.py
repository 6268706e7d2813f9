"""The key proof the engine works: cpu-smoke overfits two synthetic images.

The total loss must drop by at least 70% and ``detect`` must then find every ground-truth
instance (box IoU >= 0.5, right class) with a mask that fits it (mask IoU >= 0.5 against the
matched detection), and no more than ``EXTRA_DETECTIONS`` detections beyond the ground truth
(``detect`` returns only those above DETECTION_MIN_CONFIDENCE). A few minutes on a 2-core CPU.
The same holds in bfloat16 (``MIXED_PRECISION="bfloat16"``; the slow marker: once per CI run).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from fashion_mrcnn.evaluation.matching import compute_overlaps_masks
from fashion_mrcnn.ops.boxes import box_iou_np, extract_bboxes
from tests.model.engine_helpers import SceneDataset, smoke_config, synthetic_scenes

EPOCHS = 12
STEPS = 10
LEARNING_RATE = 0.02
MIN_MASK_IOU = 0.5
EXTRA_DETECTIONS = 2


@pytest.mark.parametrize(
    "mixed_precision",
    # bfloat16 (issue 17's numerics check) once per CI run, in its slow step
    [False, pytest.param("bfloat16", marks=pytest.mark.slow)],
)
def test_overfit_two_synthetic_images(tmp_path, mixed_precision):
    """With TensorFlow's op determinism on (off again after): without it the reduction order,
    which depends on the machine's load, changes the training's path (a CI run beside the other
    slow tests saw a mask IoU of 0.45 in bfloat16, where quiet runs had given >= 0.67). It does
    not cover everything in bfloat16: beside two busy processes the losses still drifted from
    epoch 7 (smallest matched mask IoU 0.62, quiet 0.66; float32 was not checked loaded)."""
    from tensorflow.python.framework import config as tf_config

    tf_config.enable_op_determinism()
    try:
        _overfit(tmp_path, mixed_precision)
    finally:
        tf_config.disable_op_determinism()


def _overfit(tmp_path, mixed_precision):
    import keras

    from fashion_mrcnn.model.maskrcnn import MaskRCNN

    keras.utils.set_random_seed(0)
    cfg = smoke_config(
        IMAGES_PER_GPU=2,
        LEARNING_RATE=LEARNING_RATE,
        LR_WARMUP_STEPS=10,
        WEIGHT_DECAY=0.0,
        MIXED_PRECISION=mixed_precision,
    )
    scenes = synthetic_scenes(2, size=128, seed=21, min_instances=2, max_instances=3, min_area=300)
    ds = SceneDataset(scenes, cfg.NUM_CLASSES)
    model = MaskRCNN("training", cfg, tmp_path)
    start = time.time()
    hist = model.train(
        ds, None, LEARNING_RATE, epochs=EPOCHS, layers="all", steps_per_epoch=STEPS, verbose=0
    )
    losses = hist.history["loss"]
    print(f"overfit: {time.time() - start:.0f}s, loss per epoch {np.round(losses, 3).tolist()}")
    assert losses[-1] <= 0.3 * losses[0], losses

    infer = MaskRCNN("inference", cfg.replace(IMAGES_PER_GPU=1), tmp_path)
    infer.load_weights(model.find_last())
    results = infer.detect([s[0] for s in scenes])
    matched_mask_ious = []
    for (_image, masks, class_ids), r in zip(scenes, results):
        described = (
            f"detections {r['rois'].tolist()} classes {r['class_ids'].tolist()} "
            f"scores {np.round(r['scores'], 2).tolist()}"
        )
        assert len(r["class_ids"]) <= len(class_ids) + EXTRA_DETECTIONS, (
            f"{len(class_ids)} instances but {len(r['class_ids'])} detections; {described}"
        )
        gt = extract_bboxes(masks)
        iou = (
            box_iou_np(gt.astype(np.float32), r["rois"].astype(np.float32))
            if len(r["rois"])
            else np.zeros((len(gt), 0))
        )
        mask_iou = compute_overlaps_masks(masks, r["masks"])  # [G, D]
        for g in range(len(gt)):
            hits = [
                d
                for d in range(len(r["rois"]))
                if iou[g, d] >= 0.5 and r["class_ids"][d] == class_ids[g]
            ]
            assert hits, (
                f"instance {g} (class {class_ids[g]}, box {gt[g].tolist()}) not found; {described}"
            )
            best = max(hits, key=lambda d: iou[g, d])
            matched_mask_ious.append(round(float(mask_iou[g, best]), 2))
            assert mask_iou[g, best] >= MIN_MASK_IOU, (
                f"instance {g} (class {class_ids[g]}): mask IoU {mask_iou[g, best]:.2f} with its "
                f"detection {r['rois'][best].tolist()} < {MIN_MASK_IOU}"
            )
    print(
        f"overfit: detections {[len(r['class_ids']) for r in results]} for "
        f"{[len(s[2]) for s in scenes]} instances; matched mask IoU {matched_mask_ious}"
    )
