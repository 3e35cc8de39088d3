"""Which texts are text: binary data and undecodable bytes are refused, real text of any
script passes."""

from __future__ import annotations

import pytest

from pictext.data.text import text_problem


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a red car on a road",
        "日本語のテキスト 🐱",
        "Ünïcödé, tabs\tand\nnew lines",
        "one stray replacement \ufffd in an otherwise fine sentence",
    ],
)
def test_text_passes(text: str) -> None:
    assert text_problem(text) == ""


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("abc\x00def", "it holds NUL bytes (binary data?)"),
        (b"\xff\xfeabc".decode("utf-8", "surrogateescape"), "it holds bytes that are not UTF-8"),
        # 255 characters: 12 are white space; 22 C0 controls, DEL and 31 C1 controls are not text
        (bytes(range(1, 256)).decode("latin-1"), "54 of 243 visible characters"),
        # 127 ASCII characters (10 white space, 23 controls) and 128 U+FFFD for the rest
        (bytes(range(256)).decode("utf-8", "replace")[1:], "151 of 245 visible characters"),
        ("\x01\x02\x03 abc", "3 of 6 visible characters"),
    ],
)
def test_binary_data_is_not_text(text: str, problem: str) -> None:
    assert text_problem(text).startswith(problem)
