from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pictext.data.errors import ItemError
from pictext.data.images import (
    MAX_PIXELS,
    ImageDecodeError,
    decode_image,
    image_content_key,
    image_pixels,
    load_image,
)
from pictext.data.item import Item


def test_rgba_is_composited_on_white(make, tmp_path: Path) -> None:
    path = make.png(tmp_path / "a.png", color=(255, 0, 0, 0), mode="RGBA")
    img = load_image(Item("a", str(path)))
    assert img.mode == "RGB"
    assert img.getpixel((0, 0)) == (255, 255, 255)


def test_half_transparent_la_and_palette(make, tmp_path: Path) -> None:
    path = make.png(tmp_path / "la.png", color=(0, 128), mode="LA")
    assert load_image(Item("la", str(path))).getpixel((1, 1)) == (127, 127, 127)
    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.info["transparency"] = 1
    pal.save(tmp_path / "p.png", transparency=1)
    assert load_image(Item("p", str(tmp_path / "p.png"))).getpixel((0, 0)) == (255, 255, 255)


def test_pixels_gray_and_rgb(gray_pixels: np.ndarray) -> None:
    img = load_image(Item("g", pixels=gray_pixels))
    assert img.size == (28, 28)
    assert img.mode == "RGB"
    assert img.getpixel((3, 0)) == (3, 3, 3)
    rgb = np.zeros((5, 7, 3), np.uint8)
    rgb[..., 2] = 200
    assert load_image(Item("c", pixels=rgb)).getpixel((6, 4)) == (0, 0, 200)
    with pytest.raises(ItemError, match="uint8"):
        load_image(Item("f", pixels=gray_pixels.astype(np.float32)))


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"", "empty image file"), (b"hello, not an image", "not a supported image format")],
)
def test_bad_files(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "x.jpg"
    path.write_bytes(content)
    with pytest.raises(ItemError, match=problem) as info:
        load_image(Item("bad/x", str(path)))
    assert info.value.item_id == "bad/x"


def test_missing_and_truncated(make, tmp_path: Path) -> None:
    with pytest.raises(ItemError, match="not found"):
        load_image(Item("m", str(tmp_path / "missing.png")))
    data = make.png(tmp_path / "t.png", size=(64, 64)).read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ItemError, match="corrupt or truncated"):
        load_image(Item("t", str(tmp_path / "t.png")))


def test_decompression_bomb_refused(tmp_path: Path) -> None:
    side = int(MAX_PIXELS**0.5) + 10
    Image.new("1", (side, side)).save(tmp_path / "bomb.png")  # tiny file, huge image
    with pytest.raises(ItemError, match="too large"):
        load_image(Item("bomb", str(tmp_path / "bomb.png")))


def test_jpeg_draft_and_reduce_keep_requested_size(tmp_path: Path) -> None:
    Image.new("RGB", (1600, 1200), (10, 200, 10)).save(tmp_path / "big.jpg", quality=90)
    Image.new("RGB", (1600, 1200), (10, 200, 10)).save(tmp_path / "big.png")
    for name in ("big.jpg", "big.png"):
        img = load_image(Item(name, str(tmp_path / name)), size=224)
        assert 224 <= min(img.size) < 600, img.size
        assert abs(img.size[0] / img.size[1] - 4 / 3) < 0.02
    assert load_image(Item("full", str(tmp_path / "big.png"))).size == (1600, 1200)


def test_svg_is_rendered_and_cached(make, tmp_path: Path) -> None:
    path = make.svg(tmp_path / "s.svg")
    img = load_image(Item("s", str(path)))
    assert img.size == (256, 128)
    assert img.getpixel((10, 10)) == (0, 0, 255)  # the blue rect
    assert img.getpixel((250, 120)) == (255, 255, 255)  # transparent -> white
    from pictext.core.paths import cache_dir

    cached = list(cache_dir("raster").rglob("*.png"))
    assert len(cached) == 1
    path.write_text("<svg broken", encoding="utf-8")  # new content -> new key, no stale hit
    with pytest.raises(ItemError, match="SVG does not render"):
        load_image(Item("s", str(path)))


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ('width="100%" height="100%" viewBox="0 0 40 20"', (256, 128)),
        ('viewBox="0 0 10 40"', (64, 256)),
        ("", (256, 256)),
        ('width="10mm" height="5mm"', (256, 128)),
    ],
)
def test_svg_size_fallbacks(make, tmp_path: Path, size: str, expected: tuple[int, int]) -> None:
    path = make.svg(tmp_path / "s.svg", size=size)
    assert load_image(Item("s", str(path))).size == expected


def test_svg_with_entities_renders_without_unsafe(tmp_path: Path) -> None:
    svg = (
        '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY ns_svg "http://www.w3.org/2000/svg">'
        '<!ENTITY lol "&lol;&lol;">]>'
        '<svg xmlns="&ns_svg;" width="10" height="10"><rect width="10" height="10" '
        'fill="#00ff00"/><text>&lol;</text></svg>'
    )
    (tmp_path / "e.svg").write_text(svg, encoding="utf-8")
    img = load_image(Item("e", str(tmp_path / "e.svg")))
    assert img.getpixel((128, 128)) == (0, 255, 0)


def test_content_key(make, tmp_path: Path, gray_pixels: np.ndarray) -> None:
    a = make.png(tmp_path / "a.png")
    b = make.png(tmp_path / "b.png")
    c = make.png(tmp_path / "c.png", color=(1, 2, 3))
    key = image_content_key(Item("a", str(a)))
    assert len(key) == 20
    assert key == image_content_key(Item("b", str(b)))
    assert key != image_content_key(Item("c", str(c)))
    pix = image_content_key(Item("p", pixels=gray_pixels))
    assert pix != image_content_key(Item("q", pixels=gray_pixels.reshape(14, 56)))
    with pytest.raises(ItemError, match="no image"):
        image_content_key(Item("none"))


def test_svg_percent_opacity_renders(make, tmp_path: Path) -> None:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        '<rect width="10" height="10" style="fill:#ff0000; fill-opacity:100%"/>'
        '<rect width="5" height="10" fill="#0000ff" fill-opacity="50%"/></svg>'
    )
    (tmp_path / "o.svg").write_text(svg, encoding="utf-8")
    img = load_image(Item("o", str(tmp_path / "o.svg")))
    assert img.getpixel((200, 128)) == (255, 0, 0)
    r, g, b = img.getpixel((50, 128))
    assert 120 <= r <= 135
    assert g == 0
    assert 120 <= b <= 135


# ---- one decoder for files and uploads ------------------------------------------------------
def test_the_pixel_limit_is_the_one_of_the_defaults() -> None:
    from pictext.core import defaults

    assert MAX_PIXELS == defaults.MAX_PIXELS


def _rgba(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 255, (90, 120, 4), dtype=np.uint8)
    arr[..., 3] = np.linspace(0, 255, 120, dtype=np.uint8)  # alpha ramps across
    Image.fromarray(arr, "RGBA").save(tmp_path / "a.png")
    return tmp_path / "a.png"


@pytest.mark.parametrize("kind", ["rgba", "jpeg", "svg", "palette"])
def test_bytes_decode_exactly_as_the_file(make, tmp_path: Path, kind: str) -> None:
    if kind == "rgba":
        path = _rgba(tmp_path)
    elif kind == "jpeg":
        path = tmp_path / "j.jpg"
        Image.new("RGB", (640, 480), (10, 200, 90)).save(path, quality=80)
    elif kind == "palette":
        path = tmp_path / "p.gif"
        Image.new("RGB", (100, 70), (250, 10, 10)).convert("P").save(path)
    else:
        path = make.svg(tmp_path / "s.svg")
    for size in (None, 32):
        from_file = load_image(Item("f", str(path)), size=size)
        got = decode_image(path.read_bytes(), name=path.name, size=size)
        assert got.image.size == from_file.size
        np.testing.assert_array_equal(np.asarray(got.image), np.asarray(from_file))
        np.testing.assert_array_equal(image_pixels(got.image), np.asarray(from_file))


def test_decoded_bytes_describe_the_original(make, tmp_path: Path) -> None:
    Image.new("RGB", (640, 480)).save(tmp_path / "big.png")
    got = decode_image((tmp_path / "big.png").read_bytes(), name="big.png", size=64)
    assert (got.format, got.width, got.height) == ("PNG", 640, 480)
    assert min(got.image.size) < 480  # reduced for a 64-pixel model
    svg = decode_image(make.svg(tmp_path / "s.svg").read_bytes(), name="s.svg")
    assert (svg.format, svg.width, svg.height) == ("SVG", 20, 10)  # the intrinsic size
    assert svg.image.size == (256, 128)


def _reason(data: bytes, **kw) -> str:
    with pytest.raises(ImageDecodeError) as info:
        decode_image(data, name="up.bin", **kw)
    assert info.value.item_id == "up.bin"
    return info.value.reason


def test_bytes_refusals_say_why(make, tmp_path: Path) -> None:
    png = make.png(tmp_path / "a.png", size=(40, 30)).read_bytes()
    assert _reason(b"hello, not an image") == "not_an_image"
    assert _reason(png, max_pixels=1000) == "too_large"
    assert _reason(png[: len(png) // 2]) == "corrupt"
    assert _reason(png, formats={"JPEG", "GIF"}) == "unsupported_format"
    assert _reason(png, formats={"SVG"}) == "not_an_image"  # declared SVG, is no SVG
    svg = make.svg(tmp_path / "s.svg").read_bytes()
    assert _reason(svg, formats={"PNG"}) == "not_an_image"  # declared raster, is no raster
    assert _reason(b"<svg xmlns='http://www.w3.org/2000/svg'><broken") == "corrupt"
    assert decode_image(png, name="ok", formats={"PNG"}, verify=True).format == "PNG"


def test_bytes_are_decoded_without_touching_the_raster_cache(make, tmp_path: Path) -> None:
    from pictext.core.paths import cache_dir

    decode_image(make.svg(tmp_path / "s.svg").read_bytes(), name="s.svg")
    assert not list(cache_dir("raster").rglob("*.png"))


def test_a_lower_pixel_limit_applies_to_files_too(make, tmp_path: Path) -> None:
    path = make.png(tmp_path / "a.png", size=(40, 30))
    with pytest.raises(ItemError, match="limit 1000"):
        load_image(Item("a", str(path)), max_pixels=1000)
