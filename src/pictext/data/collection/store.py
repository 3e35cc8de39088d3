"""The collection store: one SQLite database per collection, edits applied on read.

Where it lives: for a bundle ``MODEL_DIR``, the database is ``MODEL_DIR/collection.sqlite``,
created on the first write (an edit, an add, a removal), and added images are stored once,
by content hash, under ``MODEL_DIR/collection.files/``. Until the first write there is no
database and the collection is the bundle's dataset as it is. The user's source files are
never modified: the database holds the edited state and the history beside them.

The database is seeded, at its creation, with the items of the dataset it curates (their
ids, paths, labels and text); from then on it is the collection: its rows, edits applied,
removed items left out, added items appended (:meth:`Collection.dataset`). Name it as a
dataset with ``collection:MODEL_DIR`` (or ``collection:PATH/collection.sqlite``).

Every write is one transaction in WAL mode with ``synchronous=FULL``: a write that returned
survives a kill -9 of the process. Each item row has a version; a write naming a stale
version raises :class:`ConflictError` (HTTP 409) and changes nothing. Each change of a field
appends one row to the history (field, old, new, when, by whom, why); an undo is a new
history entry that restores the old values, never a deletion.

Example:
    >>> import tempfile
    >>> from pictext.data.dataset import Dataset
    >>> from pictext.data.item import Item
    >>> folder = Path(tempfile.mkdtemp())
    >>> base = Dataset("toy", [Item("a", "a.png", label="cat"), Item("b", "b.png", label="dog")])
    >>> coll = Collection.create(folder / "collection.sqlite", base)
    >>> coll.edit("a", {"label": "dog"}, version=1, by="me").label
    'dog'
    >>> [it.label for it in coll.dataset().items]
    ['dog', 'dog']
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pictext.core.atomic import atomic_write_bytes
from pictext.data.collection.errors import (
    CollectionError,
    ConflictError,
    DamagedDatabaseError,
    ItemNotFoundError,
)
from pictext.data.collection.schema import APPLICATION_ID, migrate
from pictext.data.dataset import Dataset
from pictext.data.item import Item

DB_NAME = "collection.sqlite"
FILES_DIR = "collection.files"
TEXT_FIELDS = ("label", "fine_label", "title", "description")
FLAGS = ("reviewed", "ignored")
EDITABLE = (*TEXT_FIELDS, "text_tags", "tags", *FLAGS)
_COLUMNS = (
    "id, origin, source_path, content_hash, label, fine_label, title, description, "
    "text_tags, source, reviewed, ignored, removed, version"
)


@dataclass(frozen=True)
class ItemState:
    """One item as the collection holds it now."""

    id: str
    origin: str  # "source" (seeded from the dataset) or "added"
    source_path: str | None  # the image file (a user's file, or the managed copy)
    content_hash: str | None  # sha256 of the image bytes (added items)
    label: str | None
    fine_label: str | None
    title: str
    description: str
    text_tags: tuple[str, ...]  # the item's own keywords (its text)
    source: str
    reviewed: bool
    ignored: bool
    removed: bool
    version: int
    tags: tuple[str, ...] = ()  # curation tags, sorted

    def item(self) -> Item:
        """The item as a dataset record (edits applied)."""
        return Item(
            self.id,
            self.source_path,
            title=self.title,
            description=self.description,
            tags=self.text_tags,
            label=self.label,
            fine_label=self.fine_label,
            source=self.source,
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["text_tags"] = list(self.text_tags)
        out["tags"] = list(self.tags)
        return out


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


class Collection:
    """A curated collection in an SQLite database.

    Open one with :meth:`open` (an existing database) or :meth:`create` (a new one seeded
    from a dataset). One object may be shared by threads (its connection is serialised by
    a lock); other processes open their own, and SQLite's locks plus row versions keep
    their writes apart.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._lock = threading.RLock()

    # -- opening ------------------------------------------------------------------------

    @staticmethod
    def db_path(where: str | Path) -> Path:
        """The database file for a bundle folder or a database path."""
        where = Path(where).expanduser()
        return where / DB_NAME if where.is_dir() else where

    @classmethod
    def exists(cls, where: str | Path) -> bool:
        return cls.db_path(where).is_file()

    @classmethod
    def open(cls, where: str | Path) -> Collection:
        """Open an existing collection (a bundle folder or the database file).

        Raises:
            CollectionError: there is no database there.
            DamagedDatabaseError: the file is not a readable pictext collection.
        """
        path = cls.db_path(where)
        if not path.is_file():
            raise CollectionError(
                f"{path}: no collection database (it is created by the first edit or add)",
                item=str(path),
            )
        return cls._connect(path)

    @classmethod
    def create(cls, where: str | Path, dataset: Dataset) -> Collection:
        """Create a collection seeded with ``dataset``'s items (refuses an existing file)."""
        path = cls.db_path(where)
        if path.exists():
            raise CollectionError(f"{path}: already exists; open it instead", item=str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        coll = cls._connect(path)
        with coll._write() as conn:
            conn.executemany(
                "INSERT INTO items (id, pos, origin, source_path, label, fine_label, title,"
                " description, text_tags, source) VALUES (?, ?, 'source', ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        it.id,
                        pos,
                        it.image,
                        it.label,
                        it.fine_label,
                        it.title,
                        it.description,
                        json.dumps(list(it.tags)),
                        it.source,
                    )
                    for pos, it in enumerate(dataset.items)
                ),
            )
            facts = {"dataset": dataset.name, "created": _now()}
            if dataset.class_names is not None:
                facts["class_names"] = json.dumps(dataset.class_names)
            conn.executemany("INSERT INTO meta VALUES (?, ?)", facts.items())
        return coll

    @classmethod
    def open_or_create(cls, where: str | Path, dataset: Dataset) -> Collection:
        """The collection at ``where``; created from ``dataset`` when there is none yet."""
        return cls.open(where) if cls.exists(where) else cls.create(where, dataset)

    @classmethod
    def _connect(cls, path: Path) -> Collection:
        try:
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            conn.row_factory = sqlite3.Row
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version and app_id != APPLICATION_ID:
                raise sqlite3.DatabaseError("an SQLite file, but not a pictext collection")
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {check}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn)
        except (sqlite3.DatabaseError, ValueError) as err:
            raise DamagedDatabaseError(
                f"{path}: damaged collection database ({_one_line(err)}); it was left as it "
                "is: restore it from a backup or move it aside to start a new one",
                item=str(path),
            ) from None
        return cls(path, conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @property
    def files_dir(self) -> Path:
        """The managed folder of added images, beside the database."""
        return self.path.parent / FILES_DIR

    def meta(self, key: str) -> str | None:
        row = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0]["value"] if row else None

    # -- transactions -------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    # -- reading ------------------------------------------------------------------------

    def _states(self, where: str = "", args: Sequence[Any] = ()) -> list[ItemState]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM items {where} ORDER BY pos", args
            ).fetchall()
            ids = [r["id"] for r in rows]
            tags: dict[str, list[str]] = {}
            if len(ids) == 1:
                q = self._conn.execute(
                    "SELECT item_id, tag FROM tags WHERE item_id = ? ORDER BY tag", ids
                )
            else:
                q = self._conn.execute("SELECT item_id, tag FROM tags ORDER BY item_id, tag")
            for r in q:
                tags.setdefault(r["item_id"], []).append(r["tag"])
        return [
            ItemState(
                id=r["id"],
                origin=r["origin"],
                source_path=r["source_path"],
                content_hash=r["content_hash"],
                label=r["label"],
                fine_label=r["fine_label"],
                title=r["title"],
                description=r["description"],
                text_tags=tuple(json.loads(r["text_tags"])),
                source=r["source"],
                reviewed=bool(r["reviewed"]),
                ignored=bool(r["ignored"]),
                removed=bool(r["removed"]),
                version=r["version"],
                tags=tuple(tags.get(r["id"], ())),
            )
            for r in rows
        ]

    def get(self, item_id: str, *, removed: bool = False) -> ItemState:
        """The item's current state.

        Raises:
            ItemNotFoundError: no such item (or it was removed, unless ``removed``).
        """
        found = self._states("WHERE id = ?", (item_id,))
        if not found or (found[0].removed and not removed):
            raise ItemNotFoundError(f"{item_id}: no such item in the collection", item=item_id)
        return found[0]

    def items(self, *, removed: bool = False) -> list[ItemState]:
        """Every item in collection order (removed ones only when asked)."""
        return self._states("" if removed else "WHERE removed = 0")

    def count(self) -> dict[str, int]:
        """Items, reviewed, ignored and removed counts."""
        row = self._read(
            "SELECT COUNT(*) - SUM(removed), SUM(reviewed * (1 - removed)),"
            " SUM(ignored * (1 - removed)), SUM(removed) FROM items"
        )[0]
        return dict(
            zip(("items", "reviewed", "ignored", "removed"), (v or 0 for v in row), strict=False)
        )

    def history(self, item_id: str) -> list[dict[str, Any]]:
        """The item's edits, oldest first: field, old, new, at, by, reason, edit, undoes."""
        rows = self._read(
            "SELECT seq, edit, field, old, new, at, by, reason, undoes FROM history"
            " WHERE item_id = ? ORDER BY seq",
            (item_id,),
        )
        return [{**dict(r), "old": json.loads(r["old"]), "new": json.loads(r["new"])} for r in rows]

    def needs_base(self) -> bool:
        """Whether some seeded item has no image file (in-memory pixels of the dataset)."""
        return bool(
            self._read("SELECT 1 FROM items WHERE source_path IS NULL AND origin = 'source'")
        )

    def dataset(self, base: Dataset | None = None) -> Dataset:
        """The collection as a dataset: edits applied, removed items left out.

        Args:
            base: the seeding dataset, to lend its in-memory pixels to items with no image
                file (see :meth:`needs_base`).
        """
        pixels = {it.id: it.pixels for it in base.items} if base is not None else {}
        items = []
        for state in self.items():
            item = state.item()
            if item.image is None and pixels.get(item.id) is not None:
                item = Item(**{**item.__dict__, "pixels": pixels[item.id]})
            items.append(item)
        names = self.meta("class_names")
        class_names = json.loads(names) if names else None
        if class_names is not None:
            extra = sorted({it.label for it in items if it.label} - set(class_names))
            class_names = class_names + extra
        return Dataset(f"collection:{self.path}", items, class_names=class_names)

    # -- writing ------------------------------------------------------------------------

    def edit(
        self,
        item_id: str,
        changes: Mapping[str, Any],
        *,
        by: str,
        version: int | None = None,
        reason: str | None = None,
    ) -> ItemState:
        """Change fields of one item in one transaction; return its new state.

        Args:
            changes: any of ``label``, ``fine_label``, ``title``, ``description`` (str or
                None), ``text_tags`` and ``tags`` (lists of str, replacing), ``reviewed``,
                ``ignored`` (bool).
            by: who (a user name or a token's name), recorded in the history.
            version: the row version the change was made against; a stale one raises
                :class:`ConflictError` and changes nothing. None: apply to the current row.
            reason: why, recorded in the history.
        """
        with self._write() as conn:
            states = self._edit(conn, [item_id], changes, by, version, reason, None)
        return states[0]

    def edit_many(
        self,
        item_ids: Sequence[str],
        changes: Mapping[str, Any],
        *,
        by: str,
        reason: str | None = None,
    ) -> list[ItemState]:
        """One change applied to several items, all or none (one transaction)."""
        with self._write() as conn:
            return self._edit(conn, list(item_ids), changes, by, None, reason, None)

    def accept(
        self, suggestions: Mapping[str, str], *, by: str, reason: str | None = None
    ) -> list[ItemState]:
        """Set each item's label to its suggested label, and mark it reviewed; all or none."""
        with self._write() as conn:
            out = []
            for item_id, label in suggestions.items():
                change = {"label": label, "reviewed": True}
                out += self._edit(conn, [item_id], change, by, None, reason, None)
            return out

    def undo(self, item_id: str, *, by: str, version: int | None = None) -> ItemState:
        """Undo the item's last edit not yet undone, as a new history entry.

        Raises:
            CollectionError: the item has no edit left to undo.
        """
        with self._write() as conn:
            undone = {
                r[0]
                for r in conn.execute(
                    "SELECT undoes FROM history WHERE item_id = ? AND undoes IS NOT NULL",
                    (item_id,),
                )
            }
            rows = conn.execute(
                "SELECT edit, field, old FROM history WHERE item_id = ? AND undoes IS NULL"
                " ORDER BY seq DESC",
                (item_id,),
            ).fetchall()
            target = next((r["edit"] for r in rows if r["edit"] not in undone), None)
            if target is None:
                self._current(conn, item_id)  # 404 first
                raise CollectionError(f"{item_id}: no edit to undo", item=item_id)
            changes = {r["field"]: json.loads(r["old"]) for r in rows if r["edit"] == target}
            return self._edit(conn, [item_id], changes, by, version, "undo", target)[0]

    def remove(self, item_id: str, *, by: str, version: int | None = None) -> ItemState:
        """Leave the item out of the collection from now on (recorded; undoable)."""
        with self._write() as conn:
            return self._edit(conn, [item_id], {"removed": True}, by, version, None, None)[0]

    def add(
        self,
        data: bytes,
        suffix: str,
        *,
        by: str,
        label: str | None = None,
        title: str = "",
        description: str = "",
        text_tags: Sequence[str] = (),
    ) -> tuple[ItemState, bool]:
        """Add an image (stored once by content hash in :attr:`files_dir`).

        Returns:
            The item and whether it is new (False: the same bytes were already an item;
            a removed one is restored).
        """
        digest = hashlib.sha256(data).hexdigest()
        suffix = suffix.lower() if suffix.startswith(".") else f".{suffix.lower()}"
        with self._write() as conn:
            row = conn.execute(
                "SELECT id, removed FROM items WHERE content_hash = ? ORDER BY pos LIMIT 1",
                (digest,),
            ).fetchone()
            if row is not None:
                if row["removed"]:
                    self._edit(conn, [row["id"]], {"removed": False}, by, None, "added again", None)
                    return self._one(conn, row["id"]), True
                return self._one(conn, row["id"]), False
            target = self.files_dir / digest[:2] / f"{digest}{suffix}"
            if not target.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(target, data)
            item_id = f"added/{digest[:16]}"
            pos = conn.execute("SELECT COALESCE(MAX(pos), -1) + 1 FROM items").fetchone()[0]
            conn.execute(
                "INSERT INTO items (id, pos, origin, source_path, content_hash, label, title,"
                " description, text_tags, source) VALUES (?, ?, 'added', ?, ?, ?, ?, ?, ?, ?)",
                (
                    item_id,
                    pos,
                    str(target),
                    digest,
                    label,
                    title,
                    description,
                    json.dumps(list(text_tags)),
                    "added",
                ),
            )
            self._log(conn, item_id, {"added": (None, digest)}, by, None, None)
            return self._one(conn, item_id), True

    # -- internals ----------------------------------------------------------------------

    def _one(self, conn: sqlite3.Connection, item_id: str) -> ItemState:
        found = self._states("WHERE id = ?", (item_id,))
        return found[0]

    def _current(self, conn: sqlite3.Connection, item_id: str) -> ItemState:
        found = self._states("WHERE id = ?", (item_id,))
        if not found or found[0].removed:
            raise ItemNotFoundError(f"{item_id}: no such item in the collection", item=item_id)
        return found[0]

    def _edit(
        self,
        conn: sqlite3.Connection,
        item_ids: list[str],
        changes: Mapping[str, Any],
        by: str,
        version: int | None,
        reason: str | None,
        undoes: int | None,
    ) -> list[ItemState]:
        unknown = set(changes) - {*EDITABLE, "removed"}
        if unknown:
            raise CollectionError(
                f"cannot edit {', '.join(sorted(unknown))}; editable: {', '.join(EDITABLE)}",
                item=sorted(unknown)[0],
            )
        clean = {k: _checked(k, v) for k, v in changes.items()}
        out = []
        for item_id in item_ids:
            if "removed" in clean and not clean["removed"]:
                found = self._states("WHERE id = ?", (item_id,))
                if not found:
                    raise ItemNotFoundError(f"{item_id}: no such item", item=item_id)
                state = found[0]
            else:
                state = self._current(conn, item_id)
            if version is not None and version != state.version:
                raise ConflictError(
                    f"{item_id}: edited by someone else since version {version} (now "
                    f"version {state.version}); reload the item and apply the change again",
                    item=item_id,
                )
            diff = {}
            for key, new in clean.items():
                old = getattr(state, key)
                old = list(old) if isinstance(old, tuple) else old
                if old != new:
                    diff[key] = (old, new)
            if diff:
                columns = {k: v for k, (_, v) in diff.items() if k != "tags"}
                sets = [f"{k} = ?" for k in columns] + ["version = version + 1"]
                values = [
                    json.dumps(v) if k == "text_tags" else (int(v) if isinstance(v, bool) else v)
                    for k, v in columns.items()
                ]
                conn.execute(f"UPDATE items SET {', '.join(sets)} WHERE id = ?", (*values, item_id))
                if "tags" in diff:
                    conn.execute("DELETE FROM tags WHERE item_id = ?", (item_id,))
                    conn.executemany(
                        "INSERT INTO tags VALUES (?, ?)", ((item_id, t) for t in diff["tags"][1])
                    )
                self._log(conn, item_id, diff, by, reason, undoes)
            out.append(self._one(conn, item_id))
        return out

    def _log(
        self,
        conn: sqlite3.Connection,
        item_id: str,
        diff: Mapping[str, tuple[Any, Any]],
        by: str,
        reason: str | None,
        undoes: int | None,
    ) -> None:
        edit = conn.execute("SELECT COALESCE(MAX(edit), 0) + 1 FROM history").fetchone()[0]
        at = _now()
        conn.executemany(
            "INSERT INTO history (edit, item_id, field, old, new, at, by, reason, undoes)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (edit, item_id, k, json.dumps(o), json.dumps(n), at, by, reason, undoes)
                for k, (o, n) in diff.items()
            ),
        )


def _checked(key: str, value: Any) -> Any:
    """A change's value in its stored form, or a one-line error naming the field."""
    if key in ("label", "fine_label", "title", "description"):
        if value is None and key in ("label", "fine_label"):
            return None
        if not isinstance(value, str):
            raise CollectionError(f"{key}: must be a string, got {type(value).__name__}", item=key)
        value = " ".join(value.split()) if key in ("label", "fine_label") else value.strip()
        if key in ("label", "fine_label"):
            return value or None
        return value
    if key in ("tags", "text_tags"):
        if not isinstance(value, list | tuple) or not all(isinstance(t, str) for t in value):
            raise CollectionError(f"{key}: must be a list of strings", item=key)
        tags = [" ".join(t.split()) for t in value]
        tags = [t for t in tags if t]
        return sorted(set(tags)) if key == "tags" else tags
    if not isinstance(value, bool):
        raise CollectionError(f"{key}: must be true or false, got {value!r}", item=key)
    return value
