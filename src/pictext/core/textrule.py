"""The one text rule: how every text field and query is normalised, wherever it enters.

Readers, the command line and the service all build :class:`~pictext.data.item.Item`
objects, which apply :func:`normalize_text` to their title, description and tags; queries
apply it before they are read. The rule:

- Unicode NFC;
- zero-width characters (U+200B-U+200D, U+2060, U+FEFF) and bidirectional controls
  (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) are removed: they change how a
  text looks or sorts, never what it says;
- other control characters (C0, DEL, C1) become spaces, except NUL, which is kept so that
  :func:`~pictext.data.text.text_problem` refuses the text as binary data everywhere; a text
  with more than ``STRAY_CONTROLS`` controls making up more than
  :data:`~pictext.core.defaults.UNREADABLE_TEXT_SHARE` of its visible characters is binary
  data, not text with a stray control, and is left as it is for that check to refuse.

:func:`escape_controls` is the rule for logs: a name holding a newline stays on one line.
"""

from __future__ import annotations

import re
import unicodedata

from pictext.core.defaults import UNREADABLE_TEXT_SHARE

INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u061c\u200e\u200f" + "".join(
    chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
)
_INVISIBLE = re.compile(f"[{INVISIBLE}]")
_CONTROLS = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # not NUL, tab, CR, LF
_LOG_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{INVISIBLE}]")


STRAY_CONTROLS = 2  # at most this many controls are always stray (become spaces)


def normalize_text(text: str) -> str:
    """``text`` under the one text rule (see the module docstring).

    Example:
        >>> normalize_text("a\u200b red\x07car\u202e")
        'a red car'
    """
    if text.isascii() and text.isprintable():
        return text  # the common case: nothing to do
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", text))
    visible = sum(not ch.isspace() for ch in text)
    controls = len(_CONTROLS.findall(text))
    if controls > STRAY_CONTROLS and controls / visible > UNREADABLE_TEXT_SHARE:
        return text  # binary data: text_problem names it
    return _CONTROLS.sub(" ", text)


def escape_controls(text: str) -> str:
    """``text`` with control, line-separator, zero-width and bidi characters escaped
    (``\\n``, ``\\x07``, ``\\u202e``): one log record stays one line and shows what it holds.
    """
    return _LOG_UNSAFE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)
