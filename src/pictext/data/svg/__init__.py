"""SVG helpers: sniffing, intrinsic size, safe preparation for cairosvg, the SVG errors.

cairosvg (``unsafe=False``, always) refuses documents that declare XML entities and cannot
size a root element whose width/height is a percentage or missing. Before rendering we
therefore (1) drop the DOCTYPE and substitute its simple internal text entities once — a
bounded, non-recursive substitution, not an XML entity expansion — and (2) give the root
``<svg>`` absolute width/height taken from its viewBox (or a default size). Rendering, with
its budgets, is :func:`pictext.data.svg.render.render_svg`.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from pictext.core.defaults import MAX_SVG_BYTES
from pictext.core.errors import BudgetError, InputError, StateError

SVG_SUFFIXES = (".svg", ".svgz")
MAX_SVG_SIDE = 100_000.0  # px: a declared width or height above this is refused as impossible
DEFAULT_SVG_SIZE = (256.0, 256.0)  # used when an SVG has neither usable width/height nor viewBox
_MAX_GROWTH = 4  # entity substitution may not grow a document beyond this factor (+1 MiB)
_PREP_VERSION = "4"  # bump when preparation changes, so cached rasters (and .err) are redone

_DOCTYPE = re.compile(rb"<!DOCTYPE\s[^\[>]*(\[(?P<subset>.*?)\])?\s*>", re.S)
_ENTITY_DECL = re.compile(
    rb"<!ENTITY\s+(?P<name>[\w.:-]+)\s+(?P<q>[\"'])(?P<value>.*?)(?P=q)\s*>", re.S
)
_ENTITY_REF = re.compile(rb"&(?P<name>[A-Za-z_][\w.:-]*);")
_XML_PREDEFINED = {b"amp", b"lt", b"gt", b"quot", b"apos"}
_SVG_START = re.compile(rb"<(?:[\w.-]+:)?svg\b(?P<attrs>[^>]*)>", re.S)
_PERCENT_OPACITY = re.compile(rb"(opacity\s*(?::|=\s*[\"'])\s*)([0-9]*\.?[0-9]+)%")
_LENGTH = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-z%]*)\s*$")
_UNIT_PX = {
    "": 1.0,
    "px": 1.0,
    "pt": 4 / 3,
    "pc": 16.0,
    "mm": 96 / 25.4,
    "cm": 96 / 2.54,
    "in": 96.0,
}


class SvgRenderError(InputError, RuntimeError):
    """An SVG that cannot be rendered, with the reason: it is so whenever it is tried."""


class SvgBudgetError(SvgRenderError, BudgetError):
    """An SVG whose rendering would take more pixels, elements, memory or time than allowed."""


class SvgUnavailableError(StateError, RuntimeError):
    """Rendering failed for a reason outside the document (memory pressure, the renderer's
    process could not start or was killed): trying again may work, so it is never cached."""


def looks_like_svg(data: bytes) -> bool:
    """True when the bytes start like an SVG document (whatever the file is called)."""
    head = data[:2048].lstrip().lower()
    return head.startswith((b"<svg", b"<?xml", b"<!doctype svg")) and b"<svg" in head


@lru_cache(maxsize=1)
def renderer_version() -> str:
    """Name of the renderer and its version, part of the raster cache key."""
    import cairosvg

    return f"cairosvg-{cairosvg.__version__}-prep{_PREP_VERSION}"


def _attr(attrs: bytes, name: str) -> str | None:
    m = re.search(rb"(?:^|\s)" + name.encode() + rb"\s*=\s*([\"'])(.*?)\1", attrs, re.S)
    return m.group(2).decode("utf-8", "replace") if m else None


def _length_px(value: str | None) -> float | None:
    """An absolute SVG length in px; None for percentages, missing or unparsable values."""
    px = parse_length(value)
    return px if px is not None and 0 < px <= MAX_SVG_SIDE else None


def parse_length(value: str | None, percent_of: float | None = None) -> float | None:
    """An SVG length in px: absolute units, or a percentage of ``percent_of`` when given.

    None for a missing or unparsable value (or a percentage without ``percent_of``).

    Example:
        >>> parse_length("2in"), parse_length("50%", 300.0), parse_length("auto")
        (192.0, 150.0, None)
    """
    if value is None:
        return None
    m = _LENGTH.match(value)
    if not m:
        return None
    number, unit = float(m.group(1)), m.group(2)
    if not math.isfinite(number):
        return None
    if unit == "%":
        return None if percent_of is None else number * percent_of / 100
    return number * _UNIT_PX[unit] if unit in _UNIT_PX else None


def check_declared_size(data: bytes) -> None:
    """Refuse a root ``<svg>`` whose declared size is impossible, instead of drawing it at a
    default size: a width or height that is not a length (``auto`` aside), not above zero,
    not finite or over :data:`MAX_SVG_SIDE` px, and a viewBox that is not four finite
    numbers with a positive width and height.

    Raises:
        SvgRenderError: naming the attribute and its value.
    """
    m = _SVG_START.search(data)
    if m is None:
        return
    attrs = m.group("attrs")
    for name in ("width", "height"):
        value = _attr(attrs, name)
        if value is None or value.strip() == "auto":
            continue
        px = parse_length(value, percent_of=100.0)  # a percentage: checked as a number
        if px is None:
            raise SvgRenderError(f"the <svg> {name} {value[:40]!r} is not a length")
        if not 0 < px <= MAX_SVG_SIDE:
            raise SvgRenderError(
                f"the <svg> {name} {value[:40]!r} is an impossible size "
                f"(it must be above 0 and at most {MAX_SVG_SIDE:g} px)"
            )
    box = _attr(attrs, "viewBox")
    if box is not None:
        try:
            parts = [float(p) for p in re.split(r"[\s,]+", box.strip())]
        except ValueError:
            parts = []
        if len(parts) != 4 or not all(map(math.isfinite, parts)) or min(parts[2:]) <= 0:
            raise SvgRenderError(
                f"the <svg> viewBox {box[:60]!r} is not four numbers with a positive size"
            )


def intrinsic_size(data: bytes) -> tuple[float, float] | None:
    """Width and height (px) declared by the root ``<svg>``: width/height, else viewBox.

    Returns None when the document has no root ``<svg>`` start tag.
    """
    m = _SVG_START.search(data)
    if not m:
        return None
    attrs = m.group("attrs")
    width, height = _length_px(_attr(attrs, "width")), _length_px(_attr(attrs, "height"))
    box = _viewbox(attrs)
    if width and height:
        return width, height
    if box:
        bw, bh = box
        if width:  # one absolute side: keep the viewBox aspect ratio
            return width, width * bh / bw
        if height:
            return height * bw / bh, height
        return bw, bh
    return DEFAULT_SVG_SIZE


def _viewbox(attrs: bytes) -> tuple[float, float] | None:
    box = _attr(attrs, "viewBox")
    if not box:
        return None
    try:
        parts = [float(p) for p in re.split(r"[\s,]+", box.strip())]
    except ValueError:
        return None
    if len(parts) != 4 or parts[2] <= 0 or parts[3] <= 0:
        return None
    return parts[2], parts[3]


def substitute_entities(data: bytes) -> bytes:
    """Drop the DOCTYPE and replace references to its plain-text entities, once.

    Entity values that contain markup or other references are replaced by nothing, so the
    substitution never recurses (no "billion laughs"). Raises SvgRenderError if the result
    would grow beyond a fixed bound.
    """
    m = _DOCTYPE.search(data)
    if not m:
        return data
    values: dict[bytes, bytes] = {}
    for decl in _ENTITY_DECL.finditer(m.group("subset") or b""):
        value = decl.group("value")
        values[decl.group("name")] = b"" if (b"&" in value or b"<" in value) else value
    body = data[: m.start()] + data[m.end() :]

    def repl(ref: re.Match[bytes]) -> bytes:
        name = ref.group("name")
        return ref.group(0) if name in _XML_PREDEFINED else values.get(name, b"")

    out = _ENTITY_REF.sub(repl, body)
    if len(out) > _MAX_GROWTH * len(data) + (1 << 20):
        raise SvgRenderError("entity substitution grows the document too much")
    return out


def _with_absolute_size(data: bytes, width: float, height: float) -> bytes:
    """Set absolute width/height on the root ``<svg>``, keeping the viewBox."""
    m = _SVG_START.search(data)
    if m is None:
        raise SvgRenderError("no <svg> root element")
    attrs = m.group("attrs")
    attrs = re.sub(rb"(^|\s)(width|height)\s*=\s*([\"']).*?\3", rb"\1", attrs, flags=re.S)
    if not _viewbox(attrs):
        # Without a viewBox the new size would crop; map the old user space onto it.
        attrs += f' viewBox="0 0 {width:g} {height:g}"'.encode()
    new = attrs.rstrip(b"/") + f' width="{width:g}" height="{height:g}"'.encode()
    if attrs.rstrip().endswith(b"/"):
        new += b"/"
    start = data[: m.start("attrs")]
    return start + new + data[m.end("attrs") :]


def prepare_svg(data: bytes) -> tuple[bytes, tuple[float, float]]:
    """SVG bytes cairosvg can render safely, and their intrinsic size in px."""
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data, MAX_SVG_BYTES)
    elif len(data) > MAX_SVG_BYTES:
        raise SvgBudgetError(f"the SVG is {len(data)} bytes; the limit is {MAX_SVG_BYTES}")
    data = substitute_entities(data)
    # CSS Color 4 allows "fill-opacity: 50%"; cairosvg wants a number.
    data = _PERCENT_OPACITY.sub(lambda m: m.group(1) + b"%g" % (float(m.group(2)) / 100), data)
    check_declared_size(data)
    size = intrinsic_size(data)
    if size is None:
        raise SvgRenderError("no <svg> root element")
    m = _SVG_START.search(data)
    assert m is not None
    attrs = m.group("attrs")
    if not (_length_px(_attr(attrs, "width")) and _length_px(_attr(attrs, "height"))):
        data = _with_absolute_size(data, *size)
    return data, size


def _gunzip(data: bytes, limit: int) -> bytes:
    """A .svgz decompressed, refused as soon as it grows past ``limit`` bytes."""
    import zlib

    inflate = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        out = inflate.decompress(data, limit + 1)
    except zlib.error as err:
        raise SvgRenderError(f"corrupt .svgz: {err}") from None
    if len(out) > limit:
        raise SvgBudgetError(f"the .svgz decompresses to more than {limit} bytes (the limit)")
    if not inflate.eof:
        raise SvgRenderError("corrupt .svgz: the compressed data is truncated")
    return out
