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
    "UnsupportedModeError",
    "decode_image",
    "drop_unreadable",
    "image_cache_key",
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


# The decoding rule's version: bumped whenever the pixels a file decodes to change (2: EXIF
# orientation applied, wide grey and float modes scaled, unsupported modes refused). Stored
# image vectors are keyed by it (:func:`image_cache_key`), so a change recomputes them.
DECODE_RULE = 2


def image_cache_key(item: Item) -> bytes:
    """The key of an item's image vector in the store: its content key under the current
    :data:`DECODE_RULE` (vectors of an older rule are never found, so they are recomputed).

    Raises:
        ItemError: the item has no image, or its file cannot be read.
    """
    salt = f"pictext-decode-rule-{DECODE_RULE}\0".encode()
    return hashlib.sha1(salt + image_content_key(item)).digest()


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


class UnsupportedModeError(ValueError):
    """A Pillow image mode with no faithful conversion to 8-bit RGB (named in the message)."""

    def __init__(self, mode: str) -> None:
        super().__init__(f"image mode {mode} cannot be converted to 8-bit RGB")
        self.mode = mode


_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_GREY_WIDE = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB, compositing transparent pixels on white.

    The one rule for every picture: palette and alpha modes are composited on white; wide
    grey (16-bit, 32-bit integer, float) is kept when its values fit 0..255, floats in [0, 1]
    are fractions of white, wider values are scaled so the largest is white (never clipped
    to a black or white picture); other modes by Pillow's conversion.

    Raises:
        UnsupportedModeError: a mode Pillow cannot convert (named in the message).
    """
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    try:
        if img.mode in _ALPHA_MODES:
            rgba = img.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
            return Image.alpha_composite(background, rgba).convert("RGB")
        if img.mode in _GREY_WIDE:
            return Image.fromarray(_grey_to_8bit(img)).convert("RGB")
        return img if img.mode == "RGB" else img.convert("RGB")
    except ValueError as err:  # Pillow has no conversion from this mode
        raise UnsupportedModeError(img.mode) from err


def _grey_to_8bit(img: Image.Image) -> np.ndarray:
    """A wide grey image (16-bit, 32-bit integer, float) as uint8, without clipping to black."""
    arr = np.array(img).astype(np.float64)  # byte order as the mode says (I;16B too)
    if not arr.size:
        return arr.astype(np.uint8)
    arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(arr.min()), float(arr.max())
    if img.mode == "F" and lo >= 0.0 and hi <= 1.0:  # fractions of white
        scaled = arr * 255.0
    elif lo >= 0.0 and hi <= 255.0:  # already 8-bit values
        scaled = arr
    else:  # wider: stretched to 0..255 from zero (or the minimum, when negative)
        base = min(lo, 0.0)
        scaled = (arr - base) * (255.0 / (hi - base))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


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
                    turn = _orientation(img)
                    rgb = _pixels_of(img, size)
            else:
                turn = _orientation(probe)
                rgb = _pixels_of(probe, size)
            if turn in _SWAPS_SIDES:  # the picture as shown: EXIF orientation applied
                width, height = height, width
            if turn in _TRANSPOSE:
                rgb = rgb.transpose(_TRANSPOSE[turn])
        except UnsupportedModeError as err:
            raise ImageDecodeError(item_id, f"{label}: {err}", "unsupported_format") from None
        except Image.DecompressionBombError as err:
            raise ImageTooLargeError(
                item_id, f"image too large (decompression bomb): {err}"
            ) from None
        except _DECODE_ERRORS as err:
            raise ImageDecodeError(
                item_id, f"corrupt or truncated image {label}: {err}", "corrupt"
            ) from None
    return DecodedImage(rgb, fmt, width, height)


# EXIF orientation (tag 0x0112) -> the transpose that shows the picture upright (as
# PIL.ImageOps.exif_transpose); 5 to 8 swap width and height.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_SIDES = {5, 6, 7, 8}


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation of an opened image (1, upright, when absent or unreadable)."""
    try:
        value = img.getexif().get(0x0112, 1)
    except _DECODE_ERRORS:  # a damaged EXIF block: the pixels are still the picture
        return 1
    return value if isinstance(value, int) and value in _TRANSPOSE else 1


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
