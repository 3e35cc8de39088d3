"""Image preprocessing for the image towers: pad square on white, resize, normalise.

Kept in numpy and Pillow (no torch) so it is cheap to import and fast to run: the image is
shrunk while still 8-bit (JPEG draft decoding, then one antialiased resize of the smaller,
unpadded picture), and converted to float32 only at the very end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

# Bump when the preprocessing changes its output: it is part of every image encoder version.
PREPROC_VERSION = 1

_GREY_MODES = ("1", "L", "I;16", "I;16B", "I;16L", "I", "F")


@dataclass(frozen=True)
class PreprocessConfig:
    """How one image tower wants its input."""

    image_size: int  # square side S of the network input, in pixels
    mean: tuple[float, float, float] = (127.0, 127.0, 127.0)  # per channel, in 0..255 units
    std: tuple[float, float, float] = (128.0, 128.0, 128.0)  # per channel, in 0..255 units
    fill: tuple[int, int, int] = (255, 255, 255)  # padding and transparency colour (white)


def _flatten_mode(image: Image.Image) -> Image.Image:
    """Bring any Pillow mode to RGB, RGBA, L or LA (keeping transparency where there is some)."""
    mode = image.mode
    if mode in ("RGB", "RGBA", "L", "LA"):
        return image
    if mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if mode in ("PA", "RGBa"):
        return image.convert("RGBA")
    if mode == "La":
        return image.convert("LA")
    if mode in _GREY_MODES and mode not in ("1", "L"):
        # 16/32-bit or float greyscale: scale to 8 bits rather than clipping at 255.
        arr = np.asarray(image, dtype=np.float64)
        top = arr.max() if arr.size and arr.max() > 0 else 1.0
        return Image.fromarray(np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8))
    return image.convert("L" if mode == "1" else "RGB")


def _composite(image: Image.Image, fill: tuple[int, int, int]) -> Image.Image:
    """Flatten RGBA / LA onto the fill colour (RGB, or L when both allow it)."""
    if image.mode not in ("RGBA", "LA"):
        return image
    alpha = image.getchannel("A")
    if image.mode == "LA" and fill[0] == fill[1] == fill[2]:
        out = Image.new("L", image.size, fill[0])
        out.paste(image.getchannel("L"), mask=alpha)
        return out
    out = Image.new("RGB", image.size, fill)
    out.paste(image.convert("RGB"), mask=alpha)
    return out


def pad_square_resize(image: Image.Image, config: PreprocessConfig) -> np.ndarray:
    """Fit the image into an ``S x S`` square on the fill colour, aspect ratio kept.

    Transparency is flattened onto the fill colour before resizing when the image grows
    (fewer pixels to blend) and after when it shrinks; compositing over a constant colour
    commutes with resampling, so both orders give the same picture.

    Args:
        image: A decoded Pillow image of any mode and size. An unloaded JPEG much larger
            than ``S`` is decoded at reduced scale (Pillow ``draft``), which changes it.
        config: Target size and fill colour.

    Returns:
        uint8 ``[S, S, 3]`` RGB array.

    Raises:
        ValueError: If the image has a zero width or height.
    """
    size = config.image_size
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ValueError(f"image has an empty size {image.size}")
    if image.format == "JPEG" and image.mode in ("RGB", "L", "CMYK"):
        image.draft(image.mode if image.mode == "L" else "RGB", (size, size))
        width, height = image.size
    image = _flatten_mode(image)
    scale = size / max(width, height)
    new_w = min(size, max(1, round(width * scale)))
    new_h = min(size, max(1, round(height * scale)))
    if scale >= 1.0:
        image = _composite(image, config.fill)
    if (new_w, new_h) != (width, height):
        # reducing_gap: box-reduce by an integer factor first, then one bilinear pass.
        image = image.resize((new_w, new_h), Image.Resampling.BILINEAR, reducing_gap=2.0)
    image = _composite(image, config.fill)
    canvas = Image.new("RGB", (size, size), config.fill)
    box = ((size - new_w) // 2, (size - new_h) // 2)
    canvas.paste(image if image.mode == "RGB" else image.convert("RGB"), box)
    return np.asarray(canvas, dtype=np.uint8)


def normalize(pixels: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """uint8 ``[S, S, 3]`` -> float32 ``[3, S, S]`` as ``(x - mean) / std``."""
    hwc = pixels.astype(np.float32)
    hwc -= np.asarray(config.mean, dtype=np.float32)
    hwc *= 1.0 / np.asarray(config.std, dtype=np.float32)
    return np.ascontiguousarray(hwc.transpose(2, 0, 1))


def normalize_batch(pixels: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """uint8 ``[N, S, S, 3]`` -> float32 ``[N, 3, S, S]`` in one pass (no per-image arrays)."""
    out = np.empty((pixels.shape[0], 3, *pixels.shape[1:3]), dtype=np.float32)
    out[...] = pixels.transpose(0, 3, 1, 2)
    out -= np.asarray(config.mean, dtype=np.float32).reshape(3, 1, 1)
    out *= (1.0 / np.asarray(config.std, dtype=np.float32)).reshape(3, 1, 1)
    return out


def preprocess_image(image: Image.Image, config: PreprocessConfig) -> np.ndarray:
    """One decoded image -> float32 ``[3, S, S]`` ready for the network."""
    return normalize(pad_square_resize(image, config), config)
