"""Small text helpers shared by the readers: cleaning, tag lists, tolerant decoding."""

from __future__ import annotations

from collections.abc import Iterable

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".svg", ".svgz"}
)


def clean_text(value: object) -> str:
    """A field value as one line of text: whitespace runs collapsed, "" for None."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    return " ".join(value.split())


def split_tags(value: object, *, whitespace: bool = False) -> tuple[str, ...]:
    """Tags from a list or a delimited string, cleaned, empty ones dropped, order kept.

    A string is split on ``;`` when it has one, else on ``,``; with ``whitespace=True`` a
    string holding neither is split on whitespace (Flickr's tag strings).
    """
    if value is None:
        return ()
    if isinstance(value, str):
        if ";" in value:
            parts: Iterable[object] = value.split(";")
        elif "," in value:
            parts = value.split(",")
        else:
            parts = value.split() if whitespace else [value]
    elif isinstance(value, (list, tuple)):
        parts = value
    else:
        parts = [value]
    tags = (clean_text(p) for p in parts)
    return tuple(dict.fromkeys(t for t in tags if t))


def decode_text(data: bytes) -> tuple[str, str]:
    """UTF-8 text of some bytes, and a problem when they were not valid UTF-8.

    Invalid bytes are replaced by U+FFFD so the rest of the text survives.
    """
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError as err:
        problem = f"not valid UTF-8 (byte {err.start}); undecodable bytes replaced"
        return data.decode("utf-8-sig", "replace"), problem
