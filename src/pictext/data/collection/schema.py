"""The collection database's schema and its migrations.

The schema version is SQLite's ``PRAGMA user_version``; migration ``n`` (0-based) moves a
database from version ``n`` to ``n + 1``, each in one transaction. A database newer than this
code is refused, never downgraded. ``PRAGMA application_id`` marks a pictext collection, so
another SQLite file is named as such instead of being written to.
"""

from __future__ import annotations

import sqlite3

APPLICATION_ID = 0x50435431  # "PCT1"

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: items, curation tags, append-only history, key/value facts.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE items (
        id TEXT PRIMARY KEY,
        pos INTEGER NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN ('source', 'added')),
        source_path TEXT,
        content_hash TEXT,
        label TEXT,
        fine_label TEXT,
        title TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        text_tags TEXT NOT NULL DEFAULT '[]',
        source TEXT NOT NULL DEFAULT '',
        reviewed INTEGER NOT NULL DEFAULT 0,
        ignored INTEGER NOT NULL DEFAULT 0,
        removed INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX items_hash ON items (content_hash);
    CREATE TABLE tags (
        item_id TEXT NOT NULL REFERENCES items (id),
        tag TEXT NOT NULL,
        PRIMARY KEY (item_id, tag)
    ) WITHOUT ROWID;
    CREATE TABLE history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        edit INTEGER NOT NULL,
        item_id TEXT NOT NULL,
        field TEXT NOT NULL,
        old TEXT,
        new TEXT,
        at TEXT NOT NULL,
        by TEXT NOT NULL,
        reason TEXT,
        undoes INTEGER
    );
    CREATE INDEX history_item ON history (item_id, seq);
    """,
    # 1 -> 2: the next position and the next edit number by index, not by a scan.
    """
    CREATE INDEX items_pos ON items (pos);
    CREATE INDEX history_edit ON history (edit);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring ``conn``'s database to :data:`SCHEMA_VERSION`; return the version it had.

    Raises:
        ValueError: the database is newer than this code knows.
    """
    have = conn.execute("PRAGMA user_version").fetchone()[0]
    if have > SCHEMA_VERSION:
        raise ValueError(f"schema version {have} is newer than this pictext ({SCHEMA_VERSION})")
    for version in range(have, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return have
