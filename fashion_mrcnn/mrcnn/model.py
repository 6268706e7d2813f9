"""Matterport's ``mrcnn.model`` (imported as ``modellib``) over this project's engine.

``MaskRCNN`` is :class:`fashion_mrcnn.model.maskrcnn.MaskRCNN` (same constructor, ``train``,
``detect``, ``load_weights(path, by_name=True, exclude=[...])``, ``find_last``,
``set_trainable``, ``keras_model``). ``mold_image``, ``unmold_image``, ``compose_image_meta`` and
``parse_image_meta`` are the ones of :mod:`fashion_mrcnn.ops.image` with Matterport's arguments.

Adapted here: :func:`load_image_gt` (the project's returns a sixth value and follows
``config.USE_MINI_MASK``; Matterport's takes ``use_mini_mask`` and returns five).

:func:`log` is Matterport's array summary (name, shape, min, max, dtype on one line).
``model.keras_model.save_weights("mask_rcnn_shapes.h5")`` works: a plain ``.h5`` is written in
the Keras 2 layout by layer name (``model.weights.accept_plain_h5``), which ``load_weights``
reads back; Keras 3 alone accepts only ``.weights.h5`` names there.

Differences a port meets: ``train(..., augmentation=...)`` takes the project's augmentation
callable (``fashion_mrcnn.data.augment``), not an imgaug augmenter; Matterport's
``data_generator`` does not exist (training feeds a ``tf.data`` pipeline).
"""

from __future__ import annotations

import numpy as np

from fashion_mrcnn.data.pipeline import load_image_gt as _load_image_gt
from fashion_mrcnn.model.maskrcnn import MaskRCNN
from fashion_mrcnn.ops.image import compose_image_meta, mold_image, parse_image_meta, unmold_image

__all__ = [
    "MaskRCNN",
    "log",
    "load_image_gt",
    "mold_image",
    "unmold_image",
    "compose_image_meta",
    "parse_image_meta",
]


def load_image_gt(dataset, config, image_id, augment=False, augmentation=None, use_mini_mask=False):
    """Matterport's ``load_image_gt``: one image resized as the model sees it, with its targets.

    Returns ``(image, image_meta, class_ids, bbox, mask)``: image uint8 [H, W, 3] (resized and
    padded, not molded); image_meta float32 [IMAGE_META_SIZE]; class_ids int32 [N]; bbox int32
    [N, (y1, x1, y2, x2)] pixels of the resized image, y2/x2 exclusive; mask bool [H, W, N], or
    [mh, mw, N] mini masks (MINI_MASK_SHAPE) when ``use_mini_mask`` is True.

    Differs from :func:`fashion_mrcnn.data.pipeline.load_image_gt`, which it calls: the
    mini-mask choice is this argument (default False, as in Matterport) instead of
    ``config.USE_MINI_MASK``, and the box-only flags (its sixth value) are dropped.
    ``augmentation`` is the project's augmentation callable. Matterport's deprecated
    ``augment=True`` (a random left-right flip) is refused with a ValueError: pass
    ``augmentation=fashion_mrcnn.data.augment.default_augmentation()`` instead.
    """
    if augment:
        raise ValueError(
            "load_image_gt(augment=True) is Matterport's deprecated flip flag and is not "
            "supported: pass augmentation=fashion_mrcnn.data.augment.default_augmentation()"
        )
    if bool(config.USE_MINI_MASK) != bool(use_mini_mask):
        config = config.replace(USE_MINI_MASK=bool(use_mini_mask))
    image, meta, class_ids, boxes, masks, _mask_valid = _load_image_gt(
        dataset, config, image_id, augmentation=augmentation
    )
    return image, meta, class_ids, boxes, masks


def log(text: str, array=None) -> None:
    """Print ``text``; with an ``array``, its shape, min, max and dtype on the same line.

    ``array``: anything ``np.asarray`` takes (a NumPy array, a tf tensor, a list). The columns
    line up as in Matterport's notebooks: the name padded to 25 characters, the shape to 20,
    min and max with 5 decimals. An empty array (or one of a non-numeric dtype) shows no min /
    max. Example: ``log("gt_mask", gt_mask)`` prints
    ``gt_mask                  shape: (64, 64, 2)           min:    0.00000  max:    1.00000  bool``.
    """
    if array is None:
        print(text)
        return
    a = np.asarray(array)
    numeric = a.dtype.kind in "biuf"
    low, high = (
        (f"{float(a.min()):10.5f}", f"{float(a.max()):10.5f}") if a.size and numeric else ("", "")
    )
    print(f"{text:<25}shape: {str(a.shape):<20}  min: {low:>10}  max: {high:>10}  {a.dtype}")
