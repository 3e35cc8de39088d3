"""Image preprocessing for the image towers: crop to content (optional), pad square on white,
resize, normalise.

Kept in numpy and Pillow (no torch) so it is cheap to import and fast to run: the image is
shrunk while still 8-bit (JPEG draft decoding, then one antialiased resize of the smaller,
unpadded picture), and converted to float32 only at the very end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops

# Bump when the preprocessing changes its output: it is part of every image encoder version.
PREPROC_VERSION = 1
# Bump when the crop to content changes its boxes: part of the version of encoders that crop.
CROP_VERSION = 1
CROP_TOLERANCE = 24  # max channel difference (0..255) from the border colour still background
CROP_UNIFORM = 0.95  # share of border pixels that must be the border colour for a crop
CROP_MARGIN = 0.04  # margin kept around the content, as a share of its longer side

_GREY_MODES = ("1", "L", "I;16", "I;16B", "I;16L", "I", "F")


@dataclass(frozen=True)
class PreprocessConfig:
    """How one image tower wants its input."""

    image_size: int  # square side S of the network input, in pixels
    mean: tuple[float, float, float] = (127.0, 127.0, 127.0)  # per channel, in 0..255 units
    std: tuple[float, float, float] = (128.0, 128.0, 128.0)  # per channel, in 0..255 units
    fill: tuple[int, int, int] = (255, 255, 255)  # padding and transparency colour (white)
    crop: bool = False  # crop to the content's bounding box before padding (content_box)


def crop_tag(crop: bool) -> str:
    """The crop's part of an encoder version (after ``p{PREPROC_VERSION}``): ``c1`` or ``""``."""
    return f"c{CROP_VERSION}" if crop else ""


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


def content_box(image: Image.Image) -> tuple[int, int, int, int] | None:
    """The box ``(left, top, right, bottom)`` around the image's content, with a margin.

    Content is what is not background: pixels with alpha > 0 in a transparent image; in an
    opaque one, pixels differing from the border colour by more than ``CROP_TOLERANCE`` in
    some channel. An opaque image is cropped only when its border is uniform (at least
    ``CROP_UNIFORM`` of the one-pixel frame within the tolerance of its median colour), so a
    photo that runs to its edges is never cut.

    Returns:
        The box (``CROP_MARGIN`` of the content's longer side added on each side, clipped to
        the image), or None when there is nothing to crop: no uniform border, no content
        (a blank image), or content that already fills the image.
    """
    width, height = image.size
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        box = image.getchannel("A").getbbox()
    else:
        opaque = image if image.mode in ("RGB", "L") else image.convert("RGB")
        arr = np.asarray(opaque).reshape(height, width, -1)
        frame = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]]).astype(np.int16)
        colour = np.round(np.median(frame, axis=0)).astype(np.int16)
        if (np.abs(frame - colour).max(axis=1) <= CROP_TOLERANCE).mean() < CROP_UNIFORM:
            return None
        # the content mask in Pillow's C loops: |pixel - colour| per channel, max, threshold
        fill = tuple(int(c) for c in colour) if len(colour) > 1 else int(colour[0])
        diff = ImageChops.difference(opaque, Image.new(opaque.mode, opaque.size, fill))
        if diff.mode == "RGB":
            red, green, blue = diff.split()
            diff = ImageChops.lighter(ImageChops.lighter(red, green), blue)
        box = diff.point([0] * (CROP_TOLERANCE + 1) + [255] * (255 - CROP_TOLERANCE)).getbbox()
    if box is None:
        return None
    left, top, right, bottom = (int(v) for v in box)
    pad = round(CROP_MARGIN * max(right - left, bottom - top))
    box = (max(0, left - pad), max(0, top - pad), min(width, right + pad))
    box = (*box, min(height, bottom + pad))
    return None if box == (0, 0, width, height) else box


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

    With ``config.crop`` the image is first cut to :func:`content_box` (when it has one).
    Transparency is flattened onto the fill colour before resizing when the image grows
    (fewer pixels to blend) and after when it shrinks; compositing over a constant colour
    commutes with resampling, so both orders give the same picture.

    Args:
        image: A decoded Pillow image of any mode and size. An unloaded JPEG much larger
            than ``S`` is decoded at reduced scale (Pillow ``draft``), which changes it.
        config: Target size, fill colour and whether to crop to content.

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
    if config.crop:
        box = content_box(image)
        if box is not None:
            image = image.crop(box)
            width, height = image.size
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
