"""The one text rule, for every field and entry point, and one-line logs."""

from __future__ import annotations

import logging

import pytest

from pictext.core.logs import OneLineFormatter
from pictext.core.textrule import INVISIBLE, escape_controls, normalize_text
from pictext.data.item import Item
from pictext.data.text import text_problem

CONTROLS = [
    chr(c) for c in (*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0))
]


@pytest.mark.parametrize("ch", list(INVISIBLE), ids=lambda c: f"U+{ord(c):04X}")
def test_every_zero_width_and_bidi_character_is_removed_from_every_field(ch):
    item = Item("x", title=f"red{ch} car", description=f"{ch}big", tags=(f"ve{ch}hicle", ch))
    assert (item.title, item.description, item.tags) == ("red car", "big", ("vehicle",))


@pytest.mark.parametrize("ch", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_every_control_character_becomes_a_space(ch):
    assert normalize_text(f"red{ch}car") == "red car"
    assert Item("x", title=f"red{ch}car").title == "red car"


def test_nul_is_kept_so_the_text_is_refused_as_binary_everywhere():
    item = Item("x", title="a\x00b")
    assert "NUL" in text_problem(item.title)


def test_nfc_makes_one_spelling():
    assert Item("x", title="cafe\u0301").title == Item("y", title="caf\u00e9").title


def test_plain_text_is_untouched():
    text = "A plain title, with tabs\tand lines\n"
    assert normalize_text(text) == text


@pytest.mark.parametrize(
    "name", ["a\nb.png", "a\rb.png", "a\x1b[31mred.png", "a\u2028b.png", "a\u202eb.png"]
)
def test_a_log_record_stays_one_line_whatever_the_name(name):
    record = logging.LogRecord("t", logging.WARNING, "f", 1, "cannot read %s", (name,), None)
    line = OneLineFormatter("%(levelname)s %(message)s").format(record)
    assert len(line.splitlines()) == 1
    assert line.isprintable()
    assert escape_controls(name) in line
