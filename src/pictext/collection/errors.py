"""The collection's errors: a stale write (409) and a damaged database file."""

from __future__ import annotations

from pictext.core.errors import InputError, NotFoundError, PictextError


class ConflictError(PictextError):
    """A write based on a version of the item that is no longer current: re-read and retry."""

    status = 409
    code = "conflict"


class DamagedCollectionError(InputError):
    """A collection database that cannot be read; it is never silently re-created."""

    status = 500
    code = "damaged_collection"


class ItemNotFoundError(NotFoundError):
    """An item id the collection does not hold (or holds as removed)."""
