"""Decode an image to an RGB ``PIL.Image``: raster files, SVG, bytes and in-memory pixels.

This is the one decoder of pictext, with one pixel limit (``MAX_PIXELS`` of
:mod:`pictext.core.defaults`): the datasets, the embedding store, the CLI and the service's
uploads and thumbnails all decode here. :func:`load_image` reads an item (a file or its
pixels), :func:`decode_image` the bytes of an upload.

Every failure becomes an :class:`~pictext.data.errors.ItemError` that names the item and the
problem (an :class:`ImageDecodeError` says which kind of problem), so a reader or the
embedding store can report the item, skip it and go on. An image over a budget (pixels,
bytes, what its SVG would draw: :mod:`pictext.data.svg.render`) is refused before it is
decoded, with an :class:`ImageTooLargeError` (a :class:`~pictext.core.errors.BudgetError`).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError

from pictext.core.defaults import MAX_IMAGE_BYTES, MAX_PIXELS
from pictext.data.errors import (
    ImageDecodeError,
    ImageTooLargeError,
    ImageUnavailableError,
    ItemError,
)
from pictext.data.svg import SVG_SUFFIXES, looks_like_svg
from pictext.data.svg.raster import svg_png

if TYPE_CHECKING:
    from pictext.data.dataset import Dataset
    from pictext.data.item import Item

__all__ = [
    "MAX_PIXELS",
    "DecodedImage",
    "ImageDecodeError",
    "ImageTooLargeError",
    "ImageUnavailableError",
    "decode_image",
    "drop_unreadable",
    "image_content_key",
    "image_pixels",
    "load_image",
    "to_rgb",
]

SVG_RENDER_SIZE = 256  # default longest side, in pixels, of a rasterised SVG
SVG = "SVG"  # the format name of SVG documents (Pillow names the raster ones)
_WHITE = (255, 255, 255)
# Pillow's own failures on corrupt data come as several types.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError)


@dataclass
class DecodedImage:
    """An image decoded from bytes, with what the data said about it."""

    image: Image.Image  # RGB, transparency composited on white
    format: str  # format found in the data: PNG, JPEG, ..., or SVG
    width: int  # original width in pixels (SVG: intrinsic size)
    height: int  # original height in pixels


def image_content_key(item: Item) -> bytes:
    """Content key of an item's image: 20-byte SHA-1 of the file bytes, or of pixels and shape.

    Raises:
        ItemError: the item has no image, or its file cannot be read.
    """
    if item.pixels is not None:
        arr = np.ascontiguousarray(item.pixels)
        digest = hashlib.sha1(arr.tobytes())
        digest.update(repr((arr.shape, str(arr.dtype))).encode())
        return digest.digest()
    if item.image is None:
        raise ItemError(item.id, "item has no image (neither a path nor pixels)")
    return hashlib.sha1(_read_bytes(item.id, Path(item.image))).digest()


def load_image(
    item: Item, size: int | None = None, *, max_pixels: int | None = None
) -> Image.Image:
    """The item's image as an RGB ``PIL.Image``; transparency is composited on white.

    Args:
        item: the item; its ``pixels`` are used when set, otherwise its ``image`` path.
        size: the size the caller will resize to (shorter side, in pixels). When given, large
            images are decoded at a reduced scale (JPEG draft mode, ``Image.reduce``) that
            still keeps the shorter side >= ``size``; SVGs are rendered at least this large.
        max_pixels: refuse images above this many pixels (default ``MAX_PIXELS``).

    Raises:
        ItemError: missing or empty file, unsupported format, corrupt or truncated data, an
            SVG that does not render, or an image above the pixel limit.
    """
    if item.pixels is not None:
        return _from_pixels(item.id, item.pixels)
    if item.image is None:
        raise ItemError(item.id, "item has no image (neither a path nor pixels)")
    path = Path(item.image)
    data = _read_bytes(item.id, path)
    svg = path.suffix.lower() in SVG_SUFFIXES or looks_like_svg(data)
    return _decode(item.id, str(path), data, size, svg, _limit(max_pixels)).image


def decode_image(
    data: bytes,
    *,
    name: str,
    size: int | None = None,
    max_pixels: int | None = None,
    formats: Collection[str] | None = None,
    verify: bool = False,
) -> DecodedImage:
    """Decode image bytes (an upload) in memory, as :func:`load_image` decodes a file.

    Nothing is written to disk: an SVG is rendered without the raster cache.

    Args:
        data: the bytes.
        name: names the image in errors (a file name; never opened).
        size: as in :func:`load_image`.
        max_pixels: refuse images above this many pixels (default ``MAX_PIXELS``).
        formats: formats accepted (Pillow's names, and ``"SVG"``); None accepts all.
        verify: check the file's structure and checksums before decoding its pixels.

    Raises:
        ImageDecodeError: the data is not an accepted image, too large or corrupt.

    Example:
        >>> buf = io.BytesIO()
        >>> Image.new("RGB", (4, 3)).save(buf, format="PNG")
        >>> decode_image(buf.getvalue(), name="x.png").format
        'PNG'
    """
    allowed = None if formats is None else frozenset(formats)
    svg = looks_like_svg(data) and (allowed is None or SVG in allowed)
    if allowed is not None and allowed <= {SVG} and not svg:
        raise ImageDecodeError(name, "the data is no plain SVG", "not_an_image")
    return _decode(
        name, name, data, size, svg, _limit(max_pixels), formats=allowed, verify=verify, cache=False
    )


def image_pixels(image: Image.Image) -> np.ndarray:
    """A decoded image as uint8 ``[H, W, 3]`` pixels (for an in-memory :class:`Item`)."""
    return np.asarray(to_rgb(image), dtype=np.uint8)


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB, compositing transparent pixels on white."""
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grayscale: scale to 8 bits instead of clipping.
        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() if arr.size and arr.max() > 255 else 255.0
        return Image.fromarray((arr * (255.0 / top)).astype(np.uint8)).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


def _read_bytes(item_id: str, path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_IMAGE_BYTES:
            raise ImageTooLargeError(
                item_id, f"image file too large: {path} is over {MAX_IMAGE_BYTES} bytes"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ItemError(item_id, f"image file not found: {path}") from None
    except IsADirectoryError:
        raise ItemError(item_id, f"image path is a directory: {path}") from None
    except OSError as err:
        raise ItemError(item_id, f"cannot read image file {path}: {err.strerror or err}") from err
    if not data:
        raise ItemError(item_id, f"empty image file (0 bytes): {path}")
    return data


def _from_pixels(item_id: str, pixels: np.ndarray) -> Image.Image:
    arr = np.asarray(pixels)
    if arr.dtype != np.uint8:
        raise ItemError(item_id, f"pixels must be uint8, got {arr.dtype}")
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 1):
        return Image.fromarray(arr.reshape(arr.shape[:2]), mode="L").convert("RGB")
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        return to_rgb(Image.fromarray(np.ascontiguousarray(arr)))
    raise ItemError(item_id, f"pixels must be HxW or HxWx3/4, got shape {arr.shape}")


def _limit(max_pixels: int | None) -> int:
    return MAX_PIXELS if max_pixels is None else max_pixels


def _decode(
    item_id: str,
    label: str,
    data: bytes,
    size: int | None,
    svg: bool,
    max_pixels: int,
    *,
    formats: frozenset[str] | None = None,
    verify: bool = False,
    cache: bool = True,
) -> DecodedImage:
    """The one decoding step behind :func:`load_image` and :func:`decode_image`."""
    if svg:
        render = max(SVG_RENDER_SIZE, size or 0)
        return _load_svg(item_id, data, render, max_pixels, cache=cache, intrinsic=not cache)
    return _load_raster(item_id, label, data, size, max_pixels, formats, verify)


def _open(item_id: str, label: str, data: bytes) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageDecodeError(
            item_id, f"not a supported image format: {label}", "not_an_image"
        ) from None
    except Image.DecompressionBombError as err:
        raise ImageTooLargeError(item_id, f"image too large (decompression bomb): {err}") from None
    except _DECODE_ERRORS as err:
        raise ImageDecodeError(item_id, f"cannot open image {label}: {err}", "corrupt") from None


def _check_size(item_id: str, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageTooLargeError(
            item_id, f"image too large: {width}x{height} pixels (limit {max_pixels})"
        )
    if width <= 0 or height <= 0:
        raise ImageDecodeError(item_id, f"image has zero size: {width}x{height}", "corrupt")


def _load_raster(
    item_id: str,
    label: str,
    data: bytes,
    size: int | None,
    max_pixels: int,
    formats: frozenset[str] | None,
    verify: bool,
) -> DecodedImage:
    with _open(item_id, label, data) as probe:
        fmt = probe.format or "?"
        if formats is not None and fmt not in formats:
            raise ImageDecodeError(
                item_id,
                f"the data is {fmt}, not one of {', '.join(sorted(formats - {SVG}))}",
                "unsupported_format",
            )
        width, height = probe.size
        _check_size(item_id, width, height, max_pixels)  # from the header: before decoding
        try:
            if verify:  # structure and checksums (PNG CRCs), without decoding pixels
                probe.verify()
                with _open(item_id, label, data) as img:  # verify() leaves probe unusable
                    rgb = _pixels_of(img, size)
            else:
                rgb = _pixels_of(probe, size)
        except Image.DecompressionBombError as err:
            raise ImageTooLargeError(
                item_id, f"image too large (decompression bomb): {err}"
            ) from None
        except _DECODE_ERRORS as err:
            raise ImageDecodeError(
                item_id, f"corrupt or truncated image {label}: {err}", "corrupt"
            ) from None
    return DecodedImage(rgb, fmt, width, height)


def _pixels_of(img: Image.Image, size: int | None) -> Image.Image:
    """Decode (reduced for large images when ``size`` is given) and convert to RGB."""
    if size and img.format == "JPEG" and img.mode in ("RGB", "L", "CMYK", "YCbCr"):
        img.draft("RGB", (size, size))
    img.load()
    factor = min(img.size) // size if size else 1
    if factor >= 2:
        # Box-reduce before the caller's resize; palette images need converting first.
        rgb = to_rgb(img) if img.mode in ("P", "1") else img
        return to_rgb(rgb.reduce(factor))
    return to_rgb(img)


def _load_svg(
    item_id: str, data: bytes, render_size: int, max_pixels: int, *, cache: bool, intrinsic: bool
) -> DecodedImage:
    png = svg_png(item_id, data, render_size, max_pixels, cache=cache)
    with Image.open(io.BytesIO(png)) as img:
        img.load()
        rgb = to_rgb(img)
    _check_size(item_id, rgb.width, rgb.height, max_pixels)
    width, height = rgb.size
    if intrinsic:  # the document's own size, as an upload describes itself
        from pictext.data.svg import prepare_svg

        _, (w, h) = prepare_svg(data)
        width, height = round(w), round(h)
    return DecodedImage(rgb, SVG, width, height)


def drop_unreadable(dataset: Dataset, size: int | None = None) -> Dataset:
    """A copy of the dataset without the items whose image does not decode.

    Every dropped item is added to ``problems``. Decodes (and, for SVG, rasterises and
    caches) every image once, so it costs what a first embedding pass costs in decoding.
    """
    kept, problems = [], list(dataset.problems)
    for item in dataset.items:
        try:
            load_image(item, size)
        except ItemError as err:
            problems.append(f"{err.item_id}: {err.problem}; skipped")
            continue
        kept.append(item)
    return dataset.with_items(kept, problems)
