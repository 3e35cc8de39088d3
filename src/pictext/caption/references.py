"""Which text of an item is its reference caption, and which texts a captioner may learn from.

An item offers up to three texts: a title, a description and tags. The *reference* (what
captions are scored against) is one of them, or title and description joined; the other
fields can be added to the *training* captions (:func:`training_captions`), an option
measured on validation by ``bench/caption.py``.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING

from pictext.caption.text import clean_caption

if TYPE_CHECKING:
    from pictext.data.dataset import Dataset
    from pictext.data.item import Item

FIELDS: tuple[str, ...] = ("auto", "description", "title", "title+description")
EXTRA_FIELDS: tuple[str, ...] = ("title", "description", "tags")  # training-only additions


def reference_captions(dataset: Dataset, field: str = "auto") -> list[str]:
    """Cleaned reference caption per item.

    Args:
        dataset: The items.
        field: ``description``; ``title``; ``title+description`` (joined by
            :func:`join_captions`); ``auto``: description for tuxpaint (its titles are file
            names), title+description otherwise.
    """
    if field not in FIELDS:
        raise ValueError(f"unknown caption field {field!r}; use one of {FIELDS}")
    if field == "auto":
        field = "description" if dataset.name == "tuxpaint" else "title+description"
    out = []
    for item in dataset.items:
        title, desc = clean_caption(item.title), clean_caption(item.description)
        if field == "description":
            out.append(desc)
        elif field == "title":
            out.append(title)
        else:
            out.append(join_captions(title, desc))
    return out


def training_captions(
    dataset: Dataset, references: list[str], extra: tuple[str, ...] = ()
) -> list[list[str]]:
    """Per item its reference first, then the cleaned ``extra`` fields that differ from it.

    Args:
        dataset: The items (same order as ``references``).
        references: From :func:`reference_captions`.
        extra: Fields of :data:`EXTRA_FIELDS` to add (``tags`` become one phrase).
    """
    unknown = set(extra) - set(EXTRA_FIELDS)
    if unknown:
        raise ValueError(f"unknown extra caption fields {sorted(unknown)}; use {EXTRA_FIELDS}")
    out = []
    for item, ref in zip(dataset.items, references, strict=True):
        texts = [ref] if ref else []
        for name in extra:
            text = _field(item, name)
            if text and text not in texts:
                texts.append(text)
        out.append(texts)
    return out


def join_captions(first: str, second: str) -> str:
    """Two cleaned captions as one, without saying a part twice.

    One inside the other, or the two sharing a word pair (a description restating its
    title), gives the longer one; otherwise the words where the end of ``first`` meets the
    start of ``second`` are said once.

    Example:
        >>> join_captions("dead frogs", "dead frogs nothing more")
        'dead frogs nothing more'
        >>> join_captions("slim cell phone", "slim blue cell phone")
        'slim blue cell phone'
        >>> join_captions("cartoon squirrel", "squirrel animal")
        'cartoon squirrel animal'
    """
    a, b = first.split(), second.split()
    shared = bool(_pairs(a) & _pairs(b))
    if f" {first} " in f" {second} " or (shared and len(b) >= len(a)):
        return second
    if f" {second} " in f" {first} " or shared:
        return first
    overlap = next((n for n in range(min(len(a), len(b)), 0, -1) if a[-n:] == b[:n]), 0)
    return " ".join(a + b[overlap:])


def _pairs(words: list[str]) -> set[tuple[str, str]]:
    return set(pairwise(words))


def _field(item: Item, name: str) -> str:
    if name == "tags":
        return clean_caption(" ".join(item.tags))
    return clean_caption(getattr(item, name))
