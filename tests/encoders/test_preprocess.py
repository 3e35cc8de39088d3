"""Preprocessing: any mode and size in, float32 [3, S, S] in the model's range out."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pictext.encoders.preprocess import (
    PreprocessConfig,
    normalize,
    normalize_batch,
    pad_square_resize,
    preprocess_image,
)

CFG = PreprocessConfig(image_size=32)
LOW, HIGH = (0 - 127) / 128, (255 - 127) / 128
WHITE = (255 - 127) / 128


def _rgba(width: int, height: int) -> Image.Image:
    arr = np.zeros((height, width, 4), np.uint8)
    arr[..., 0] = 200
    arr[..., 3] = 255
    arr[: height // 2, :, 3] = 0  # top half fully transparent
    return Image.fromarray(arr, "RGBA")


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (32, 32), "red"),
        Image.new("RGB", (7, 3), "blue"),
        Image.new("RGB", (1, 1), "green"),
        Image.new("RGB", (1000, 3), "black"),
        Image.new("L", (50, 40), 90),
        Image.new("1", (20, 20), 1),
        Image.new("LA", (20, 30), (10, 128)),
        Image.new("CMYK", (40, 20), (0, 255, 0, 0)),
        Image.new("I;16", (20, 20), 4000),
        Image.new("F", (9, 9), 3.5),
        Image.new("P", (33, 17), 3),
        _rgba(45, 61),
    ],
    ids=lambda im: f"{im.mode}-{im.size[0]}x{im.size[1]}",
)
def test_any_mode_and_size_gives_chw_float32_in_range(image: Image.Image) -> None:
    out = preprocess_image(image, CFG)
    assert out.shape == (3, 32, 32)
    assert out.dtype == np.float32
    assert out.flags.c_contiguous
    assert np.isfinite(out).all()
    assert out.min() >= LOW - 1e-6
    assert out.max() <= HIGH + 1e-6


def test_normalisation_is_x_minus_127_over_128() -> None:
    pixels = np.zeros((2, 2, 3), np.uint8)
    pixels[0, 0] = (0, 127, 255)
    out = normalize(pixels, CFG)
    assert out.shape == (3, 2, 2)
    np.testing.assert_allclose(out[:, 0, 0], [-127 / 128, 0.0, 1.0])


def test_wide_image_is_padded_white_above_and_below() -> None:
    pixels = pad_square_resize(Image.new("RGB", (64, 16), (255, 0, 0)), CFG)
    assert pixels.shape == (32, 32, 3)
    assert pixels.dtype == np.uint8
    # 64x16 -> 32x8, centred: rows 12..19 red, the rest white.
    assert (pixels[:12] == 255).all()
    assert (pixels[20:] == 255).all()
    assert (pixels[13:19, :, 0] == 255).all()
    assert (pixels[13:19, :, 1:] == 0).all()


def test_transparency_becomes_white() -> None:
    pixels = pad_square_resize(_rgba(32, 32), CFG)
    assert (pixels[:14] == 255).all()  # transparent top half
    np.testing.assert_array_equal(pixels[20:, :, 0], 200)
    np.testing.assert_array_equal(pixels[20:, :, 1:], 0)


def test_palette_transparency_becomes_white() -> None:
    image = Image.new("P", (16, 16), 1)
    image.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    image.info["transparency"] = 1
    assert (pad_square_resize(image, CFG) == 255).all()


def test_large_jpeg_is_drafted_and_close_to_full_decode() -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    big = Image.fromarray(base).resize((800, 600), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    big.save(buf, format="JPEG", quality=95)
    drafted = Image.open(io.BytesIO(buf.getvalue()))
    full = Image.open(io.BytesIO(buf.getvalue()))
    full.load()  # a loaded image is not drafted
    a = pad_square_resize(drafted, CFG).astype(int)
    b = pad_square_resize(full, CFG).astype(int)
    assert drafted.size[0] < 800  # draft decoded at reduced scale
    assert np.abs(a - b).mean() < 4.0


def test_empty_image_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty size"):
        pad_square_resize(Image.new("RGB", (0, 5)), CFG)


def test_batch_normalisation_equals_per_image() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    cfg = PreprocessConfig(32, mean=(1.0, 2.0, 3.0), std=(4.0, 5.0, 6.0))
    batch = normalize_batch(pixels, cfg)
    assert batch.shape == (4, 3, 32, 32)
    assert batch.dtype == np.float32
    for i in range(4):
        np.testing.assert_allclose(batch[i], normalize(pixels[i], cfg), rtol=1e-6)
    np.testing.assert_allclose(batch[1, 2, 5, 7], (pixels[1, 5, 7, 2] - 3.0) / 6.0, rtol=1e-6)
