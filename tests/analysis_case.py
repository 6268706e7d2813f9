"""A hand-made evaluation case shared by the analysis tests and the viz tests that draw it."""

import numpy as np

from fashion_mrcnn.evaluation.matching import evaluate_dataset

NAMES = ["BG", "dress", "skirt", "shorts"]


def masks_from_boxes(h, w, boxes):
    """bool [h, w, N] with box k filled in mask k (boxes as (y1, x1, y2, x2))."""
    m = np.zeros((h, w, len(boxes)), dtype=bool)
    for k, (y1, x1, y2, x2) in enumerate(boxes):
        m[y1:y2, x1:x2, k] = True
    return m


class Tiny:
    """A minimal prepared dataset over given masks and class ids (gradient images)."""

    def __init__(self, masks, ids):
        self._m, self._ids = masks, ids
        self.image_ids = np.arange(len(masks))
        self.image_info = [{"id": f"im{i}"} for i in range(len(masks))]
        self.class_names = NAMES

    def load_mask(self, i):
        return self._m[i], np.asarray(self._ids[i], np.int32)

    def load_image(self, i):
        h, w = self._m[i].shape[:2]
        return np.tile(np.linspace(0, 255, w, dtype=np.uint8)[None, :, None], (h, 1, 3))


def prediction(masks, ids, scores):
    """A ``detect()`` dict for the given masks, class ids and scores."""
    from fashion_mrcnn.ops.boxes import extract_bboxes

    return {"rois": extract_bboxes(masks), "class_ids": np.array(ids),
            "scores": np.array(scores, np.float32), "masks": masks}  # fmt: skip


def analysis_case():
    """Two 100 x 100 images, their predictions and ``evaluate_dataset`` of them:
    ``(dataset, predictions, evaluation)``."""
    # image 0: dress (large, 60x60) predicted as skirt; skirt (medium) found; shorts (small) missed
    # image 1: dress (large) found; a spurious shorts prediction overlapping it by IoU 0.04
    gt0 = masks_from_boxes(100, 100, [(0, 0, 60, 60), (60, 60, 80, 80), (90, 0, 95, 5)])
    gt1 = masks_from_boxes(100, 100, [(0, 0, 100, 100)])
    ds = Tiny([gt0, gt1], [[1, 2, 3], [1]])
    preds = [
        prediction(
            masks_from_boxes(100, 100, [(0, 0, 60, 58), (60, 60, 80, 80)]), [2, 2], [0.9, 0.8]
        ),
        prediction(
            masks_from_boxes(100, 100, [(0, 0, 100, 100), (70, 70, 90, 90)]), [1, 3], [0.95, 0.3]
        ),
    ]
    return ds, preds, evaluate_dataset(preds, ds, keep_predictions=True)
