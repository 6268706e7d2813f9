"""Matterport's ``mrcnn.model`` (imported as ``modellib``) over this project's engine.

``MaskRCNN`` is :class:`fashion_mrcnn.model.maskrcnn.MaskRCNN` (same constructor, ``train``,
``detect``, ``load_weights(path, by_name=True, exclude=[...])``, ``find_last``,
``set_trainable``, ``keras_model``). ``mold_image``, ``unmold_image``, ``compose_image_meta`` and
``parse_image_meta`` are the ones of :mod:`fashion_mrcnn.ops.image` with Matterport's arguments.

Adapted here: :func:`load_image_gt` (the project's returns a sixth value and follows
``config.USE_MINI_MASK``; Matterport's takes ``use_mini_mask`` and returns five).

Differences a port meets: ``train(..., augmentation=...)`` takes the project's augmentation
callable (``fashion_mrcnn.data.augment``), not an imgaug augmenter; Matterport's
``data_generator`` does not exist (training feeds a ``tf.data`` pipeline).
"""

from __future__ import annotations

from fashion_mrcnn.data.pipeline import load_image_gt as _load_image_gt
from fashion_mrcnn.model.maskrcnn import MaskRCNN
from fashion_mrcnn.ops.image import compose_image_meta, mold_image, parse_image_meta, unmold_image

__all__ = [
    "MaskRCNN",
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
