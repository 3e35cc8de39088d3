"""Errors of the collection store, in the project's one error family."""

from __future__ import annotations

from pictext.core.errors import InputError, NotFoundError, StateError


class CollectionError(InputError):
    """A collection cannot do what was asked (bad field, unknown label value...)."""


class ItemNotFoundError(NotFoundError):
    """No item of that id in the collection (or it was removed)."""


class ConflictError(CollectionError):
    """A write named a stale row version: someone else edited the item first (HTTP 409)."""

    status = 409
    code = "conflict"


class DamagedDatabaseError(StateError):
    """The database file exists but cannot be read; it is never re-created silently."""

    code = "damaged_database"
