"""ops.image: Matterport resize semantics, mask resizing in step with images, molding, meta."""

import numpy as np
import pytest

from fashion_mrcnn.ops import image as I


@pytest.fixture
def photo():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (300, 200, 3), dtype=np.uint8)


def test_square_mode(photo):
    img, window, scale, padding, crop = I.resize_image(photo, 256, 512, mode="square")
    assert img.shape == (512, 512, 3) and img.dtype == np.uint8
    # min side 200 -> 256 would give long side 384 <= 512: scale = 1.28
    assert scale == pytest.approx(1.28)
    y1, x1, y2, x2 = window
    assert (y2 - y1, x2 - x1) == (384, 256)
    assert padding[0] == (64, 64) and padding[1] == (128, 128) and crop is None
    assert img[:y1].max() == 0 and img[:, x2:].max() == 0
    assert img[y1:y2, x1:x2].max() > 0


def test_square_caps_long_side(photo):
    img, window, scale, _, _ = I.resize_image(photo, 256, 320, mode="square")
    assert img.shape == (320, 320, 3)
    assert scale == pytest.approx(320 / 300)
    assert window[2] - window[0] == 320


def test_square_never_downscales_for_min_dim():
    small = np.ones((50, 40, 3), np.uint8)
    img, window, scale, _, _ = I.resize_image(small, 32, 64, mode="square")
    assert scale == 1.0 and img.shape == (64, 64, 3)  # short side already >= min_dim
    assert window == (7, 12, 57, 52)
    _, _, scale, _, _ = I.resize_image(small, 32, 48, mode="square")
    assert scale == pytest.approx(48 / 50)  # only max_dim shrinks an image


def test_pad64_and_none_and_crop(photo):
    img, window, scale, padding, _ = I.resize_image(photo, 64, None, mode="pad64")
    assert scale == 1.0 and img.shape == (320, 256, 3)
    assert window == (10, 28, 310, 228)
    with pytest.raises(ValueError, match="pad64"):
        I.resize_image(photo, 100, None, mode="pad64")
    same, window, scale, _, _ = I.resize_image(photo, mode="none")
    assert same is photo and window == (0, 0, 300, 200) and scale == 1.0
    rng = np.random.default_rng(5)
    img, window, scale, _, crop = I.resize_image(photo, 128, None, mode="crop", rng=rng)
    assert img.shape == (128, 128, 3) and window == (0, 0, 128, 128)
    y, x, h, w = crop
    np.testing.assert_array_equal(img, photo[y : y + 128, x : x + 128])
    with pytest.raises(ValueError, match="unknown mode"):
        I.resize_image(photo, mode="stretch")


@pytest.mark.parametrize("mode", ["square", "pad64", "crop", "none"])
def test_resize_mask_follows_image(photo, mode):
    masks = np.zeros((300, 200, 2), bool)
    masks[100:200, 50:150, 0] = True
    masks[:, :, 1] = photo[:, :, 0] > 128
    rng = np.random.default_rng(1)
    img, window, scale, padding, crop = I.resize_image(photo, 128, 256, mode=mode, rng=rng)
    out = I.resize_mask(masks, scale, padding, crop)
    assert out.shape == img.shape[:2] + (2,) and out.dtype == bool
    if crop is None:
        y1, x1, y2, x2 = window
        assert not out[:y1].any() and not out[y2:].any()
        # the square instance keeps its relative area
        frac = out[..., 0].sum() / ((y2 - y1) * (x2 - x1))
        assert frac == pytest.approx(100 * 100 / (300 * 200), rel=0.05)


def test_resize_mask_zero_instances_and_many_channels():
    out = I.resize_mask(np.zeros((30, 20, 0), bool), 2.0, [(1, 1), (0, 0), (0, 0)])
    assert out.shape == (62, 40, 0)
    many = np.zeros((10, 10, 600), bool)
    many[2:4, 2:4, 599] = True
    out = I.resize_mask(many, 2.0, [(0, 0), (0, 0), (0, 0)])
    assert out.shape == (20, 20, 600) and out[4:8, 4:8, 599].all() and out.sum() == 16


def test_mold_unmold():
    mean = np.array([123.7, 116.8, 103.9])
    img = np.random.default_rng(2).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    molded = I.mold_image(img, mean)
    assert molded.dtype == np.float32
    np.testing.assert_allclose(molded[0, 0], img[0, 0] - mean, rtol=1e-5)
    np.testing.assert_array_equal(I.unmold_image(molded, mean), img)

    class Cfg:
        MEAN_PIXEL = mean

    np.testing.assert_allclose(I.mold_image(img, Cfg), molded)


def test_image_meta_round_trip():
    meta = I.compose_image_meta(
        7, (300, 200, 3), (512, 512, 3), (64, 128, 448, 384), 1.28, [1, 1, 0, 1]
    )
    assert meta.shape == (16,) and meta.dtype == np.float32
    batch = np.stack([meta, meta])
    p = I.parse_image_meta(batch)
    assert p["image_id"].tolist() == [7, 7]
    np.testing.assert_array_equal(p["original_image_shape"][0], [300, 200, 3])
    np.testing.assert_array_equal(p["image_shape"][0], [512, 512, 3])
    np.testing.assert_array_equal(p["window"][1], [64, 128, 448, 384])
    assert p["scale"][0] == pytest.approx(1.28)
    np.testing.assert_array_equal(p["active_class_ids"][0], [1, 1, 0, 1])
    t = I.parse_image_meta_tf(batch)
    for key, value in p.items():
        np.testing.assert_allclose(t[key].numpy(), value, rtol=1e-6)


def test_downscaling_averages_fine_detail():
    stripes = np.zeros((400, 400, 3), np.uint8)
    stripes[::2] = 255  # one-pixel stripes alias badly under plain bilinear sampling
    img, _, scale, _, _ = I.resize_image(stripes, 0, 64, mode="square")
    assert scale == pytest.approx(0.16)
    assert img.dtype == np.uint8 and abs(float(img.mean()) - 127.5) < 3
    assert img.std() < 10


@pytest.mark.parametrize("shape", [(3000, 2), (2, 3000), (5000, 1)])
@pytest.mark.parametrize("max_dim", [64, 128, 1024])
def test_extreme_aspect_ratio_keeps_every_side_at_least_one_pixel(shape, max_dim):
    """A 3000x2 strip capped at 128 px would round its short side to 0 (cv2.error before)."""
    h, w = shape
    strip = np.full((h, w, 3), 200, np.uint8)
    img, window, scale, padding, _ = I.resize_image(strip, 32, max_dim, mode="square")
    assert img.shape == (max_dim, max_dim, 3)
    y1, x1, y2, x2 = window
    assert (y2 - y1, x2 - x1) == I.scaled_size(h, w, scale)
    assert min(y2 - y1, x2 - x1) >= 1 and max(y2 - y1, x2 - x1) == max_dim
    assert (img[y1:y2, x1:x2] == 200).all() and img.sum() == 200 * 3 * (y2 - y1) * (x2 - x1)
    masks = np.ones((h, w, 2), bool)
    out = I.resize_mask(masks, scale, padding)
    assert out.shape == (max_dim, max_dim, 2)
    assert out[y1:y2, x1:x2].all() and out.sum() == 2 * (y2 - y1) * (x2 - x1)


def test_scaled_size_rounds_and_floors_at_one():
    assert I.scaled_size(300, 200, 1.28) == (384, 256)
    assert I.scaled_size(3000, 2, 128 / 3000) == (128, 1)  # 2 * 0.0427 rounds to 0
    assert I.scaled_size(1, 1, 0.01) == (1, 1)


def test_resize_masks_nearest():
    m = np.zeros((4, 6, 1), dtype=bool)
    m[0:2, 0:3, 0] = True
    big = I.resize_masks_nearest(m, (8, 12))
    assert big.shape == (8, 12, 1) and big[:4, :6, 0].all() and big.sum() == 24
