"""One decoder rule for every picture: EXIF orientation, every Pillow mode, SVG sizes.

Each class is tested as a whole: all eight EXIF orientations, in a file and in an upload;
every mode Pillow knows either converts to 8-bit RGB or is refused by name; every kind of
impossible SVG size is refused, naming the attribute.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pictext.data.errors import ItemError
from pictext.data.images import UnsupportedModeError, decode_image, load_image, to_rgb
from pictext.data.item import Item

T = Image.Transpose
# what to store so that the orientation's transpose shows the upright picture
STORED = {
    1: None,
    2: T.FLIP_LEFT_RIGHT,
    3: T.ROTATE_180,
    4: T.FLIP_TOP_BOTTOM,
    5: T.TRANSPOSE,
    6: T.ROTATE_90,
    7: T.TRANSVERSE,
    8: T.ROTATE_270,
}


def _upright() -> Image.Image:
    """40x20, no symmetry: red top-left, blue top-right, green bottom-left, white elsewhere."""
    arr = np.full((20, 40, 3), 255, np.uint8)
    arr[:10, :20] = (255, 0, 0)
    arr[:10, 20:] = (0, 0, 255)
    arr[10:, :20] = (0, 255, 0)
    return Image.fromarray(arr)


def _with_orientation(orientation: int, fmt: str) -> bytes:
    img = _upright()
    if STORED[orientation] is not None:
        img = img.transpose(STORED[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    img.save(out, fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("orientation", sorted(STORED))
def test_every_exif_orientation_is_applied_in_files_and_uploads(tmp_path, orientation, fmt):
    data = _with_orientation(orientation, fmt)
    path = tmp_path / f"o{orientation}.{fmt.lower()}"
    path.write_bytes(data)
    want = np.asarray(_upright(), np.float64)
    tol = 0 if fmt == "PNG" else 12  # JPEG: lossy, colour edges blur
    for got in (
        load_image(Item("f", str(path))),
        decode_image(data, name=path.name).image,
    ):
        assert got.size == (40, 20)
        assert np.abs(np.asarray(got, np.float64) - want).mean() <= tol
    assert (decode_image(data, name=path.name).width, decode_image(data, name="x").height) == (
        40,
        20,
    )


def _gradient(mode: str) -> Image.Image:
    g = np.tile(np.linspace(0, 1, 64), (16, 1))
    if mode == "F":
        return Image.fromarray(g.astype(np.float32))
    if mode == "I":
        return Image.fromarray((g * 65535).astype(np.int32))
    if mode == "I;16":
        return Image.fromarray((g * 65535).astype(np.uint16))
    if mode == "I;16B":
        return Image.frombytes(mode, (64, 16), (g * 65535).astype(">u2").tobytes())
    grey = Image.fromarray((g * 255).astype(np.uint8))
    if mode == "1":
        return grey.point(lambda v: 255 if v > 127 else 0).convert("1")
    if mode == "LA":
        return Image.merge("LA", [grey, Image.new("L", grey.size, 255)])
    return grey.convert("RGB").convert(mode)


@pytest.mark.parametrize(
    "mode",
    [
        *("1", "L", "LA", "P", "PA", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "HSV", "LAB"),
        *("I;16", "I;16B", "I", "F"),
    ],
)
def test_every_mode_converts_to_the_same_picture(mode):
    out = np.asarray(to_rgb(_gradient(mode)), np.float64)
    assert out.shape == (16, 64, 3)
    assert out[:, :4].mean() < 40  # dark on the left, never a black or white picture
    assert out[:, -4:].mean() > 215  # bright on the right
    assert 100 < out.mean() < 155


@pytest.mark.parametrize("mode", ["F", "I"])
@pytest.mark.parametrize("scale", [1.0, 255.0, 4095.0, 1e6, -300.0])
def test_wide_grey_of_any_range_is_never_a_flat_picture(mode, scale):
    if mode == "I" and scale == 1.0:
        pytest.skip("integers 0 and 1 are 8-bit values: a black picture, faithfully")
    g = np.tile(np.linspace(0, 1, 64), (16, 1)) * scale
    img = Image.fromarray(g.astype(np.float32 if mode == "F" else np.int32))
    out = np.asarray(to_rgb(img), np.float64)[..., 0]
    assert out.max() - out.min() > 200


def test_transparent_pixels_are_white_in_every_alpha_mode():
    clear = {
        "LA": Image.new("LA", (8, 8), (0, 0)),
        "RGBA": Image.new("RGBA", (8, 8), (0, 0, 0, 0)),
        "PA": Image.new("RGBA", (8, 8), (0, 0, 0, 0)).convert("PA"),
    }
    pal = Image.new("P", (8, 8), 0)
    pal.putpalette([0, 0, 0] * 256)
    pal.info["transparency"] = 0
    clear["P+transparency"] = pal
    for name, img in clear.items():
        assert np.asarray(to_rgb(img)).min() == 255, name


@pytest.mark.parametrize("mode", sorted(getattr(Image, "MODES", [])))
def test_any_mode_pillow_knows_converts_or_is_refused_by_name(mode):
    try:
        img = Image.new(mode, (8, 4))
    except (ValueError, OSError):
        pytest.skip(f"Pillow cannot make a {mode} image")
    try:
        out = to_rgb(img)
    except UnsupportedModeError as err:
        refusal = str(err)
        out = None
    if out is None:
        assert f"image mode {mode} cannot" in refusal
        return
    assert out.mode == "RGB"
    assert out.size == (8, 4)


def test_an_unsupported_mode_in_a_file_is_one_error_naming_it(monkeypatch, tmp_path):
    import pictext.data.images as images

    path = tmp_path / "a.png"
    Image.new("RGB", (4, 4)).save(path)

    def refuse(img):
        raise UnsupportedModeError("La")

    monkeypatch.setattr(images, "to_rgb", refuse)
    with pytest.raises(ItemError, match=r"a\.png.*image mode La cannot be converted"):
        load_image(Item("a", str(path)))


SVG = '<svg xmlns="http://www.w3.org/2000/svg" {attrs}><rect width="5" height="5"/></svg>'
BAD_SVG_SIZES = {
    'width="-10" height="10"': "width",
    'width="0" height="10"': "width",
    'width="10" height="0mm"': "height",
    'width="1e40" height="10"': "width",
    'width="100000000" height="10"': "width",
    'width="nan" height="10"': "width",
    'width="inf" height="10"': "width",
    'width="ten" height="10"': "width",
    'width="10" height="-50%"': "height",
    'viewBox="0 0 -5 10"': "viewBox",
    'viewBox="0 0 0 0"': "viewBox",
    'viewBox="0 0 10"': "viewBox",
    'viewBox="0 0 nan 10"': "viewBox",
    'viewBox="a b c d"': "viewBox",
}


@pytest.mark.parametrize("attrs", sorted(BAD_SVG_SIZES))
def test_an_impossible_svg_size_is_refused_naming_the_attribute(tmp_path, attrs):
    path = tmp_path / "bad.svg"
    path.write_text(SVG.format(attrs=attrs))
    with pytest.raises(ItemError) as info:
        load_image(Item("bad", str(path)))
    assert BAD_SVG_SIZES[attrs] in info.value.problem
    with pytest.raises(ItemError):
        decode_image(path.read_bytes(), name="bad.svg")


@pytest.mark.parametrize(
    "attrs",
    [
        *('width="10" height="20"', 'width="50%" height="100%"', 'width="auto" height="auto"'),
        *('width="2cm" height="1in"', 'viewBox="0 0 30 10"', ""),
    ],
)
def test_possible_svg_sizes_still_render(tmp_path, attrs):
    path = tmp_path / "ok.svg"
    path.write_text(SVG.format(attrs=attrs))
    assert load_image(Item("ok", str(path))).mode == "RGB"


def test_the_decode_rule_keys_the_stored_vectors(tmp_path: Path):
    from pictext.data.images import DECODE_RULE, image_cache_key, image_content_key

    path = tmp_path / "a.png"
    _upright().save(path)
    item = Item("a", str(path))
    assert DECODE_RULE >= 2  # EXIF orientation: vectors stored before it are recomputed
    assert image_cache_key(item) != image_content_key(item)
    assert len(image_cache_key(item)) == 20
