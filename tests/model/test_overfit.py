"""The key proof the engine works: cpu-smoke overfits two synthetic images.

The total loss must drop by at least 70% and ``detect`` must then find every ground-truth
instance (box IoU >= 0.5, right class). A few minutes on a 2-core CPU.
"""

from __future__ import annotations

import time

import numpy as np
from engine_helpers import SceneDataset, smoke_config, synthetic_scenes

from fashion_mrcnn.ops.boxes import box_iou_np, extract_bboxes

EPOCHS = 12
STEPS = 10
LEARNING_RATE = 0.02


def test_overfit_two_synthetic_images(tmp_path):
    import keras

    from fashion_mrcnn.model.maskrcnn import MaskRCNN

    keras.utils.set_random_seed(0)
    cfg = smoke_config(
        IMAGES_PER_GPU=2, LEARNING_RATE=LEARNING_RATE, LR_WARMUP_STEPS=10, WEIGHT_DECAY=0.0
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
    for (_image, masks, class_ids), r in zip(scenes, results):
        gt = extract_bboxes(masks)
        iou = (
            box_iou_np(gt.astype(np.float32), r["rois"].astype(np.float32))
            if len(r["rois"])
            else np.zeros((len(gt), 0))
        )
        for g in range(len(gt)):
            hits = [
                d
                for d in range(len(r["rois"]))
                if iou[g, d] >= 0.5 and r["class_ids"][d] == class_ids[g]
            ]
            assert hits, (
                f"instance {g} (class {class_ids[g]}, box {gt[g].tolist()}) not found; "
                f"detections {r['rois'].tolist()} classes {r['class_ids'].tolist()} "
                f"scores {np.round(r['scores'], 2).tolist()}"
            )
