"""A collection kept in SQLite: items, review state, edits with history, added items.

The database is one file (e.g. ``BUNDLE/collection.sqlite``) in WAL mode with
``synchronous=FULL``: an edit that returned has reached the disk and survives a kill -9 or a
power cut. Beside it, ``<stem>.files/`` holds the images added later, each stored once under
its content hash. The user's source files are only read.

Every item row has a ``version``; a write names the version it was based on and a stale one
raises :class:`ConflictError` (HTTP 409), so two clients never overwrite each other. Every
edit is appended to the history (``edits`` + ``changes``), which triggers keep append-only;
an undo is one more edit that restores the old values.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pictext.collection.errors import ConflictError, DamagedCollectionError, ItemNotFoundError
from pictext.collection.schema import migrate, schema_version, transaction
from pictext.core.atomic import atomic_write
from pictext.core.errors import UsageError
from pictext.data.item import Item

EDITABLE = ("label", "fine_label", "title", "description", "tags", "reviewed", "ignored")
_COLUMNS = (
    "seq, id, source_path, content_hash, label, fine_label, title, description, tags, "
    "reviewed, ignored, removed, added, version"
)
_BUSY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Change:
    """One field of one edit."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Edit:
    """One entry of an item's history."""

    edit: int
    item_id: str
    at: float
    by: str
    reason: str | None
    undoes: int | None
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class CollectionItem:
    """An item with its edits applied and its review state."""

    id: str
    source_path: str | None
    content_hash: str | None
    label: str | None
    fine_label: str | None
    title: str
    description: str
    tags: tuple[str, ...]
    reviewed: bool
    ignored: bool
    removed: bool
    added: bool
    version: int
    history: tuple[Edit, ...] = field(default=(), compare=False)

    def to_item(self, source: str) -> Item:
        """The :class:`~pictext.data.item.Item` the tasks read."""
        return Item(
            self.id,
            self.source_path,
            title=self.title,
            description=self.description,
            tags=self.tags,
            label=self.label,
            fine_label=self.fine_label,
            source=source,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form the service answers."""
        out = {
            k: getattr(self, k)
            for k in (
                "id", "label", "fine_label", "title", "description", "reviewed", "ignored",
                "removed", "added", "version", "content_hash",
            )
        }  # fmt: skip
        out["tags"] = list(self.tags)
        out["history"] = [
            {
                "edit": e.edit,
                "at": e.at,
                "by": e.by,
                "reason": e.reason,
                "undoes": e.undoes,
                "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in e.changes],
            }
            for e in self.history
        ]
        return out


def file_hash(data: bytes) -> str:
    """The content hash items are stored under (sha256, hex)."""
    return hashlib.sha256(data).hexdigest()


def connect(path: Path) -> sqlite3.Connection:
    """An autocommit connection in WAL mode with ``synchronous=FULL``; a file that is not a
    pictext collection raises :class:`DamagedCollectionError` (never re-created)."""
    where = str(path)
    try:
        conn = sqlite3.connect(
            path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        schema_version(conn)
    except sqlite3.DatabaseError as err:
        raise DamagedCollectionError(
            f"{where}: collection database is damaged or not a database ({err}); "
            "it was left as it is: restore it from a backup or move it away",
            item=where,
        ) from None
    return conn


class Collection:
    """A collection database, opened (and migrated) once; safe to share between threads.

    Args:
        path: the database file; it must exist unless ``create`` is given.

    Example:
        >>> col = Collection.create("c.sqlite", ds)  # doctest: +SKIP
        >>> col.edit("dog/1", {"label": "cat"}, version=1, by="me").label  # doctest: +SKIP
        'cat'
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ItemNotFoundError(f"no collection database {self.path}", item=str(self.path))
        self._lock = threading.Lock()
        self._conn = connect(self.path)
        try:
            version = schema_version(self._conn)
            if version == 0:
                raise sqlite3.DatabaseError("no schema_version table")
            migrate(self._conn, str(self.path))
            self.source = self._meta("source")
        except sqlite3.DatabaseError as err:
            self._conn.close()
            raise DamagedCollectionError(
                f"{self.path}: collection database is damaged ({err}); it was left as it "
                "is: restore it from a backup or move it away",
                item=str(self.path),
            ) from None

    @property
    def files_dir(self) -> Path:
        """The managed folder of added images, beside the database."""
        return self.path.with_name(self.path.stem + ".files")

    @classmethod
    def create(cls, path: str | Path, items: Iterable[Item], source: str) -> Collection:
        """A new collection of ``items`` (their files hashed, never copied or modified).

        Raises:
            ConflictError: ``path`` exists already (it is opened, never overwritten).
        """
        path = Path(path)
        if path.exists():
            raise ConflictError(f"{path} exists already; open it instead", item=str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        conn = connect(tmp)
        try:
            migrate(conn, str(tmp))
            with transaction(conn):
                conn.execute("INSERT INTO meta VALUES ('source', ?)", (source,))
                conn.execute("INSERT INTO meta VALUES ('created', ?)", (repr(time.time()),))
                conn.executemany(
                    "INSERT INTO items (id, source_path, content_hash, label, fine_label, "
                    "title, description, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (_row(it) for it in items),
                )
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        for suffix in ("-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
        os.replace(tmp, path)  # a crash mid-creation leaves no half collection at `path`
        return cls(path)

    @classmethod
    def open_or_create(
        cls, path: str | Path, source: str, load: Callable[[], Iterable[Item]]
    ) -> Collection:
        """Open ``path``, or create it from the items ``load()`` returns (the dataset named
        ``source``, e.g. ``lambda: load_dataset(source)``) when it does not exist."""
        path = Path(path)
        if path.exists():
            return cls(path)
        items = list(load())
        try:
            return cls.create(path, items, source=source)
        except ConflictError:  # another process created it meanwhile
            return cls(path)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _meta(self, key: str) -> str:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else ""

    # reading

    def get(self, item_id: str, *, history: bool = True) -> CollectionItem:
        """One item, removed or not, with its history.

        Raises:
            ItemNotFoundError: no such id.
        """
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM items WHERE id = ?", (item_id,)
            ).fetchone()
            if row is None:
                raise ItemNotFoundError(f"no item {item_id!r} in the collection", item=item_id)
            edits = self._history(item_id) if history else ()
        return _item(row, edits)

    def items(self, *, include_hidden: bool = False) -> list[CollectionItem]:
        """All items in the collection's order; removed and ignored ones only if asked."""
        where = "" if include_hidden else "WHERE removed = 0 AND ignored = 0"
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM items {where} ORDER BY seq")
            return [_item(r, ()) for r in rows]

    def removed_ids(self) -> set[str]:
        """Ids of removed items (answers filter them out)."""
        with self._lock:
            return {r[0] for r in self._conn.execute("SELECT id FROM items WHERE removed = 1")}

    def counts(self) -> dict[str, int]:
        """Items in the collection, reviewed, ignored, removed and added."""
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*), SUM(reviewed), SUM(ignored), SUM(removed), SUM(added) FROM items"
            ).fetchone()
        keys = ("items", "reviewed", "ignored", "removed", "added")
        return {k: int(v or 0) for k, v in zip(keys, row, strict=True)}

    def _history(self, item_id: str) -> tuple[Edit, ...]:
        edits = self._conn.execute(
            "SELECT edit, at, by, reason, undoes FROM edits WHERE item_id = ? ORDER BY edit",
            (item_id,),
        ).fetchall()
        changes: dict[int, list[Change]] = {}
        for edit, name, old, new in self._conn.execute(
            "SELECT c.edit, c.field, c.old, c.new FROM changes c JOIN edits e USING (edit) "
            "WHERE e.item_id = ? ORDER BY c.rowid",
            (item_id,),
        ):
            changes.setdefault(edit, []).append(Change(name, json.loads(old), json.loads(new)))
        return tuple(
            Edit(e, item_id, at, by, reason, undoes, tuple(changes.get(e, ())))
            for e, at, by, reason, undoes in edits
        )

    # writing

    def edit(
        self,
        item_id: str,
        values: dict[str, Any],
        *,
        version: int | None,
        by: str,
        reason: str | None = None,
    ) -> CollectionItem:
        """Change fields of one item (those in :data:`EDITABLE`), based on ``version``.

        Args:
            item_id: the item.
            values: field -> new value (``tags`` a list of strings, ``reviewed`` and
                ``ignored`` booleans, the others strings or None).
            version: the version the change is based on; None writes over any version.
            by: who edits (a user name or token label, never the token itself).
            reason: why, kept in the history.

        Raises:
            ConflictError: ``version`` is not the item's current one.
            ItemNotFoundError: no such item.
            UsageError: an unknown field or a value of the wrong type.
        """
        clean = _checked(values)
        return self._write(item_id, clean, version, by, reason, undoes=None)

    def edit_many(
        self, item_ids: Sequence[str], values: dict[str, Any], *, by: str, reason: str | None
    ) -> list[CollectionItem]:
        """The same change to several items in one transaction (accepting suggestions for a
        selection): all or none are written."""
        clean = _checked(values)
        with self._lock, transaction(self._conn):
            out = [self._apply(i, clean, None, by, reason, None) for i in item_ids]
        return [self.get(i) for i in (o.id for o in out)]

    def remove(self, item_id: str, *, version: int | None, by: str) -> CollectionItem:
        """Hide an item from the collection (an edit: undo brings it back)."""
        return self._write(item_id, {"removed": True}, version, by, None, undoes=None)

    def undo(self, item_id: str, *, by: str, version: int | None = None) -> CollectionItem:
        """Revert the item's latest edit that is not an undo and not undone yet.

        Raises:
            UsageError: nothing left to undo.
        """
        with self._lock, transaction(self._conn):
            undone = {
                r[0]
                for r in self._conn.execute(
                    "SELECT undoes FROM edits WHERE item_id = ? AND undoes IS NOT NULL", (item_id,)
                )
            }
            candidates = self._conn.execute(
                "SELECT edit FROM edits WHERE item_id = ? AND undoes IS NULL ORDER BY edit DESC",
                (item_id,),
            ).fetchall()
            target = next((e for (e,) in candidates if e not in undone), None)
            if target is None:
                self._current(item_id)  # an unknown id is a 404, not "nothing to undo"
                raise UsageError(f"{item_id}: no edit left to undo", item=item_id)
            old = {
                name: json.loads(value)
                for name, value in self._conn.execute(
                    "SELECT field, old FROM changes WHERE edit = ?", (target,)
                )
            }
            self._apply(item_id, old, version, by, f"undo of edit {target}", target)
        return self.get(item_id)

    def add(
        self,
        data: bytes,
        suffix: str,
        *,
        title: str = "",
        description: str = "",
        tags: Sequence[str] = (),
        label: str | None = None,
        by: str,
    ) -> CollectionItem:
        """Add an image: stored once under its content hash in :attr:`files_dir`.

        Raises:
            ConflictError: an item with the same bytes is in the collection already.
        """
        digest = file_hash(data)
        suffix = suffix.lower() if suffix.startswith(".") else f".{suffix.lower()}"
        target = self.files_dir / digest[:2] / f"{digest}{suffix}"
        with self._lock:
            row = self._conn.execute(
                "SELECT id FROM items WHERE content_hash = ? AND removed = 0", (digest,)
            ).fetchone()
        if row is not None:
            raise ConflictError(f"this image is in the collection already as {row[0]!r}",
                                item=row[0])  # fmt: skip
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, lambda tmp: Path(tmp).write_bytes(data))
        item = Item(
            f"added/{digest[:16]}",
            str(target),
            title=title,
            description=description,
            tags=tuple(tags),
            label=label,
        )
        with self._lock, transaction(self._conn):
            self._conn.execute(
                "INSERT INTO items (id, source_path, content_hash, label, fine_label, title, "
                "description, tags, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) "
                "ON CONFLICT (id) DO UPDATE SET removed = 0, version = version + 1",
                _row(item, digest),
            )
            self._log(item.id, by, "added", None, [Change("added", None, True)])
        return self.get(item.id)

    def _write(
        self,
        item_id: str,
        values: dict[str, Any],
        version: int | None,
        by: str,
        reason: str | None,
        undoes: int | None,
    ) -> CollectionItem:
        with self._lock, transaction(self._conn):
            self._apply(item_id, values, version, by, reason, undoes)
        return self.get(item_id)

    def _current(self, item_id: str) -> CollectionItem:
        row = self._conn.execute(f"SELECT {_COLUMNS} FROM items WHERE id = ?", (item_id,))
        found = row.fetchone()
        if found is None:
            raise ItemNotFoundError(f"no item {item_id!r} in the collection", item=item_id)
        return _item(found, ())

    def _apply(
        self,
        item_id: str,
        values: dict[str, Any],
        version: int | None,
        by: str,
        reason: str | None,
        undoes: int | None,
    ) -> CollectionItem:
        """Inside a transaction: check the version, write the fields, log the edit."""
        current = self._current(item_id)
        if version is not None and version != current.version:
            raise ConflictError(
                f"{item_id}: edited meanwhile (version {current.version}, the write was based "
                f"on {version}); read it again and retry",
                item=item_id,
            )
        changes = [
            Change(k, getattr(current, k), v)
            for k, v in values.items()
            if getattr(current, k) != (tuple(v) if k == "tags" else v)
        ]
        if not changes:
            return current
        sets = ", ".join(f"{c.field} = ?" for c in changes)
        self._conn.execute(
            f"UPDATE items SET {sets}, version = version + 1 WHERE id = ? AND version = ?",
            [*(_db_value(c.field, c.new) for c in changes), item_id, current.version],
        )
        self._log(item_id, by, reason, undoes, changes)
        return current

    def _log(
        self, item_id: str, by: str, reason: str | None, undoes: int | None, changes: list[Change]
    ) -> None:
        cursor = self._conn.execute(
            "INSERT INTO edits (item_id, at, by, reason, undoes) VALUES (?, ?, ?, ?, ?)",
            (item_id, time.time(), by, reason, undoes),
        )
        self._conn.executemany(
            "INSERT INTO changes (edit, field, old, new) VALUES (?, ?, ?, ?)",
            [
                (cursor.lastrowid, c.field, json.dumps(_jsonable(c.old)),
                 json.dumps(_jsonable(c.new)))
                for c in changes
            ],
        )  # fmt: skip


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    """The edit's fields, type-checked (one-line :class:`UsageError` otherwise)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in EDITABLE:
            raise UsageError(f"unknown field {key!r}; editable: {', '.join(EDITABLE)}", item=key)
        if key in ("reviewed", "ignored"):
            if not isinstance(value, bool):
                raise UsageError(f"{key!r} must be true or false", item=key)
        elif key == "tags":
            if not isinstance(value, list | tuple) or not all(isinstance(t, str) for t in value):
                raise UsageError("'tags' must be a list of strings", item=key)
            value = tuple(t.strip() for t in value if t.strip())
        elif key in ("label", "fine_label"):
            if value is not None and not isinstance(value, str):
                raise UsageError(f"{key!r} must be a string or null", item=key)
            value = (value or "").strip() or None
        elif not isinstance(value, str):
            raise UsageError(f"{key!r} must be a string", item=key)
        out[key] = value
    return out


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _db_value(name: str, value: Any) -> Any:
    if name == "tags":
        return json.dumps(list(value))
    if name in ("reviewed", "ignored", "removed"):
        return int(bool(value))
    return value


def _row(item: Item, digest: str | None = None) -> tuple:
    if digest is None and item.image is not None:
        try:
            digest = file_hash(Path(item.image).read_bytes())
        except OSError:
            digest = None
    elif digest is None and item.pixels is not None:
        digest = file_hash(item.pixels.tobytes())
    return (
        item.id,
        item.image,
        digest,
        item.label,
        item.fine_label,
        item.title,
        item.description,
        json.dumps(list(item.tags)),
    )


def _item(row: Sequence[Any], history: tuple[Edit, ...]) -> CollectionItem:
    (_, item_id, path, digest, label, fine, title, desc, tags, rev, ign, rem, add, ver) = row
    return CollectionItem(
        item_id, path, digest, label, fine, title, desc, tuple(json.loads(tags)),
        bool(rev), bool(ign), bool(rem), bool(add), int(ver), history,
    )  # fmt: skip
