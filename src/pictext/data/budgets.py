"""The budgets on inputs that are not pixels: text length and tag count.

One place for the CLI, the service and the library: :func:`cap_item_text` is applied by the
one path for new inputs (:func:`pictext.store.embed.embed_items`) before any text reaches an
encoder, so a 1 MB description costs what 4000 characters cost, whoever sent it. A cut
text is not an error: the item is answered for, and the cut is reported as a
:class:`Truncation` (``Features.truncated``) for the front end to show. ``k`` above its
budget is refused (:func:`check_k`): a list that long is never what was meant.

Pixel budgets live with the decoders (:mod:`pictext.data.images`, :mod:`pictext.data.svg.budget`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from pictext.core.defaults import MAX_TAGS, MAX_TEXT_CHARS

if TYPE_CHECKING:
    from pictext.data.item import Item

__all__ = ["Truncation", "cap_item_text", "cap_items_text", "cap_text"]

_log = logging.getLogger(__name__)
_LOGGED = 3  # truncations logged one by one; more are counted in one line


class Truncation(NamedTuple):
    """One field of one item that was cut to its budget before it was encoded."""

    item_id: str  # the item
    field: str  # "title", "description" or "tags"
    size: int  # characters (tags: number of tags) it had
    limit: int  # characters (tags: number of tags) it was cut to
    unit: str = "characters"  # what size and limit count

    def __str__(self) -> str:
        return (
            f"{self.item_id}: {self.field} cut to its first {self.limit} {self.unit} "
            f"(it has {self.size})"
        )


def cap_text(text: str, limit: int = MAX_TEXT_CHARS) -> tuple[str, bool]:
    """``text`` cut to at most ``limit`` characters (at a space when one is near), and
    whether it was cut."""
    if len(text) <= limit:
        return text, False
    cut = text[:limit]
    space = cut.rfind(" ", max(0, limit - 64))  # do not end inside a word when avoidable
    return (cut[:space] if space > 0 else cut).rstrip(), True


def cap_item_text(
    item: Item, *, max_chars: int = MAX_TEXT_CHARS, max_tags: int = MAX_TAGS
) -> tuple[Item, list[Truncation]]:
    """The item with its title, description and tags within budget, and what was cut.

    The title and the description keep their first ``max_chars`` characters; the tags keep
    their first ``max_tags`` tags, then as many as fit in ``max_chars`` characters joined.
    The item itself is returned when nothing needed cutting.

    Example:
        >>> from pictext.data.item import Item
        >>> short, cuts = cap_item_text(Item("a", description="word " * 2000), max_chars=10)
        >>> short.description, str(cuts[0])
        ('word word', 'a: description cut to its first 10 characters (it has 9999)')
    """
    cuts: list[Truncation] = []
    changes: dict[str, object] = {}
    for name in ("title", "description"):
        value, cut = cap_text(getattr(item, name), max_chars)
        if cut:
            changes[name] = value
            cuts.append(Truncation(item.id, name, len(getattr(item, name)), max_chars))
    tags = item.tags
    if len(tags) > max_tags:
        cuts.append(Truncation(item.id, "tags", len(tags), max_tags, "tags"))
        tags = tags[:max_tags]
    joined = ", ".join(tags)
    if len(joined) > max_chars:
        cuts.append(Truncation(item.id, "tags", len(joined), max_chars))
        kept, used = [], 0
        for tag in tags:
            used += len(tag) + (2 if kept else 0)
            if used > max_chars:
                break
            kept.append(tag)
        tags = tuple(kept) or (cap_text(tags[0], max_chars)[0],)
    if tags != item.tags:
        changes["tags"] = tags
    return (dataclasses.replace(item, **changes) if changes else item), cuts


def cap_items_text(
    items: Sequence[Item], *, max_chars: int = MAX_TEXT_CHARS, max_tags: int = MAX_TAGS
) -> tuple[list[Item], list[Truncation]]:
    """:func:`cap_item_text` over ``items``; every cut is also logged (a warning per cut,
    the first few one by one), so a front end that shows no notes still says it."""
    out, cuts = [], []
    for item in items:
        capped, cut = cap_item_text(item, max_chars=max_chars, max_tags=max_tags)
        out.append(capped)
        cuts += cut
    for cut in cuts[:_LOGGED]:
        _log.warning("%s", cut)
    if len(cuts) > _LOGGED:
        _log.warning("and %d more text fields cut to their budget", len(cuts) - _LOGGED)
    return out, cuts
