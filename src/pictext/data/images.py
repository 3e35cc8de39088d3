"""Decode an item's image to an RGB ``PIL.Image``: raster files, SVG and in-memory pixels.

Every failure becomes an :class:`~pictext.data.errors.ItemError` that names the item and the
problem, so a reader or the embedding store can report the item, skip it and go on.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError

from pictext.core.atomic import atomic_write_bytes as _write_atomic
from pictext.data.errors import ItemError
from pictext.data.svg import SVG_SUFFIXES, SvgRenderError, looks_like_svg, render_svg

if TYPE_CHECKING:
    from pictext.data.dataset import Dataset
    from pictext.data.item import Item

MAX_PIXELS = 64_000_000  # refuse images above this many pixels (decompression bombs)
SVG_RENDER_SIZE = 256  # default longest side, in pixels, of a rasterised SVG
_WHITE = (255, 255, 255)


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


def load_image(item: Item, size: int | None = None) -> Image.Image:
    """The item's image as an RGB ``PIL.Image``; transparency is composited on white.

    Args:
        item: the item; its ``pixels`` are used when set, otherwise its ``image`` path.
        size: the size the caller will resize to (shorter side, in pixels). When given, large
            images are decoded at a reduced scale (JPEG draft mode, ``Image.reduce``) that
            still keeps the shorter side >= ``size``; SVGs are rendered at least this large.

    Raises:
        ItemError: missing or empty file, unsupported format, corrupt or truncated data, an
            SVG that does not render, or an image above ``MAX_PIXELS`` pixels.
    """
    if item.pixels is not None:
        return _from_pixels(item.id, item.pixels)
    if item.image is None:
        raise ItemError(item.id, "item has no image (neither a path nor pixels)")
    path = Path(item.image)
    data = _read_bytes(item.id, path)
    if path.suffix.lower() in SVG_SUFFIXES or looks_like_svg(data):
        render = max(SVG_RENDER_SIZE, size or 0)
        return _load_svg(item.id, data, render)
    return _load_raster(item.id, path, size)


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


def _load_raster(item_id: str, path: Path, size: int | None) -> Image.Image:
    try:
        img = Image.open(path)
    except UnidentifiedImageError:
        raise ItemError(item_id, f"not a supported image format: {path}") from None
    except Image.DecompressionBombError as err:
        raise ItemError(item_id, f"image too large (decompression bomb): {err}") from None
    except OSError as err:
        raise ItemError(item_id, f"cannot open image {path}: {err}") from err
    with img:
        width, height = img.size
        if width * height > MAX_PIXELS:
            raise ItemError(
                item_id, f"image too large: {width}x{height} pixels (limit {MAX_PIXELS})"
            )
        if width == 0 or height == 0:
            raise ItemError(item_id, f"image has zero size: {width}x{height}")
        if size and img.format == "JPEG" and img.mode in ("RGB", "L", "CMYK", "YCbCr"):
            img.draft("RGB", (size, size))
        try:
            img.load()
        except (OSError, SyntaxError, ValueError) as err:
            raise ItemError(item_id, f"corrupt or truncated image {path}: {err}") from None
        factor = min(img.size) // size if size else 1
        if factor >= 2:
            # Box-reduce before the caller's resize; palette images need converting first.
            rgb = to_rgb(img) if img.mode in ("P", "1") else img
            return to_rgb(rgb.reduce(factor))
        return to_rgb(img)


def _load_svg(item_id: str, data: bytes, render_size: int) -> Image.Image:
    png = _cached_svg_png(item_id, data, render_size)
    with Image.open(io.BytesIO(png)) as img:
        img.load()
        return to_rgb(img)


def _cached_svg_png(item_id: str, data: bytes, render_size: int) -> bytes:
    """Rasterise once; the PNG is cached by SVG content hash and render size."""
    from pictext.core.paths import cache_dir
    from pictext.data.svg import renderer_version

    key = hashlib.sha1(data).hexdigest()
    folder = cache_dir("raster") / renderer_version() / key[:2]
    target = folder / f"{key}_{render_size}.png"
    failed = target.with_suffix(".err")
    if target.exists():
        return target.read_bytes()
    if failed.exists():
        raise ItemError(item_id, failed.read_text(encoding="utf-8"))
    try:
        png = render_svg(data, render_size)
    except SvgRenderError as err:
        problem = f"SVG does not render: {err}"
        _cache_write(failed, problem.encode("utf-8"))
        raise ItemError(item_id, problem) from None
    _cache_write(target, png)
    return png


def _cache_write(path: Path, data: bytes) -> None:
    """Best effort: a read-only or full cache costs a re-render next time, not the item."""
    try:
        _write_atomic(path, data)
    except OSError as err:
        warnings.warn(f"cannot write raster cache {path}: {err}", RuntimeWarning, stacklevel=3)


def drop_unreadable(dataset: Dataset, size: int | None = None) -> Dataset:
    """A copy of the dataset without the items whose image does not decode.

    Every dropped item is added to ``problems``. Decodes (and, for SVG, rasterises and
    caches) every image once, so it costs what a first embedding pass costs in decoding.
    """
    from pictext.data.dataset import Dataset

    kept, problems = [], list(dataset.problems)
    for item in dataset.items:
        try:
            load_image(item, size)
        except ItemError as err:
            problems.append(f"{err.item_id}: {err.problem}; skipped")
            continue
        kept.append(item)
    return Dataset(dataset.name, kept, problems, class_names=dataset.classes)
