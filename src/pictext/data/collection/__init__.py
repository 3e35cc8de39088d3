"""A curated collection: a dataset's items with edits, tags, review state and added items.

Kept in an SQLite database (stdlib ``sqlite3``, WAL mode); the user's source files are never
modified. Part of the data layer (imports only ``core`` and ``data``); see
:mod:`pictext.data.collection.store`.
"""

from pictext.data.collection.errors import CollectionError, ConflictError, DamagedDatabaseError
from pictext.data.collection.store import DB_NAME, FILES_DIR, Collection, ItemState

__all__ = [
    "DB_NAME",
    "FILES_DIR",
    "Collection",
    "CollectionError",
    "ConflictError",
    "DamagedDatabaseError",
    "ItemState",
]
