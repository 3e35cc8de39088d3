"""What an SVG would cost to render, read from the document before it is rendered.

cairosvg's memory goes to the output surface (the declared size times the render scale),
to every embedded raster (decoded in full, at its own size, each time it is drawn) and to
every pattern tile and mask (an offscreen surface the size of the tile in user units, made
each time it paints); its CPU time grows with the elements it draws, each ``<use>`` and
each ``url(#...)`` reference drawing its target again. :func:`check_svg_budget` reads the
document once (defusedxml; entity-free after :func:`~pictext.data.svg.prepare_svg`), adds
those costs up through the references and refuses a document over budget with an
:class:`~pictext.data.svg.SvgBudgetError` naming the element and the budget.

Only the data an image's header gives is decoded (the first bytes of a ``data:`` URI). The
check is a fast, named refusal, not a proof: what it cannot see (a pattern sized by a
path's bounding box, CSS that paints with a pattern) is bounded by the renderer's own
process limits (:mod:`pictext.data.svg.render`).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from pictext.core.defaults import MAX_SVG_ELEMENTS, MAX_SVG_RASTER_PIXELS
from pictext.data.svg import SvgBudgetError, parse_length

__all__ = ["SvgBudget", "SvgCost", "check_svg_budget"]

_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_URL = re.compile(r"url\(\s*['\"]?#([^)'\"\s]+)")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_SHAPES = frozenset({"rect", "circle", "ellipse", "line", "polyline", "polygon", "path", "text"})
_INHERITED = ("fill", "stroke", "marker-start", "marker-mid", "marker-end")
_OWN = ("mask", "clip-path", "filter")
_HEAD_BYTES = 1 << 16  # of an embedded raster: enough for a PNG/GIF/JPEG header
_MAX_NESTING = 4  # SVG documents inside data: URIs inside SVG documents


@dataclass(frozen=True)
class SvgBudget:
    """What one SVG rendering may cost."""

    max_elements: int = MAX_SVG_ELEMENTS  # elements drawn, each reference drawing again
    max_raster_pixels: int = MAX_SVG_RASTER_PIXELS  # embedded images + tiles + masks


@dataclass
class SvgCost:
    """What rendering a document would take."""

    elements: int = 0  # elements drawn, references expanded
    raster_pixels: int = 0  # pixels of embedded rasters, pattern tiles and masks drawn
    biggest: dict[str, int] = field(default_factory=dict)  # what -> its pixels, per item

    def add(self, other: SvgCost, times: int = 1) -> None:
        self.elements += other.elements * times
        self.raster_pixels += other.raster_pixels * times


def check_svg_budget(
    svg: bytes, size: tuple[float, float], budget: SvgBudget | None = None
) -> SvgCost:
    """The cost of rendering ``svg``, or an error when it is over ``budget``.

    Args:
        svg: a prepared document (:func:`~pictext.data.svg.prepare_svg`: no DOCTYPE).
        size: its intrinsic width and height in px (percentages refer to it).
        budget: the limits (default: the ones of :mod:`pictext.core.defaults`).

    Raises:
        SvgBudgetError: an embedded image, tile or mask, or the whole, over budget.
    """
    budget = budget or SvgBudget()
    cost = _Document(svg, size, budget, depth=0).total()
    if cost is None:  # not parseable here: the renderer will say why
        return SvgCost()
    return cost


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _props(el: Any) -> dict[str, str]:
    """Presentation attributes with the ``style`` attribute's declarations over them."""
    out = {k: v for k, v in el.attrib.items() if k in _INHERITED or k in _OWN}
    for decl in (el.get("style") or "").split(";"):
        name, _, value = decl.partition(":")
        name = name.strip()
        if name in _INHERITED or name in _OWN:
            out[name] = value.strip()
    return out


def _ref(value: str | None) -> str | None:
    m = _URL.search(value or "")
    return m.group(1) if m else None


def _href(el: Any) -> str:
    return (el.get(_XLINK_HREF) or el.get("href") or "").strip()


def _name(el: Any) -> str:
    ident = el.get("id")
    return f"<{_local(el.tag)} id={ident!r}>" if ident else f"<{_local(el.tag)}>"


class _Document:
    """One parsed document and the memo of its elements' costs."""

    def __init__(self, svg: bytes, size: tuple[float, float], budget: SvgBudget, depth: int):
        self.size, self.budget, self.depth = size, budget, depth
        self.root = self._parse(svg)
        if self.root is None:
            return
        self.ids = {el.get("id"): el for el in self.root.iter() if el.get("id")}
        self.memo: dict[tuple[int, tuple[str | None, ...]], SvgCost] = {}
        self.active: set[int] = set()

    def _parse(self, svg: bytes) -> Any:
        """The element tree, parsing no further than the element budget."""
        events = ElementTree.iterparse(io.BytesIO(svg), events=("start",), forbid_dtd=True)
        try:
            for n, _ in enumerate(events, start=1):
                if n > self.budget.max_elements:
                    raise SvgBudgetError(
                        f"the SVG has more than {self.budget.max_elements} elements "
                        "(the budget of elements drawn)"
                    )
        except (ElementTree.ParseError, DefusedXmlException, ValueError):
            return None
        return events.root  # type: ignore[attr-defined]

    def total(self) -> SvgCost | None:
        if self.root is None:
            return None
        cost = self.cost(self.root, (None,) * len(_INHERITED))
        self._check_total(cost)
        return cost

    def _check_total(self, cost: SvgCost) -> None:
        if cost.elements > self.budget.max_elements:
            raise SvgBudgetError(
                f"the SVG draws {cost.elements} elements counting each <use> and reference "
                f"expansion; the budget is {self.budget.max_elements}"
            )
        if cost.raster_pixels > self.budget.max_raster_pixels:
            raise SvgBudgetError(
                f"the SVG's embedded images, pattern tiles and masks take {cost.raster_pixels} "
                f"pixels together; the budget is {self.budget.max_raster_pixels}"
            )

    def cost(self, el: Any, inherited: tuple[str | None, ...]) -> SvgCost:
        """Cost of drawing ``el`` once, with the paint it inherits."""
        props = _props(el)
        paint = tuple(
            inherited[i] if props.get(name) in (None, "inherit") else _ref(props[name])
            for i, name in enumerate(_INHERITED)
        )
        key = (id(el), paint)
        if key in self.memo:
            return self.memo[key]
        if id(el) in self.active:
            raise SvgBudgetError(f"{_name(el)} refers to itself: its drawing never ends")
        self.active.add(id(el))
        try:
            cost = SvgCost(elements=1)
            self._own_cost(el, props, paint, cost)
            for child in el:
                cost.add(self.cost(child, paint))
            # A referenced subtree is drawn again each time: stop early when over budget.
            self._check_total(cost)
        finally:
            self.active.discard(id(el))
        self.memo[key] = cost
        return cost

    def _own_cost(
        self, el: Any, props: dict[str, str], paint: tuple[str | None, ...], cost: SvgCost
    ) -> None:
        tag = _local(el.tag)
        if tag == "image":
            self._image(el, cost)
        elif tag == "use":
            href = _href(el)
            target = self.ids.get(href[1:]) if href.startswith("#") else None
            if target is not None:
                cost.add(self.cost(target, paint))
            elif href.startswith("data:"):
                self._nested(el, href, cost)
        for name in _OWN:
            target = self.ids.get(_ref(props.get(name)) or "")
            if target is not None:
                if _local(target.tag) == "mask":
                    self._pixels(target, self._mask_size(target, el), "mask", cost)
                cost.add(self.cost(target, (None,) * len(_INHERITED)))
        if tag not in _SHAPES:
            return
        for i in (0, 1):  # fill, stroke
            target = self.ids.get(paint[i] or "")
            if target is not None:
                if _local(target.tag) == "pattern":
                    self._pixels(target, self._tile_size(target, el), "pattern tile", cost)
                cost.add(self.cost(target, (None,) * len(_INHERITED)))
        vertices = max(1, len(_NUMBER.findall(el.get("d") or el.get("points") or "")) // 2)
        for i, times in ((2, 1), (3, vertices), (4, 1)):
            target = self.ids.get(paint[i] or "")
            if target is not None:
                cost.add(self.cost(target, (None,) * len(_INHERITED)), times)

    # ---- offscreen surfaces --------------------------------------------------------------
    def _pixels(self, el: Any, size: tuple[float, float] | None, what: str, cost: SvgCost) -> None:
        if size is None:
            return
        pixels = math.ceil(max(size[0], 0.0)) * math.ceil(max(size[1], 0.0))
        if pixels > self.budget.max_raster_pixels:
            raise SvgBudgetError(
                f"{what} {_name(el)} is {size[0]:.0f}x{size[1]:.0f} pixels, over the budget "
                f"of {self.budget.max_raster_pixels} pixels"
            )
        cost.raster_pixels += pixels

    def _inherit(self, el: Any, name: str, default: str | None = None) -> str | None:
        """An attribute of a pattern, through the chain of patterns it ``href``s."""
        seen: set[int] = set()
        while el is not None and id(el) not in seen:
            if el.get(name) is not None:
                return el.get(name)
            seen.add(id(el))
            href = _href(el)
            el = self.ids.get(href[1:]) if href.startswith("#") else None
        return default

    def _tile_size(self, pattern: Any, user: Any) -> tuple[float, float] | None:
        """The tile surface cairosvg makes for ``pattern`` painting ``user``."""
        width, height = self._inherit(pattern, "width", "0"), self._inherit(pattern, "height", "0")
        if self._inherit(pattern, "viewBox") or (
            self._inherit(pattern, "patternUnits") == "userSpaceOnUse"
        ):
            w, h = parse_length(width, 1.0), parse_length(height, 1.0)
            return None if w is None or h is None else (w, h)
        box = self._bbox(user)
        fw, fh = parse_length(width, 1.0), parse_length(height, 1.0)
        if box is None or fw is None or fh is None:
            return None  # a path's or a text's box: left to the renderer's limits
        return fw * box[0], fh * box[1]

    def _mask_size(self, mask: Any, user: Any) -> tuple[float, float] | None:
        """The mask surface cairosvg makes for ``mask`` on ``user`` (defaults: 120%)."""
        if mask.get("maskUnits") == "userSpaceOnUse":
            ref_w, ref_h = self.size
        else:
            ref_w = parse_length(user.get("width"), self.size[0]) or self.size[0]
            ref_h = parse_length(user.get("height"), self.size[1]) or self.size[1]
        w = parse_length(mask.get("width", "120%"), ref_w)
        h = parse_length(mask.get("height", "120%"), ref_h)
        return None if w is None or h is None else (w, h)

    def _bbox(self, el: Any) -> tuple[float, float] | None:
        """Width and height of a shape in its user units, where the attributes say it."""
        tag, sw, sh = _local(el.tag), self.size[0], self.size[1]
        if tag in ("rect", "image", "use", "svg"):
            w, h = parse_length(el.get("width"), sw), parse_length(el.get("height"), sh)
            return None if w is None or h is None else (w, h)
        if tag == "circle":
            r = parse_length(el.get("r"), math.hypot(sw, sh) / math.sqrt(2))
            return None if r is None else (2 * r, 2 * r)
        if tag == "ellipse":
            rx, ry = parse_length(el.get("rx"), sw), parse_length(el.get("ry"), sh)
            return None if rx is None or ry is None else (2 * rx, 2 * ry)
        if tag in ("polygon", "polyline"):
            nums = [float(n) for n in _NUMBER.findall(el.get("points") or "")]
            xs, ys = nums[0::2], nums[1::2]
            return (max(xs) - min(xs), max(ys) - min(ys)) if xs and ys else None
        return None

    # ---- embedded documents and rasters --------------------------------------------------
    def _image(self, el: Any, cost: SvgCost) -> None:
        href = _href(el)
        if not href.startswith("data:"):
            return  # never fetched: cairosvg's safe mode draws nothing for it
        media, payload = _split_data_uri(href)
        if "svg" in media or payload.lstrip()[:5] in (b"<svg ", b"<?xml"):
            self._nested(el, href, cost)
            return
        from PIL import Image

        try:
            size = _raster_size(media, payload)
        except Image.DecompressionBombError:
            raise SvgBudgetError(
                f"embedded image {_name(el)} is over Pillow's decompression-bomb limit"
            ) from None
        self._pixels(el, size, "embedded image", cost)

    def _nested(self, el: Any, href: str, cost: SvgCost) -> None:
        """An SVG document inside a ``data:`` URI: its own cost, drawn here."""
        if self.depth + 1 >= _MAX_NESTING:
            raise SvgBudgetError(
                f"{_name(el)} nests SVG documents in data: URIs more than {_MAX_NESTING} deep"
            )
        from pictext.data.svg import SvgRenderError, prepare_svg

        try:
            svg, size = prepare_svg(_data_bytes(*_split_data_uri(href)))
        except SvgRenderError:
            return  # cairosvg cannot draw it either: nothing drawn
        nested = _Document(svg, size, self.budget, self.depth + 1).total()
        if nested is not None:
            cost.add(nested)


def _split_data_uri(href: str) -> tuple[str, bytes]:
    """``data:[media][;base64],payload`` -> (``media;params``, the raw payload bytes)."""
    head, _, payload = href[5:].partition(",")
    return head.lower(), payload.encode("utf-8")


def _data_bytes(media: str, payload: bytes, limit: int | None = None) -> bytes:
    """The bytes a data URI holds (only the first ``limit`` or so when given)."""
    if not media.endswith(";base64"):
        return unquote_to_bytes(payload if limit is None else payload[: 3 * limit])
    if limit is not None:
        payload = re.sub(rb"\s+", b"", payload[: 2 * limit])[: 4 * (limit // 3)]
    else:
        payload = re.sub(rb"\s+", b"", payload)
    payload = payload[: len(payload) // 4 * 4]
    try:
        return base64.b64decode(payload)
    except (binascii.Error, ValueError):
        return b""


def _raster_size(media: str, payload: bytes) -> tuple[int, int] | None:
    """Width and height of an embedded raster from its header (all of it only if needed)."""
    size = _image_size(_data_bytes(media, payload, _HEAD_BYTES))
    if size is None and len(payload) > _HEAD_BYTES:  # a long header (EXIF, ICC) before the size
        size = _image_size(_data_bytes(media, payload))
    return size


def _image_size(data: bytes) -> tuple[int, int] | None:
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as img:
                return img.size
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
            return None
