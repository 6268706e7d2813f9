"""Joint image / instance-mask augmentation (albumentations 2.x).

The contract (docs/DESIGN.md) every augmentation obeys, so the engine accepts any callable::

    aug(image=uint8 [H, W, 3], masks=bool [H, W, N], rng=np.random.Generator)
        -> (image uint8 [H', W', 3], masks bool [H', W', N'], keep int64 [N'])

``keep`` holds the indices (into the input's N) of the instances that survive, in order, so the
caller can subset class ids, box-only flags and attribute ids the same way. An instance whose mask
is emptied (cropped away, rotated out of the frame) is dropped. Boxes are not transformed here:
the caller recomputes them from the masks (``ops.boxes.extract_bboxes``).

Reproducibility: the albumentations seed is drawn from ``rng`` on every call, so the same
generator state gives the same output; the global ``random`` / ``np.random`` state is not used.
Geometric transforms resample masks with nearest neighbour and fill borders with 0.
"""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np

__all__ = ["Augmenter", "default_augmentation"]


def _check_inputs(image: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(image)
    masks = np.asarray(masks)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 [H, W, 3], got {image.dtype} {image.shape}")
    if masks.ndim != 3 or masks.shape[:2] != image.shape[:2]:
        raise ValueError(
            f"masks must be [H, W, N] with the image's H, W {image.shape[:2]}, got {masks.shape}"
        )
    return image, masks


class Augmenter:
    """Wrap an albumentations transform so it obeys the augmentation contract.

    Args:
        transform: an ``A.Compose`` (or a list of albumentations transforms, composed here).
        min_pixels: an instance keeps its place only with at least this many mask pixels left.

    Call: ``augmenter(image=uint8 [H, W, 3], masks=bool [H, W, N], rng=Generator)`` returns
    ``(image uint8 [H', W', 3], masks bool [H', W', N'], keep int64 [N'])``.
    """

    def __init__(self, transform, min_pixels: int = 1) -> None:
        if isinstance(transform, (list, tuple)):
            transform = A.Compose(list(transform))
        if not isinstance(transform, A.BaseCompose):
            raise TypeError(f"transform must be an albumentations Compose, got {type(transform)!r}")
        if min_pixels < 1:
            raise ValueError(f"min_pixels must be >= 1, got {min_pixels}")
        self.transform = transform
        self.min_pixels = int(min_pixels)

    def __repr__(self) -> str:
        return f"Augmenter({self.transform!r}, min_pixels={self.min_pixels})"

    def __call__(self, image, masks, rng: np.random.Generator):
        image, masks = _check_inputs(image, masks)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator, got {type(rng)!r}")
        n = masks.shape[-1]
        # albumentations wants masks as [N, H, W]; it cannot stack zero masks, so pass a dummy.
        stack = np.ascontiguousarray(np.moveaxis(masks.astype(np.uint8), -1, 0))
        if n == 0:
            stack = np.zeros((1, *masks.shape[:2]), dtype=np.uint8)
        self.transform.set_random_seed(int(rng.integers(0, 2**31 - 1)))
        out = self.transform(image=image, masks=stack)
        new_image = np.asarray(out["image"], dtype=np.uint8)
        new_masks = np.asarray(out["masks"])[:n] > 0  # [N, H', W']
        if new_masks.shape[0] != n:
            raise RuntimeError(f"transform returned {new_masks.shape[0]} masks for {n} inputs")
        area = new_masks.sum(axis=(1, 2))
        keep = np.flatnonzero(area >= self.min_pixels).astype(np.int64)
        new_masks = np.moveaxis(new_masks[keep], 0, -1)
        if n == 0:
            new_masks = np.zeros((*new_image.shape[:2], 0), dtype=bool)
        return new_image, np.ascontiguousarray(new_masks), keep


def default_augmentation(
    p: float = 0.5,
    crop: float = 0.2,
    rotate_limit: float = 10.0,
    flip: bool = True,
    photometric: bool = True,
    min_pixels: int = 1,
) -> Augmenter:
    """The standard fashion augmentation.

    Applied in order, each with probability ``p``: horizontal flip; a random crop removing up to
    ``crop`` of the width / height from each side, resized back to the input size (so H' = H and
    W' = W); a rotation by up to ``rotate_limit`` degrees (zero border, masks nearest neighbour);
    then one of sharpen / Gaussian blur (image only). ``crop=0`` or ``rotate_limit=0`` turns the
    step off.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    if not 0.0 <= crop < 0.5:
        raise ValueError(f"crop must be in [0, 0.5), got {crop}")
    if rotate_limit < 0:
        raise ValueError(f"rotate_limit must be >= 0, got {rotate_limit}")
    steps = []
    if flip:
        steps.append(A.HorizontalFlip(p=p))
    if crop > 0:
        steps.append(
            A.CropAndPad(
                percent=(-float(crop), 0.0),
                keep_size=True,
                sample_independently=True,
                interpolation=cv2.INTER_LINEAR,
                mask_interpolation=cv2.INTER_NEAREST,
                p=p,
            )
        )
    if rotate_limit > 0:
        steps.append(
            A.Rotate(
                limit=float(rotate_limit),
                interpolation=cv2.INTER_LINEAR,
                mask_interpolation=cv2.INTER_NEAREST,
                border_mode=cv2.BORDER_CONSTANT,
                fill=0,
                fill_mask=0,
                p=p,
            )
        )
    if photometric:
        steps.append(
            A.OneOf(
                [
                    A.Sharpen(alpha=(0.1, 0.4), lightness=(0.8, 1.0), p=1.0),
                    A.GaussianBlur(blur_limit=(3, 5), sigma_limit=(0.3, 1.5), p=1.0),
                ],
                p=p,
            )
        )
    return Augmenter(A.Compose(steps), min_pixels=min_pixels)
