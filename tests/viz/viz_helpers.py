"""Shared pieces of the viz tests: a small scene and a PNG check."""

import numpy as np
from PIL import Image

CLASS_NAMES = ["BG", "dress", "skirt", "shoe"]


def scene():
    """A 60 x 80 image with three instances: (image, boxes, masks, class ids, scores)."""
    image = np.full((60, 80, 3), 230, np.uint8)
    masks = np.zeros((60, 80, 3), bool)
    masks[5:40, 10:40, 0] = True
    masks[30:55, 45:75, 1] = True
    masks[50:58, 5:20, 2] = True
    boxes = np.array([[5, 10, 40, 40], [30, 45, 55, 75], [50, 5, 58, 20]], np.int32)
    return image, boxes, masks, np.array([1, 2, 3]), np.array([0.95, 0.7, 0.5])


def png_ok(path):
    """Read a written PNG and check it is a real picture (not blank); return its pixels."""
    im = np.asarray(Image.open(path))
    assert im.ndim == 3 and im.shape[0] > 50 and im.shape[1] > 50
    assert im.reshape(-1, im.shape[2]).std(axis=0).max() > 5  # not a blank canvas
    return im
