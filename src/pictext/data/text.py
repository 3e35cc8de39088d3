"""Small text helpers shared by the readers: cleaning, tag lists, tolerant decoding."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from pictext.core.defaults import UNREADABLE_TEXT_SHARE

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


# Unicode categories that are no text: controls, lone surrogates (bytes that were not
# UTF-8, kept by Python's surrogateescape), private use and unassigned code points.
_NOT_TEXT = frozenset({"Cc", "Cs", "Co", "Cn"})
_REPLACEMENT = "\ufffd"  # what a tolerant decoder put in place of an invalid byte


def text_problem(text: str, *, max_share: float = UNREADABLE_TEXT_SHARE) -> str:
    """Why ``text`` is not readable text, or "" when it is.

    A text is refused when it holds a NUL or bytes that were never UTF-8 (lone surrogates:
    Python's stand-ins for undecodable command-line bytes), or when more than ``max_share``
    of its visible characters are controls, replacement characters (U+FFFD) or code points
    no text uses (private, unassigned). A stray bad byte in a long text passes; a binary
    file read as a description does not.

    Example:
        >>> text_problem("a red car")
        ''
        >>> text_problem("\\x01\\x02\\x03 abc")
        '3 of 6 visible characters are control or undecodable characters'
    """
    if "\x00" in text:
        return "it holds NUL bytes (binary data?)"
    bad = visible = 0
    for ch in text:
        if ch.isspace():
            continue
        visible += 1
        category = unicodedata.category(ch)
        if category == "Cs":
            return "it holds bytes that are not UTF-8"
        if category in _NOT_TEXT or ch == _REPLACEMENT:
            bad += 1
    if visible and bad / visible > max_share:
        return f"{bad} of {visible} visible characters are control or undecodable characters"
    return ""
