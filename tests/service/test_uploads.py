"""Bad uploads are refused with a clear 4xx naming the file and the problem."""

from __future__ import annotations

import pytest
from PIL import Image
from service_toys import picture, png_bytes, png_header_only


def _post(client, data: bytes, ctype: str = "image/png", name: str = "bad.png"):
    return client.post("/tag", files={"image": (name, data, ctype)})


def _err(r) -> dict:
    return r.json()["error"]


def test_wrong_declared_type_is_415(client) -> None:
    r = _post(client, b"hello", "text/plain", "notes.txt")
    assert r.status_code == 415
    err = _err(r)
    assert err["code"] == "unsupported_media_type"
    assert "notes.txt" in err["message"]
    assert "text/plain" in err["message"]
    assert err["field"] == "image"


def test_data_that_is_no_image_is_400(client) -> None:
    r = _post(client, b"this is not a picture at all", name="fake.png")
    assert r.status_code == 400
    assert _err(r)["code"] == "not_an_image"
    assert "fake.png" in _err(r)["message"]


def test_truncated_image_is_400(client) -> None:
    data = png_bytes(picture("red", size=(64, 64)))
    r = _post(client, data[: len(data) // 2], name="half.png")
    assert r.status_code == 400
    assert _err(r)["code"] == "corrupt_image"
    assert "half.png" in _err(r)["message"]


def test_truncated_jpeg_is_400(client) -> None:
    data = png_bytes(picture("red", size=(64, 64)), "JPEG")
    r = _post(client, data[: len(data) // 2], "image/jpeg", "half.jpg")
    assert r.status_code == 400
    assert _err(r)["code"] == "corrupt_image"


def test_empty_file_is_400(client) -> None:
    r = _post(client, b"", name="empty.png")
    assert r.status_code == 400
    assert _err(r)["code"] == "empty_file"


@pytest.mark.parametrize("size", [(100_000, 100_000), (3000, 3000)])
def test_decompression_bomb_is_413(client, size: tuple[int, int]) -> None:
    r = _post(client, png_header_only(*size), name="bomb.png")
    assert r.status_code == 413, r.text
    assert _err(r)["code"] == "image_too_large"
    assert "bomb.png" in _err(r)["message"]


def test_real_image_over_the_pixel_limit_is_413(client) -> None:
    big = png_bytes(Image.new("L", (2000, 1500)))  # 3 MP, a few KB; the test limit is 2 MP
    assert len(big) < 100_000
    r = _post(client, big, name="wide.png")
    assert r.status_code == 413
    assert "2000x1500" in _err(r)["message"]


def test_file_over_the_byte_limit_is_413(client) -> None:
    import numpy as np

    noise = np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8)
    data = png_bytes(Image.fromarray(noise))  # ~270 kB of incompressible pixels; limit 200 kB
    r = _post(client, data, name="noise.png")
    assert r.status_code == 413
    assert _err(r)["code"] == "file_too_large"


def test_request_over_the_body_limit_is_413(client) -> None:
    r = client.post("/tag", files={"image": ("x.png", b"\x00" * 1_100_000, "image/png")})
    assert r.status_code == 413
    assert _err(r)["code"] == "request_too_large"


def test_jpeg_gif_webp_and_svg_are_accepted(client) -> None:
    img = picture("green", size=(50, 40))
    for fmt, ctype in (("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")):
        r = _post(client, png_bytes(img, fmt), ctype, f"g.{fmt.lower()}")
        assert r.status_code == 200, (fmt, r.text)
        assert r.json()["image"]["format"] == fmt
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10">'
        b'<rect width="20" height="10" fill="#1e3cdc"/></svg>'
    )
    r = _post(client, svg, "image/svg+xml", "b.svg")
    assert r.status_code == 200, r.text
    assert r.json()["image"]["format"] == "SVG"
    assert r.json()["top"][0]["label"] == "blue"


def test_svg_refusals(client) -> None:
    r = _post(client, png_bytes(picture("red")), "image/svg+xml", "x.svg")
    assert r.status_code == 400
    assert _err(r)["code"] == "not_an_image"
    import gzip

    svgz = gzip.compress(b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>')
    assert _post(client, svgz, "image/svg+xml", "x.svgz").status_code == 400


def test_form_field_problems_are_422(client) -> None:
    r = client.post(
        "/tag", files={"image": ("r.png", png_bytes(picture("red")), "image/png")}, data={"k": "0"}
    )
    assert r.status_code == 422
    assert _err(r)["field"] == "k"
    r = client.post("/tag", data={"title": "x" * 5000})
    assert r.status_code == 422
    assert _err(r)["field"] == "title"
    assert "5000" in _err(r)["message"]
    r = client.post(
        "/tag/batch",
        files=[("images", ("r.png", png_bytes(picture("red")), "image/png"))],
        data={"items": "{not json"},
    )
    assert r.status_code == 422
    assert _err(r)["field"] == "items"
    r = client.post("/tag/batch", data={"k": "2"})
    assert r.status_code == 422
    assert _err(r)["field"] == "images"


def test_batch_over_the_limit_is_413(client) -> None:
    one = ("images", ("r.png", png_bytes(picture("red", size=(8, 8))), "image/png"))
    r = client.post("/tag/batch", files=[one] * 17)
    assert r.status_code == 413
    assert _err(r)["code"] == "batch_too_large"
