"""Tests for fashion_mrcnn.data.augment: contract, mask / image consistency, seeding."""

import albumentations as A
import numpy as np
import pytest

from fashion_mrcnn.data.augment import Augmenter, default_augmentation


def _scene(h=64, w=80):
    """Image whose colours identify the instances: instance k is painted colour k."""
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=np.uint8)
    image = np.full((h, w, 3), 128, dtype=np.uint8)
    masks = np.zeros((h, w, 3), dtype=bool)
    masks[5:30, 4:30, 0] = True
    masks[20:60, 40:70, 1] = True
    masks[40:62, 8:30, 2] = True
    for k in range(3):
        image[masks[..., k]] = colours[k]
    return image, masks, colours


def test_flip_moves_masks_with_image():
    image, masks, colours = _scene()
    aug = Augmenter([A.HorizontalFlip(p=1.0)])
    out_image, out_masks, keep = aug(image=image, masks=masks, rng=np.random.default_rng(1))
    assert keep.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(out_masks, masks[:, ::-1])
    for k in range(3):
        assert (out_image[out_masks[..., k]] == colours[k]).all()


@pytest.mark.parametrize("seed", range(5))
def test_default_augmentation_keeps_colours_under_masks(seed):
    image, masks, colours = _scene()
    aug = default_augmentation(p=1.0, crop=0.2, rotate_limit=15, photometric=False)
    out_image, out_masks, keep = aug(image=image, masks=masks, rng=np.random.default_rng(seed))
    assert out_image.shape == image.shape and out_image.dtype == np.uint8
    assert out_masks.shape == (*image.shape[:2], len(keep)) and out_masks.dtype == bool
    assert not (out_masks[..., 0] == masks[..., 0]).all()  # something geometric happened
    for j, k in enumerate(keep):
        pixels = out_image[out_masks[..., j]].astype(int)
        close = np.abs(pixels - colours[k]).max(axis=1) < 60  # edges are interpolated
        assert close.mean() > 0.85


def test_crop_drops_instance_outside():
    h, w = 60, 60
    image = np.zeros((h, w, 3), np.uint8)
    masks = np.zeros((h, w, 2), bool)
    masks[0:2, 0:2, 0] = True  # a corner speck, removed whenever top or left is cropped
    masks[20:40, 20:40, 1] = True  # central, always survives
    aug = default_augmentation(p=1.0, crop=0.3, rotate_limit=0, flip=False, photometric=False)
    dropped = 0
    for seed in range(10):
        _, out_masks, keep = aug(image=image, masks=masks, rng=np.random.default_rng(seed))
        assert 1 in keep.tolist()
        assert out_masks.shape[-1] == len(keep)
        assert all(out_masks[..., j].any() for j in range(len(keep)))
        dropped += 0 not in keep.tolist()
    assert dropped >= 5


def test_reproducible_by_seed_and_varies_across_seeds():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    masks = rng.random((48, 64, 4)) > 0.5
    aug = default_augmentation(p=0.7)
    a = aug(image=image, masks=masks, rng=np.random.default_rng(42))
    b = aug(image=image, masks=masks, rng=np.random.default_rng(42))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    outs = [aug(image=image, masks=masks, rng=np.random.default_rng(s))[0] for s in range(6)]
    assert len({o.tobytes() for o in outs}) > 1


def test_zero_instances():
    image = np.full((32, 40, 3), 200, np.uint8)
    masks = np.zeros((32, 40, 0), bool)
    out_image, out_masks, keep = default_augmentation(p=1.0)(
        image=image, masks=masks, rng=np.random.default_rng(0)
    )
    assert out_image.shape == (32, 40, 3) and out_image.dtype == np.uint8
    assert out_masks.shape == (32, 40, 0) and out_masks.dtype == bool
    assert keep.shape == (0,)


def test_bad_inputs_raise():
    aug = default_augmentation()
    with pytest.raises(ValueError, match="uint8"):
        aug(image=np.zeros((4, 4, 3), np.float32), masks=np.zeros((4, 4, 0), bool),
            rng=np.random.default_rng(0))  # fmt: skip
    with pytest.raises(ValueError, match="H, W"):
        aug(image=np.zeros((4, 4, 3), np.uint8), masks=np.zeros((5, 4, 1), bool),
            rng=np.random.default_rng(0))  # fmt: skip
    with pytest.raises(TypeError, match="Generator"):
        aug(image=np.zeros((4, 4, 3), np.uint8), masks=np.zeros((4, 4, 1), bool), rng=0)
    with pytest.raises(ValueError, match="crop"):
        default_augmentation(crop=0.6)


def test_many_instances_match_single_instance_runs():
    """More masks than OpenCV's 128-channel limit; each mask moves exactly as it would alone."""
    rng = np.random.default_rng(7)
    image = rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
    masks = rng.random((40, 50, 200)) > 0.5
    aug = default_augmentation(p=1.0, crop=0.2, rotate_limit=10)
    out_image, out_masks, keep = aug(image=image, masks=masks, rng=np.random.default_rng(3))
    assert out_masks.shape == (40, 50, 200) and keep.tolist() == list(range(200))
    for k in (0, 127, 128, 199):
        one_image, one_mask, _ = aug(
            image=image, masks=masks[..., k : k + 1], rng=np.random.default_rng(3)
        )
        np.testing.assert_array_equal(one_image, out_image)
        np.testing.assert_array_equal(one_mask[..., 0], out_masks[..., k])
