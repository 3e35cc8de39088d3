"""Checking and decoding uploaded images: declared type, size, real decoding, pixel limit.

Every refusal is a :class:`~pictext.service.errors.ServiceError` naming the file and the
problem. Nothing is written to disk: uploads are decoded from memory, and SVGs are rendered
by cairosvg in its safe mode (no entities, no external files or URLs).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from pictext.service.config import ServiceConfig
from pictext.service.errors import ServiceError

# Declared content type -> the formats Pillow may find in the data.
RASTER_TYPES: dict[str, str] = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/jpg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
    "image/x-ms-bmp": "BMP",
    "image/tiff": "TIFF",
}
SVG_TYPE = "image/svg+xml"
ACCEPTED_TYPES: tuple[str, ...] = (*RASTER_TYPES, SVG_TYPE)
_RASTER_FORMATS = frozenset(RASTER_TYPES.values())
# Pillow's own failures on corrupt data come as several types.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError)


@dataclass
class DecodedImage:
    """An accepted upload, decoded to RGB."""

    image: Image.Image  # RGB, transparency composited on white
    filename: str  # name the client gave
    format: str  # format found in the data (PNG, JPEG, SVG, ...)
    width: int  # original width in pixels (SVG: intrinsic size)
    height: int  # original height in pixels
    nbytes: int  # size of the upload
    key: str | None = None  # content hash, set by the caller that caches it

    def describe(self) -> dict[str, object]:
        return {
            "filename": self.filename,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "bytes": self.nbytes,
            "sha1": self.key,
        }


def _refuse(status: int, code: str, filename: str, problem: str, field: str) -> ServiceError:
    return ServiceError(status, code, f"{filename}: {problem}", field=field)


def check_declared(
    filename: str, content_type: str | None, nbytes: int, config: ServiceConfig, field: str
) -> str:
    """The declared base content type, after the type and size checks.

    Raises:
        ServiceError: 415 for a type that is not an accepted image type, 400 for an empty
            file, 413 for a file above the size limit.
    """
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared not in ACCEPTED_TYPES:
        raise _refuse(
            415,
            "unsupported_media_type",
            filename,
            f"content type {declared or '(none)'!r} is not accepted; "
            f"send one of {', '.join(ACCEPTED_TYPES)}",
            field,
        )
    if nbytes == 0:
        raise _refuse(400, "empty_file", filename, "empty file (0 bytes)", field)
    limit = config.max_svg_bytes if declared == SVG_TYPE else config.max_upload_bytes
    if nbytes > limit:
        raise _refuse(413, "file_too_large", filename, f"file too large: over {limit} bytes", field)
    return declared


def decode_upload(
    data: bytes,
    *,
    filename: str,
    content_type: str | None,
    config: ServiceConfig,
    size: int = 224,
    field: str = "image",
) -> DecodedImage:
    """Check an uploaded file and decode it, or refuse it with a clear error.

    Args:
        data: the file's bytes.
        filename: the name the client gave (for messages only; never opened).
        content_type: the declared content type of the part.
        config: the limits.
        size: the side the models will resize to; larger images are decoded reduced.
        field: the form field, named in errors.

    Raises:
        ServiceError: 415 wrong type, 413 too large (bytes or pixels), 400 corrupt,
            truncated, or not what was declared.
    """
    declared = check_declared(filename, content_type, len(data), config, field)
    if declared == SVG_TYPE:
        return _decode_svg(data, filename, config, size, field)
    return _decode_raster(data, filename, declared, config, size, field)


def _check_pixels(w: int, h: int, filename: str, config: ServiceConfig, field: str) -> None:
    if w * h > config.max_pixels:
        raise _refuse(
            413,
            "image_too_large",
            filename,
            f"image too large: {w}x{h} pixels (limit {config.max_pixels} pixels)",
            field,
        )
    if w <= 0 or h <= 0:
        raise _refuse(400, "corrupt_image", filename, f"image has zero size: {w}x{h}", field)


def _open(data: bytes, filename: str, declared: str, field: str) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise _refuse(
            400, "not_an_image", filename, f"declared {declared} but the data is no image", field
        ) from None
    except Image.DecompressionBombError as err:
        raise _refuse(
            413, "image_too_large", filename, f"decompression bomb: {err}", field
        ) from None
    except _DECODE_ERRORS as err:
        raise _refuse(400, "corrupt_image", filename, f"cannot read image: {err}", field) from None


def _decode_raster(
    data: bytes, filename: str, declared: str, config: ServiceConfig, size: int, field: str
) -> DecodedImage:
    from pictext.data.images import to_rgb

    probe = _open(data, filename, declared, field)
    fmt = probe.format or "?"
    if fmt not in _RASTER_FORMATS:
        raise _refuse(
            415,
            "unsupported_media_type",
            filename,
            f"the data is {fmt}, not one of {', '.join(sorted(_RASTER_FORMATS))}",
            field,
        )
    width, height = probe.size
    _check_pixels(width, height, filename, config, field)  # from the header: before decoding
    try:
        probe.verify()  # structure and checksums (PNG CRCs), without decoding pixels
        img = Image.open(io.BytesIO(data))
        if fmt == "JPEG" and img.mode in ("RGB", "L", "CMYK", "YCbCr"):
            img.draft("RGB", (size, size))  # decode at reduced scale: much less work
        img.load()
        factor = min(img.size) // size
        rgb = to_rgb(img if factor < 2 else to_rgb(img).reduce(factor))
    except Image.DecompressionBombError as err:
        raise _refuse(
            413, "image_too_large", filename, f"decompression bomb: {err}", field
        ) from None
    except _DECODE_ERRORS as err:
        raise _refuse(
            400, "corrupt_image", filename, f"corrupt or truncated {fmt} image: {err}", field
        ) from None
    return DecodedImage(rgb, filename, fmt, width, height, len(data))


def _decode_svg(
    data: bytes, filename: str, config: ServiceConfig, size: int, field: str
) -> DecodedImage:
    from pictext.data.images import to_rgb
    from pictext.data.svg import SvgRenderError, looks_like_svg, prepare_svg, render_svg

    if not looks_like_svg(
        data
    ):  # also refuses gzipped .svgz (a gzip bomb would pass the size check)
        raise _refuse(
            400,
            "not_an_image",
            filename,
            f"declared {SVG_TYPE} but the data is no plain SVG",
            field,
        )
    try:
        _, (width, height) = prepare_svg(data)
        png = render_svg(data, max(size, 256))
        with Image.open(io.BytesIO(png)) as img:
            img.load()
            rgb = to_rgb(img)
    except SvgRenderError as err:
        raise _refuse(
            400, "corrupt_image", filename, f"SVG does not render: {err}", field
        ) from None
    _check_pixels(rgb.width, rgb.height, filename, config, field)
    return DecodedImage(rgb, filename, "SVG", round(width), round(height), len(data))
