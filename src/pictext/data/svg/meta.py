"""Read the RDF metadata (``<cc:Work>``: title, description, subject tags) of an SVG file.

Only the head of the file up to the end of ``<rdf:RDF>`` is read. The RDF block is parsed
with defusedxml on its own, wrapped in an element that carries the root's namespace
declarations; entity references are replaced by nothing (never expanded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

_CHUNK = 1 << 16
_RDF_END = re.compile(rb"</(?:[\w.-]+:)?RDF\s*>")
_RDF_START = re.compile(rb"<(?:[\w.-]+:)?RDF[\s>]")
_SVG_START = re.compile(rb"<(?:[\w.-]+:)?svg\b([^>]*)>", re.S)
_XMLNS = re.compile(rb"""\sxmlns(?::[\w.-]+)?\s*=\s*(["']).*?\1""", re.S)
_ENCODING = re.compile(rb"""<\?xml[^>]*encoding\s*=\s*["']([\w.:-]+)["']""")
_ENTITY_REF = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)[\w.:-]+;")


@dataclass(frozen=True)
class SvgText:
    """Text of one SVG's ``<cc:Work>``."""

    title: str = ""  # dc:title, "" when missing
    description: str = ""  # dc:description, "" when missing
    tags: tuple[str, ...] = ()  # dc:subject/rdf:Bag/rdf:li, in file order
    problem: str = ""  # why the metadata could not be read ("" when fine or absent)


def read_head(path: Path) -> bytes:
    """The file's bytes up to the end of its ``</rdf:RDF>`` (the whole file if none)."""
    out = bytearray()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            start = max(0, len(out) - 16)
            out += chunk
            if _RDF_END.search(out, start):
                break
    return bytes(out)


def _decode(head: bytes, fragment: bytes) -> tuple[str, str]:
    """Text of an XML fragment in the head's declared encoding; a problem if that failed."""
    m = _ENCODING.search(head[:200])
    encoding = m.group(1).decode("ascii") if m else "utf-8"
    try:
        return fragment.decode(encoding), ""
    except LookupError:
        return fragment.decode("utf-8", "replace"), f"unknown encoding {encoding!r}"
    except UnicodeDecodeError:
        return fragment.decode("latin-1"), f"metadata is not valid {encoding}; read as latin-1"


def parse_svg_text(head: bytes) -> SvgText:
    """Title, description and tags of the first ``<cc:Work>`` in an SVG head."""
    start, end = _RDF_START.search(head), None
    if start is not None:
        end = _RDF_END.search(head, start.start())
    if start is None or end is None:
        return SvgText()
    block = _ENTITY_REF.sub(b"", head[start.start() : end.end()])
    root = _SVG_START.search(head)
    declared = _XMLNS.finditer(root.group(1)) if root else iter(())
    namespaces = _ENTITY_REF.sub(b"", b" ".join(m.group(0).strip() for m in declared))
    wrapped = b"<wrap " + _dedupe_ns(namespaces) + b">" + block + b"</wrap>"
    xml, problem = _decode(head, wrapped)
    try:
        tree = ElementTree.fromstring(xml)
    except (ElementTree.ParseError, DefusedXmlException) as err:
        return SvgText(problem=f"unreadable RDF metadata: {err}")
    return _work_text(tree, problem)


def _dedupe_ns(namespaces: bytes) -> bytes:
    seen: dict[bytes, bytes] = {}
    for m in _XMLNS.finditer(b" " + namespaces):
        decl = m.group(0).strip()
        seen.setdefault(decl.split(b"=", 1)[0].strip(), decl)
    return b" ".join(seen.values())


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _work_text(tree: object, problem: str) -> SvgText:
    work = next((el for el in tree.iter() if _local(el.tag) == "Work"), None)  # type: ignore[attr-defined]
    if work is None:
        return SvgText(problem=problem)
    title = description = ""
    tags: list[str] = []
    for child in work:
        name = _local(child.tag)
        if name == "title" and not title:
            title = _clean("".join(child.itertext()))
        elif name == "description" and not description:
            description = _clean("".join(child.itertext()))
        elif name == "subject":
            tags += [_clean(li.text) for li in child.iter() if _local(li.tag) == "li"]
    unique = tuple(dict.fromkeys(t for t in tags if t))
    return SvgText(title, description, unique, problem)
