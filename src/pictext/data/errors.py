"""Errors raised while reading items."""

from __future__ import annotations

from pictext.core.errors import InputError, NotFoundError


class ItemError(InputError, ValueError):
    """An item that cannot be used, with the item and the problem named.

    Readers and the embedding store catch it per item, report it and go on.
    """

    def __init__(self, item_id: str, problem: str) -> None:
        super().__init__(f"{item_id}: {problem}", item=item_id)
        self.item_id = item_id
        self.problem = problem


class DatasetNotFoundError(NotFoundError, FileNotFoundError):
    """A dataset name or path that cannot be resolved, with what to install or pass."""
