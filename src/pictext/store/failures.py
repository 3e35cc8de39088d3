"""Items that could not be read, named: what the one path for new inputs hands back.

A front end must not answer for an item whose input was never read: :func:`require_read`
turns the failures into one :class:`UnreadableItemsError` whose message names them on one
line (the CLI prints it and exits non-zero, the service answers 400).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from pictext.core.errors import InputError


class Failure(NamedTuple):
    """An item whose input could not be read: the item and the problem."""

    item_id: str  # the item
    problem: str  # what went wrong, e.g. "image file not found: a.png"

    def __str__(self) -> str:
        return f"{self.item_id}: {self.problem}"


class UnreadableItemsError(InputError, ValueError):
    """Items were asked about but could not be read: nothing is answered for them.

    The message is one line naming the item (or the first few and how many).

    Example:
        >>> str(UnreadableItemsError([Failure("a.png", "image file not found: a.png")]))
        'cannot read a.png: image file not found: a.png'
    """

    def __init__(self, failures: Sequence[Failure]) -> None:
        self.failures = list(failures)
        shown = "; ".join(str(f) for f in self.failures[:3])
        more = f" (and {len(self.failures) - 3} more)" if len(self.failures) > 3 else ""
        what = "" if len(self.failures) == 1 else f"{len(self.failures)} items: "
        super().__init__(f"cannot read {what}{shown}{more}".replace("\n", " "))


def require_read(failures: Sequence[Failure]) -> None:
    """Raise :class:`UnreadableItemsError` when any item failed to be read."""
    if failures:
        raise UnreadableItemsError(failures)
