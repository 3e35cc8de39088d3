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


# --- crop to content -------------------------------------------------------------------------

CROP = PreprocessConfig(image_size=32, crop=True)


def _square_on(canvas: tuple[int, int], box: tuple[int, int, int, int], mode: str) -> Image.Image:
    """A red square at ``box`` on a white (RGB) or transparent (RGBA) canvas."""
    image = Image.new(mode, canvas, (255, 255, 255) if mode == "RGB" else (0, 0, 0, 0))
    image.paste(Image.new(mode, (box[2] - box[0], box[3] - box[1]), "red"), box[:2])
    return image


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_content_box_is_the_content_plus_margin(mode: str) -> None:
    from pictext.encoders.preprocess import content_box

    box = content_box(_square_on((200, 100), (120, 40, 170, 90), mode))
    assert box == (118, 38, 172, 92)  # 50 px square, margin round(0.04 * 50) = 2


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_crop_makes_a_small_object_fill_the_input(mode: str) -> None:
    image = _square_on((400, 300), (300, 20, 340, 60), mode)
    red = (pad_square_resize(image, CROP)[..., 1] < 40).mean()  # red: no green
    assert red > 0.7  # (40 / 44)^2 = 0.83 before the resize blurs the edges
    assert (pad_square_resize(image, CFG)[..., 1] < 40).mean() < 0.05


def test_crop_never_cuts_a_photo_without_a_uniform_border() -> None:
    from pictext.encoders.preprocess import content_box

    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (60, 90, 3), dtype=np.uint8))
    photo.paste(Image.new("RGB", (40, 30), "white"), (5, 5))  # a white patch, not a border
    assert content_box(photo) is None
    assert np.array_equal(pad_square_resize(photo, CROP), pad_square_resize(photo, CFG))


def test_crop_uses_the_border_colour_not_white() -> None:
    from pictext.encoders.preprocess import content_box

    image = Image.new("RGB", (100, 100), (20, 40, 200))
    image.paste(Image.new("RGB", (10, 20), "yellow"), (60, 10))
    assert content_box(image) == (59, 9, 71, 31)


@pytest.mark.parametrize(
    "image",
    [Image.new("RGB", (50, 40), "white"), Image.new("RGBA", (50, 40), (0, 0, 0, 0))],
    ids=["blank", "transparent"],
)
def test_crop_leaves_an_image_without_content_alone(image: Image.Image) -> None:
    from pictext.encoders.preprocess import content_box

    assert content_box(image) is None
    assert np.array_equal(pad_square_resize(image, CROP), pad_square_resize(image, CFG))


def test_crop_is_part_of_the_encoder_version() -> None:
    from pictext.encoders import create_encoder

    plain, cropped = (create_encoder("efficientnet-lite0", crop=c).version for c in (False, True))
    assert "-p1-" in plain  # the default's cache keys do not move
    assert plain != cropped


@pytest.mark.slow
def test_crop_finds_the_small_turtle_on_its_white_canvas() -> None:
    """Issue 15's small turtle (openclipart) fills a sixth of its canvas' width; its crop
    fills the input, and a tuxpaint photo stamp that runs to its edges is left whole."""
    from pathlib import Path

    from pictext.data.images import load_image
    from pictext.data.item import Item
    from pictext.encoders.preprocess import content_box

    turtle = Path("/usr/share/openclipart/svg/animals/turtle_jurgen_gaeremyn_01.svg")
    frog = Path("/usr/share/tuxpaint/stamps/animals/amphibians/frog.png")
    if not (turtle.is_file() and frog.is_file()):
        pytest.skip("openclipart-svg or tuxpaint-stamps-default not installed")
    image = load_image(Item("turtle", str(turtle)), size=224)
    box = content_box(image)
    assert box is not None
    assert box[2] - box[0] < image.width / 2

    def inked(config: PreprocessConfig) -> float:  # share of the input that is not white
        return float((pad_square_resize(image, config) < 200).any(axis=2).mean())

    assert inked(PreprocessConfig(224, crop=True)) > 4 * inked(PreprocessConfig(224))
    assert content_box(load_image(Item("frog", str(frog)), size=224)) is None
