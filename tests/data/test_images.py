"""Image IO: every PIL mode a photo collection contains, EXIF rotation, bad files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fashion_mrcnn.data import images
from fashion_mrcnn.data.images import check_image, image_size, load_rgb
from fashion_mrcnn.errors import FashionDataError

H, W = 6, 10


def _rgb() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)


def _check(arr: np.ndarray, shape=(H, W)) -> None:
    assert arr.dtype == np.uint8
    assert arr.shape == (*shape, 3)
    assert arr.flags.c_contiguous


def test_rgb_png_exact(tmp_path):
    src = _rgb()
    Image.fromarray(src).save(tmp_path / "a.png")
    out = load_rgb(tmp_path / "a.png")
    _check(out)
    np.testing.assert_array_equal(out, src)
    assert image_size(tmp_path / "a.png") == (H, W)


def test_grayscale_and_bilevel(tmp_path):
    gray = np.arange(H * W, dtype=np.uint8).reshape(H, W) * 4
    Image.fromarray(gray).save(tmp_path / "g.png")
    out = load_rgb(tmp_path / "g.png")
    _check(out)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], gray)
    Image.fromarray(gray > 100).convert("1").save(tmp_path / "b.png")
    out = load_rgb(tmp_path / "b.png")
    _check(out)
    assert set(np.unique(out)) <= {0, 255}


def test_rgba_composited_on_white(tmp_path):
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, : W // 2, 3] = 255  # left half opaque red-ish, right half fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = load_rgb(tmp_path / "a.png")
    _check(out)
    np.testing.assert_array_equal(out[:, : W // 2], np.broadcast_to([200, 0, 0], (H, W // 2, 3)))
    np.testing.assert_array_equal(out[:, W // 2 :], 255)
    la = Image.fromarray(rgba[..., [0, 3]], "LA")
    la.save(tmp_path / "la.png")
    out = load_rgb(tmp_path / "la.png")
    _check(out)
    np.testing.assert_array_equal(out[:, W // 2 :], 255)


def test_palette_with_and_without_transparency(tmp_path):
    img = Image.fromarray(_rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    img.save(tmp_path / "p.png")
    out = load_rgb(tmp_path / "p.png")
    _check(out)
    np.testing.assert_array_equal(out, np.asarray(img.convert("RGB")))
    img.info["transparency"] = 0
    img.save(tmp_path / "pt.png", transparency=0)
    out = load_rgb(tmp_path / "pt.png")
    _check(out)
    idx = np.asarray(Image.open(tmp_path / "pt.png"))
    assert (out[idx == 0] == 255).all()


def test_cmyk_jpeg(tmp_path):
    Image.fromarray(_rgb()).convert("CMYK").save(tmp_path / "c.jpg")
    assert Image.open(tmp_path / "c.jpg").mode == "CMYK"
    _check(load_rgb(tmp_path / "c.jpg"))


def test_16bit_gray(tmp_path):
    arr = (np.arange(H * W, dtype=np.uint16).reshape(H, W) * 1000).astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "d.png")
    out = load_rgb(tmp_path / "d.png")
    _check(out)
    np.testing.assert_array_equal(out[:, :, 0], np.round(arr / 257.0).astype(np.uint8))


def test_float_image(tmp_path):
    arr = np.linspace(0, 1, H * W, dtype=np.float32).reshape(H, W)
    Image.fromarray(arr, "F").save(tmp_path / "f.tiff")
    out = load_rgb(tmp_path / "f.tiff")
    _check(out)
    assert out[0, 0, 0] == 0 and out[-1, -1, 0] == 255


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_exif_orientation(tmp_path, orientation):
    src = _rgb()
    img = Image.fromarray(src)
    exif = img.getexif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    img.save(path, exif=exif, quality=100)
    out = load_rgb(path)
    rotated = orientation in (6, 8)
    shape = (W, H) if rotated else (H, W)
    _check(out, shape)
    assert image_size(path) == shape
    stored = np.asarray(Image.open(path).convert("RGB")).astype(int)
    expected = {1: stored, 3: stored[::-1, ::-1], 6: np.rot90(stored, -1), 8: np.rot90(stored)}
    np.testing.assert_array_equal(out, expected[orientation])


def test_missing_file(tmp_path):
    with pytest.raises(FashionDataError, match="nope.jpg.*not found"):
        load_rgb(tmp_path / "nope.jpg")
    with pytest.raises(FashionDataError, match="nope.jpg"):
        image_size(tmp_path / "nope.jpg")


def test_corrupt_and_truncated_files(tmp_path):
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"this is not an image")
    with pytest.raises(FashionDataError, match="junk.jpg"):
        load_rgb(junk)
    with pytest.raises(FashionDataError, match="junk.jpg"):
        image_size(junk)
    good = tmp_path / "good.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), np.uint8)).save(good)
    truncated = tmp_path / "trunc.jpg"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(FashionDataError, match="trunc.jpg"):
        load_rgb(truncated)


def test_directory_is_not_an_image(tmp_path):
    with pytest.raises(FashionDataError, match="directory"):
        load_rgb(tmp_path)


def _png_header(path, width: int, height: int) -> None:
    """A PNG that announces ``width x height`` (8-bit gray) with a tiny, incomplete pixel stream:
    what a decompression bomb's header looks like, without allocating anything."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat))


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (12_000, 9_000),  # 108 MP: over our 100 MP limit, PIL only warns (> 89.5 MP)
        (20_000, 20_000),  # 400 MP: PIL raises DecompressionBombError (> 179 MP)
    ],
)
def test_decompression_bomb_is_a_named_data_error(tmp_path, width, height):
    import warnings

    bomb = tmp_path / "bomb.png"
    _png_header(bomb, width, height)
    for read in (load_rgb, image_size, check_image):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # PIL's DecompressionBombWarning must not leak
            with pytest.raises(FashionDataError, match=r"bomb\.png: image too large") as info:
                read(bomb)
        assert "100,000,000 pixel limit" in str(info.value)
    assert images.MAX_IMAGE_PIXELS == 100_000_000


def test_image_just_under_the_pixel_limit_opens(tmp_path):
    big = tmp_path / "big.png"
    _png_header(big, 10_000, 10_000)  # exactly 100 MP: allowed (PIL would warn)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert image_size(big) == (10_000, 10_000)


def _jpeg(path, shape=(64, 48), **kwargs):
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (*shape, 3), np.uint8)).save(path, **kwargs)
    return path


@pytest.mark.parametrize("progressive", [False, True])
def test_check_image_finds_truncation_anywhere(tmp_path, progressive):
    good = _jpeg(tmp_path / "good.jpg", progressive=progressive)
    check_image(good, 64, 48)
    data = good.read_bytes()
    for cut in (0, 200, len(data) // 2, len(data) - 2):  # zero bytes ... only the end marker lost
        bad = tmp_path / f"cut{cut}.jpg"
        bad.write_bytes(data[:cut])
        with pytest.raises(FashionDataError, match=rf"cut{cut}\.jpg: cannot (read|decode)"):
            check_image(bad, 64, 48)
    png = tmp_path / "cut.png"
    Image.fromarray(np.zeros((64, 48, 3), np.uint8)).save(tmp_path / "full.png")
    png.write_bytes((tmp_path / "full.png").read_bytes()[:60])
    with pytest.raises(FashionDataError, match=r"cut\.png: cannot (read|decode)"):
        check_image(png)


def test_check_image_size_against_annotation_after_exif_rotation(tmp_path):
    plain = _jpeg(tmp_path / "plain.jpg")
    with pytest.raises(FashionDataError, match=r"plain\.jpg: file is 64x48 \(HxW\) but the "
                       r"annotation says 48x64"):  # fmt: skip
        check_image(plain, 48, 64)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: displayed 48x64
    rotated = _jpeg(tmp_path / "rotated.jpg", exif=exif.tobytes())
    check_image(rotated, 48, 64)
    with pytest.raises(FashionDataError, match="rotated.jpg: file is 48x64"):
        check_image(rotated, 64, 48)
    check_image(plain)  # no size given: only readability
