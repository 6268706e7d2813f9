"""The mapping between an original image and the molded image the model sees, both directions.

Molding (Matterport's word): resize the original keeping its aspect ratio, zero-pad it (or crop
it) to the model's input size with :func:`ops.image.resize_image`, then subtract the mean pixel
(:func:`ops.image.mold_image`). Three numbers describe where the original went: ``window``
``(y1, x1, y2, x2)``, int pixels of the resized original inside the molded image (y2/x2
exclusive); ``scale``, molded pixels per original pixel; and the molded shape ``(h, w[, C])``.

Forward (original -> molded):

- :func:`mold`: one image, resized, padded and mean-subtracted; :func:`mold_inputs`: a batch of
  them with their image meta rows (what ``MaskRCNN.detect`` feeds the graph);
- :func:`resize_image_and_masks`: an image and its instance masks into the molded frame, not
  mean-subtracted (the training pipeline and the shard cache);
- :func:`boxes_to_molded`: original pixel boxes -> normalised boxes of the molded image (the
  app pools RoI features for them).

Inverse (molded -> original):

- :func:`unmold_detections`: the inference graph's detections (normalised boxes of the molded
  image) and mask-head output -> pixel boxes and full-size masks of the original, through
  :func:`unmold_boxes` and :func:`paste_masks`; :func:`unmold_instances` is its first half
  (boxes, classes, scores, small masks and the kept rows), which a caller pastes once into
  binary masks (:func:`paste_masks`) and soft masks (:func:`paste_soft_masks`, uint8 levels,
  ``ops.masks`` says why uint8);
- :func:`restore_boxes` / :func:`restore_masks`: pixel boxes / masks on a resized image (the
  cache's) -> the original image.

Coordinates: boxes are ``[N, (y1, x1, y2, x2)]``. Pixel boxes have y2/x2 exclusive. Normalised
boxes use Matterport's shift convention of ``ops.boxes.norm_boxes`` (``(y1, x1, y2 - 1, x2 - 1)
/ (h - 1, w - 1)``) of the molded image, as every box inside the graph. The two inverses keep
their own conventions: :func:`unmold_boxes` works in normalised coordinates and rounds to int
pixels (as Matterport's ``unmold_detections``); :func:`restore_boxes` divides pixel coordinates by
``scale`` and clips, in float. The "crop" resize mode (training only) keeps no crop offset in
``window``, so its results cannot be mapped back.

:mod:`fashion_mrcnn.ops.transform_tf` holds the TensorFlow twins (the serving graph's).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fashion_mrcnn.ops.boxes import denorm_boxes, norm_boxes
from fashion_mrcnn.ops.image import (
    compose_image_meta,
    mold_image,
    resize_image,
    resize_mask,
    resize_masks_nearest,
)
from fashion_mrcnn.ops.masks import unmold_mask, unmold_soft_mask

__all__ = [
    "mold",
    "mold_inputs",
    "resize_image_and_masks",
    "boxes_to_molded",
    "unmold_boxes",
    "paste_masks",
    "paste_soft_masks",
    "unmold_instances",
    "kept_detection_rows",
    "unmold_detections",
    "restore_boxes",
    "restore_masks",
]


# ---------------------------------------------------------------------------- forward
def mold(
    image: np.ndarray,
    *,
    min_dim: int | None,
    max_dim: int | None,
    min_scale: float | None,
    mode: str,
    mean_pixel,
    rng: np.random.Generator | None = None,
):
    """Mold one image for the model: resize and pad (or crop), then subtract the mean pixel.

    image: [H, W, C] (uint8 RGB); ``min_dim`` / ``max_dim`` / ``min_scale`` / ``mode`` (/ ``rng``
    for "crop") as in :func:`ops.image.resize_image`; mean_pixel: [C].

    Returns ``(molded float32 [h, w, C], window (y1, x1, y2, x2) int pixels of the resized image
    inside the molded one, scale float, padding [(top, bottom), (left, right), (0, 0)], crop
    (y, x, h, w) or None)``.
    """
    resized, window, scale, padding, crop = resize_image(
        image, min_dim=min_dim, max_dim=max_dim, min_scale=min_scale, mode=mode, rng=rng
    )
    return mold_image(resized, mean_pixel), window, scale, padding, crop


def mold_inputs(
    images,
    *,
    min_dim: int | None,
    max_dim: int | None,
    min_scale: float | None,
    mode: str,
    mean_pixel,
    num_classes: int,
):
    """Mold a batch of images (Matterport's ``MaskRCNN.mold_inputs`` with plain arguments).

    images: list of uint8 [H, W, 3] RGB images (sizes may differ); the resize arguments and
    mean_pixel [3] as in :func:`mold`; num_classes: NUM_CLASSES (the meta rows' active-class
    flags, all 0 here).

    Returns ``(molded float32 [N, h, w, 3], image_metas float32 [N, 12 + num_classes]
    (``ops.image.compose_image_meta``, image id 0), windows int [N, (y1, x1, y2, x2)] pixels of
    each image inside its molded one)``. ValueError for an image that is not [H, W, 3], or when
    the molded shapes differ (only "square" makes every size the same).
    """
    molded, metas, windows = [], [], []
    for image in images:
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"detect expects RGB images [H, W, 3], got shape {image.shape}")
        one, window, scale, _, _ = mold(
            image,
            min_dim=min_dim,
            max_dim=max_dim,
            min_scale=min_scale,
            mode=mode,
            mean_pixel=mean_pixel,
        )
        meta = compose_image_meta(
            0, image.shape, one.shape, window, scale, np.zeros(num_classes, dtype=np.int32)
        )
        molded.append(one)
        metas.append(meta)
        windows.append(window)
    shapes = {m.shape for m in molded}
    if len(shapes) > 1:
        raise ValueError(f"molded images differ in shape {shapes}; use a square resize mode")
    return (
        np.stack(molded).astype(np.float32),
        np.stack(metas).astype(np.float32),
        np.stack(windows),
    )


def resize_image_and_masks(
    image: np.ndarray,
    masks: np.ndarray,
    *,
    min_dim: int | None,
    max_dim: int | None,
    min_scale: float | None = None,
    mode: str = "square",
    rng: np.random.Generator | None = None,
):
    """An image and its instance masks into the molded frame (resized and padded / cropped as
    :func:`mold` does, not mean-subtracted).

    image: [H, W, C] (uint8 stays uint8); masks: bool [H, W, N] (N may be 0); the resize
    arguments as in :func:`ops.image.resize_image` (``rng`` picks the "crop" mode's crop).

    Returns ``(image [h, w, C], masks bool [h, w, N], window (y1, x1, y2, x2) int pixels of the
    resized image inside the result, scale float)``. Masks follow the image's scale, padding and
    crop (nearest neighbour, ``ops.image.resize_mask``); take their boxes with
    ``ops.boxes.extract_bboxes``.
    """
    resized, window, scale, padding, crop = resize_image(
        image, min_dim=min_dim, max_dim=max_dim, min_scale=min_scale, mode=mode, rng=rng
    )
    masks = resize_mask(masks, scale, padding, crop)
    return resized, masks, tuple(int(v) for v in window), float(scale)


def boxes_to_molded(
    boxes: np.ndarray, original_shape: Sequence[int], molded_shape: Sequence[int], window
) -> np.ndarray:
    """Pixel boxes of the original image -> normalised boxes of the molded image.

    boxes: [N, (y1, x1, y2, x2)] pixels of the original (y2/x2 exclusive); original_shape:
    (H, W[, C]); molded_shape: (h, w[, C]); window: (y1, x1, y2, x2) pixels of the image inside
    the molded one. Returns float32 [N, (y1, x1, y2, x2)] normalised (``ops.boxes.norm_boxes``
    convention) of the molded image. The inverse of :func:`unmold_boxes` up to its rounding. An
    original side of 1 px (``norm_boxes`` keeps it finite) maps onto the window's whole side.
    """
    inner = norm_boxes(np.asarray(boxes, np.float32), original_shape)
    wy1, wx1, wy2, wx2 = norm_boxes(np.asarray(window, np.float32), molded_shape)
    scale = np.array([wy2 - wy1, wx2 - wx1, wy2 - wy1, wx2 - wx1], np.float32)
    return inner * scale + np.array([wy1, wx1, wy1, wx1], np.float32)


# ---------------------------------------------------------------------------- inverse
def unmold_boxes(
    boxes: np.ndarray, original_shape: Sequence[int], molded_shape: Sequence[int], window
) -> np.ndarray:
    """Normalised boxes of the molded image -> pixel boxes of the original image.

    boxes: float [N, (y1, x1, y2, x2)] normalised (``ops.boxes.norm_boxes`` convention) of the
    molded image; original_shape: (H, W[, C]); molded_shape: (h, w[, C]); window: (y1, x1, y2,
    x2) pixels of the image inside the molded one. Returns int32 [N, (y1, x1, y2, x2)] pixels of
    the original (y2/x2 exclusive), rounded, not clipped: a box reaching into the padding comes
    back past the image's edge. A side the resize squeezed into one pixel (window height or width
    1 px: an extreme aspect ratio) has no extent to scale by; there every box (the graph clips
    detections to the window, so they lie on that pixel) spans the original's whole side.
    """
    wy1, wx1, wy2, wx2 = norm_boxes(np.asarray(window, dtype=np.float32), molded_shape[:2])
    extent = np.array([wy2 - wy1, wx2 - wx1, wy2 - wy1, wx2 - wx1])
    flat = extent == 0  # a 1 px side: (y2 - 1) - y1 = 0 in the norm_boxes convention
    boxes = (boxes - np.array([wy1, wx1, wy1, wx1])) / np.where(flat, 1, extent)
    if flat.any():
        boxes = np.where(flat, np.array([0, 0, 1, 1], np.float32), boxes)  # 0 .. 1: whole side
    return denorm_boxes(boxes, original_shape[:2])


def paste_masks(
    masks: np.ndarray, boxes: np.ndarray, original_shape: Sequence[int], threshold: float
) -> np.ndarray:
    """Paste the mask head's small masks into full-size masks of the original image.

    masks: float [N, mh, mw] probabilities (each detection's mask for its class); boxes: int
    [N, (y1, x1, y2, x2)] pixels of the original (y2/x2 exclusive; clipped to it);
    original_shape: (H, W[, C]). Each mask is resized bilinearly to its box and thresholded at
    ``threshold`` (``ops.masks.unmold_mask``). Returns bool [H, W, N].
    """
    h, w = int(original_shape[0]), int(original_shape[1])
    full = np.zeros((h, w, len(boxes)), dtype=bool)
    for i in range(len(boxes)):
        full[:, :, i] = unmold_mask(masks[i], boxes[i], (h, w), threshold=threshold)
    return full


def paste_soft_masks(
    masks: np.ndarray, boxes: np.ndarray, original_shape: Sequence[int]
) -> np.ndarray:
    """:func:`paste_masks` before the threshold (same arguments but ``threshold``): each mask
    resized bilinearly to its box and quantised (``ops.masks.unmold_soft_mask``). Returns uint8
    [H, W, N] soft-mask levels (``ops.masks.SOFT_MASK_LEVELS``), 0 outside each box."""
    h, w = int(original_shape[0]), int(original_shape[1])
    full = np.zeros((h, w, len(boxes)), dtype=np.uint8)
    for i in range(len(boxes)):
        full[:, :, i] = unmold_soft_mask(masks[i], boxes[i], (h, w))
    return full


def unmold_instances(
    detections: np.ndarray,
    mrcnn_mask: np.ndarray,
    original_image_shape: Sequence[int],
    image_shape: Sequence[int],
    window,
    min_confidence: float,
    *,
    with_rows: bool = False,
):
    """One image's raw inference outputs -> its instances on the original image, each mask
    still the mask head's small probability map (:func:`unmold_detections` pastes them).

    detections: float [D, (y1, x1, y2, x2, class_id, score)], boxes normalised of the molded
    image, zero-padded rows (class 0); mrcnn_mask: float [D, MH, MW, NUM_CLASSES];
    original_image_shape: (H, W[, C]); image_shape: the molded shape (h, w[, C]); window: (y1,
    x1, y2, x2) pixels of the image inside the molded one. Rows of class 0 or with a score below
    ``min_confidence`` are dropped, and so are boxes left without height or width once mapped
    back.

    Returns ``(boxes int32 [N, (y1, x1, y2, x2)] pixels of the original (y2/x2 exclusive),
    class_ids int32 [N], scores float32 [N], masks float32 [N, MH, MW] for each one's class)``;
    with ``with_rows``, a fifth element: the kept rows of ``detections``, int64 [N]
    (:func:`kept_detection_rows`), which per-detection outputs beside ``detections`` (the
    attribute head's) follow.
    """
    rows = kept_detection_rows(
        detections, original_image_shape, image_shape, window, min_confidence
    )
    class_ids = detections[rows, 4].astype(np.int32)
    masks = mrcnn_mask[rows, :, :, class_ids].astype(np.float32)  # [N, MH, MW]
    boxes = unmold_boxes(detections[rows, :4], original_image_shape, image_shape, window)
    found = (boxes.astype(np.int32), class_ids, detections[rows, 5].astype(np.float32), masks)
    return (*found, rows) if with_rows else found


def kept_detection_rows(
    detections: np.ndarray, original_image_shape, image_shape, window, min_confidence: float
) -> np.ndarray:
    """int64 [N]: the rows of ``detections`` that :func:`unmold_instances` keeps, in its order
    (same arguments): class > 0, score >= ``min_confidence``, a box with height and width once
    mapped back. Per-detection outputs beside ``detections`` (the attribute head's) follow them.
    """
    class_ids = detections[:, 4].astype(np.int32)
    scores = detections[:, 5].astype(np.float32)
    keep = np.flatnonzero((class_ids > 0) & (scores >= min_confidence))
    boxes = unmold_boxes(detections[keep, :4], original_image_shape, image_shape, window)
    return keep[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]


def unmold_detections(
    detections: np.ndarray,
    mrcnn_mask: np.ndarray,
    original_image_shape: Sequence[int],
    image_shape: Sequence[int],
    window,
    min_confidence: float,
    mask_threshold: float,
):
    """:func:`unmold_instances` with the masks pasted at the original size and thresholded at
    ``mask_threshold`` (same arguments).

    Returns ``(boxes int32 [N, (y1, x1, y2, x2)] pixels of the original (y2/x2 exclusive),
    class_ids int32 [N], scores float32 [N], masks bool [H, W, N])``.
    """
    boxes, class_ids, scores, masks = unmold_instances(
        detections, mrcnn_mask, original_image_shape, image_shape, window, min_confidence
    )
    full = paste_masks(masks, boxes, original_image_shape, mask_threshold)
    return boxes, class_ids, scores, full


def restore_boxes(boxes: np.ndarray, window, scale: float, original_shape) -> np.ndarray:
    """Map pixel boxes of a resized image (the cache's) back to the original image.

    Args:
        boxes: [N, (y1, x1, y2, x2)] pixels of the resized image (y2 / x2 exclusive).
        window: ``(y1, x1, y2, x2)`` of the image inside the resized one. scale: resize scale.
        original_shape: ``(H, W)`` of the original image.

    Returns:
        float64 [N, (y1, x1, y2, x2)] original-image pixels, clipped to the image.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    shift = np.array([window[0], window[1], window[0], window[1]], dtype=np.float64)
    out = (boxes - shift) / float(scale)
    h, w = original_shape[:2]
    return np.clip(out, 0, [h, w, h, w])


def restore_masks(masks: np.ndarray, window, original_shape) -> np.ndarray:
    """Map masks of a resized image (the cache's) back to the original size.

    Args:
        masks: bool [h, w, N] on the resized image. window: ``(y1, x1, y2, x2)`` of the image
            inside it. original_shape: ``(H, W)``.

    Returns:
        bool [H, W, N]: the window cropped out and resized (nearest neighbour) to ``(H, W)``.
    """
    y1, x1, y2, x2 = (int(v) for v in window)
    crop = np.asarray(masks)[y1:y2, x1:x2]
    return resize_masks_nearest(crop, (int(original_shape[0]), int(original_shape[1])))
