"""The collection database's schema and its migrations.

``MIGRATIONS[n]`` takes a database at schema version ``n`` to ``n + 1``; a new database runs
them all. ``schema_version`` holds one row, the version reached.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from pictext.collection.errors import DamagedCollectionError

MIGRATIONS: list[str] = [
    # 0 -> 1: items, their review state, and the append-only edit history
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE items (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- the collection's order
        id TEXT NOT NULL UNIQUE,
        source_path TEXT,                        -- the user's file (never modified) or the
                                                 -- managed copy of an added item
        content_hash TEXT,                       -- sha256 of the image bytes
        label TEXT,
        fine_label TEXT,
        title TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        tags TEXT NOT NULL DEFAULT '[]',         -- JSON list of strings
        reviewed INTEGER NOT NULL DEFAULT 0,
        ignored INTEGER NOT NULL DEFAULT 0,
        removed INTEGER NOT NULL DEFAULT 0,
        added INTEGER NOT NULL DEFAULT 0,        -- 1: added after creation, file is managed
        version INTEGER NOT NULL DEFAULT 1       -- optimistic concurrency
    );
    CREATE INDEX items_hash ON items (content_hash);
    CREATE TABLE edits (
        edit INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id TEXT NOT NULL,
        at REAL NOT NULL,                        -- unix time
        by TEXT NOT NULL,
        reason TEXT,
        undoes INTEGER REFERENCES edits (edit)   -- the edit this one reverts, if any
    );
    CREATE INDEX edits_item ON edits (item_id, edit);
    CREATE TABLE changes (
        edit INTEGER NOT NULL REFERENCES edits (edit),
        field TEXT NOT NULL,
        old TEXT,                                -- JSON
        new TEXT                                 -- JSON
    );
    CREATE INDEX changes_edit ON changes (edit);
    CREATE TRIGGER edits_append_only BEFORE UPDATE ON edits
        BEGIN SELECT RAISE(ABORT, 'the edit history is append-only'); END;
    CREATE TRIGGER edits_no_delete BEFORE DELETE ON edits
        BEGIN SELECT RAISE(ABORT, 'the edit history is append-only'); END;
    CREATE TRIGGER changes_append_only BEFORE UPDATE ON changes
        BEGIN SELECT RAISE(ABORT, 'the edit history is append-only'); END;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on an error) on an autocommit connection:
    the write lock is taken up front, so two writers queue instead of failing mid-way."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def schema_version(conn: sqlite3.Connection) -> int:
    """The version a database has reached (0 for an empty file)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "schema_version" not in tables:
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection, where: str) -> None:
    """Bring the database to :data:`SCHEMA_VERSION`, one migration per transaction.

    Raises:
        DamagedCollectionError: the file was written by a newer pictext.
    """
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise DamagedCollectionError(
            f"{where}: collection schema version {version} is newer than this pictext's "
            f"({SCHEMA_VERSION}); upgrade pictext",
            item=where,
        )
    for n in range(version, SCHEMA_VERSION):
        with transaction(conn):
            for statement in _statements(MIGRATIONS[n]):
                conn.execute(statement)
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version VALUES (?)", (n + 1,))


def _statements(script: str) -> list[str]:
    """A migration's statements (sqlite3's executescript would commit the transaction)."""
    out: list[str] = []
    buffer = ""
    for line in script.splitlines():
        buffer += line.split("--")[0] + "\n"
        if sqlite3.complete_statement(buffer):
            out.append(buffer.strip())
            buffer = ""
    return [s for s in out if s]
