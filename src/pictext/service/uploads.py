"""Checking and decoding uploaded images: declared type, size, real decoding, pixel limit.

The decoding is the library's one decoder (:func:`pictext.data.images.decode_image`, the
one the datasets and the CLI use), with the service's pixel limit; this module checks the
declared type and size first and turns a refusal into a
:class:`~pictext.service.errors.ServiceError` naming the file and the problem. Nothing is
written to disk: uploads are decoded from memory, and SVGs are rendered by cairosvg in its
safe mode (no entities, no external files or URLs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pictext.data.images import SVG, ImageDecodeError, decode_image
from pictext.service.config import ServiceConfig
from pictext.service.errors import ServiceError

if TYPE_CHECKING:
    from PIL import Image

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
# The decoder's reason for a refusal -> (HTTP status, error code).
_REFUSALS = {
    "not_an_image": (400, "not_an_image"),
    "unsupported_format": (415, "unsupported_media_type"),
    "too_large": (413, "image_too_large"),
    "corrupt": (400, "corrupt_image"),
    "unavailable": (503, "unavailable"),  # the renderer failed for a reason outside the data
}


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
    formats = {SVG} if declared == SVG_TYPE else _RASTER_FORMATS
    try:
        got = decode_image(
            data,
            name=filename,
            size=size,
            max_pixels=config.max_pixels,
            formats=formats,
            verify=True,
        )
    except ImageDecodeError as err:
        status, code = _REFUSALS[err.reason]
        problem = err.problem
        if code == "not_an_image":
            what = "no plain SVG" if declared == SVG_TYPE else "no image"
            problem = f"declared {declared} but the data is {what}"
        raise _refuse(status, code, filename, problem, field) from None
    return DecodedImage(got.image, filename, got.format, got.width, got.height, len(data))
