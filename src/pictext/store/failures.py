"""Items that could not be read, named: what the one path for new inputs hands back.

A front end must not answer for an item whose input was never read: :func:`require_read`
turns the failures into one :class:`UnreadableItemsError` whose message names them on one
line (the CLI prints it and exits non-zero, the service answers 400).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from pictext.core.errors import InputError
from pictext.data.item import TEXT_FIELDS
from pictext.data.text import text_problem

if TYPE_CHECKING:
    from pictext.data.item import Item

T = TypeVar("T")


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


def text_failures(items: Sequence[Item], fields: Iterable[str]) -> list[Failure]:
    """The items whose text in ``fields`` is not readable text (see
    :func:`~pictext.data.text.text_problem`): binary data or bytes that were never UTF-8.

    A new input with such a text is not answered for: a classifier would still give it a
    confident, "calibrated" label.
    """
    names = list(dict.fromkeys(fields))
    if "text" in names:  # the concatenation: check the fields it is made of
        names = list(TEXT_FIELDS)
    out = []
    for item in items:
        for name in names:
            problem = text_problem(item.field_text(name))
            if problem:
                out.append(Failure(item.id, f"{name} is not text: {problem}"))
                break
    return out


def per_item(
    ids: Sequence[str], failures: Sequence[Failure], answers: Sequence[T]
) -> list[T | Failure]:
    """Answers of the items that were read, and the failures of the others, in item order.

    Args:
        ids: every item asked about, in order.
        failures: the items that could not be read.
        answers: one per item that was read (those of :func:`read_rows`), in order.
    """
    failed = {f.item_id: f for f in failures}
    it = iter(answers)
    return [failed[i] if i in failed else next(it) for i in ids]


def all_read(answers: Sequence[T | Failure]) -> list[T]:
    """The answers of :func:`per_item` when every item was read; else
    :class:`UnreadableItemsError` naming the failed ones (what a strict call answers)."""
    require_read([a for a in answers if isinstance(a, Failure)])
    return list(answers)  # type: ignore[arg-type]  # no Failure is left


def read_rows(ids: Sequence[str], failures: Sequence[Failure]) -> list[int]:
    """Rows of ``ids`` whose item was read (no failure names it)."""
    failed = {f.item_id for f in failures}
    return [i for i, item_id in enumerate(ids) if item_id not in failed]
