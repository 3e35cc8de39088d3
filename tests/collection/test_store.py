"""The collection store: edits persist, versions stop lost updates, damage is reported."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from pictext.collection.errors import ConflictError, DamagedCollectionError, ItemNotFoundError
from pictext.collection.schema import SCHEMA_VERSION
from pictext.collection.store import Collection
from pictext.core.errors import UsageError, one_line
from pictext.data.registry import load_dataset


def _create(folder: Path, tmp_path: Path) -> Path:
    db = tmp_path / "c.sqlite"
    Collection.open_or_create(db, str(folder), lambda: load_dataset(folder)).close()
    return db


def test_an_edit_survives_reopening_and_reads_back_through_load_dataset(
    folder: Path, tmp_path: Path
) -> None:
    db = _create(folder, tmp_path)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    with Collection(db) as col:
        item = col.get("cat/0.png")
        assert (item.label, item.version, item.history) == ("cat", 1, ())
        edited = col.edit("cat/0.png", {"label": "dog", "tags": ["x"]}, version=1, by="ann")
        assert (edited.label, edited.tags, edited.version) == ("dog", ("x",), 2)
        col.edit("dog/3.png", {"ignored": True}, version=1, by="ann", reason="blurry")
    with Collection(db) as col:  # a new connection: what a restarted service sees
        item = col.get("cat/0.png")
        assert (item.label, item.tags, item.version) == ("dog", ("x",), 2)
        (entry,) = item.history
        assert entry.by == "ann"
        assert [(c.field, c.old, c.new) for c in entry.changes] == [
            ("label", "cat", "dog"),
            ("tags", ["cat", "pet"], ["x"]),
        ]
    ds = load_dataset(f"collection:{db}")
    assert sorted(it.id for it in ds) == ["cat/0.png", "cat/1.png", "dog/2.png"]  # ignored left out
    assert {it.id: it.label for it in ds}["cat/0.png"] == "dog"
    assert ds.classes == ["cat", "dog"]
    assert before == {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_undo_restores_the_old_values_and_keeps_the_history(folder: Path, tmp_path: Path) -> None:
    db = _create(folder, tmp_path)
    with Collection(db) as col:
        col.edit("cat/0.png", {"label": "dog"}, version=1, by="a")
        col.edit("cat/0.png", {"reviewed": True}, version=2, by="a")
        assert col.undo("cat/0.png", by="a").reviewed is False
        item = col.undo("cat/0.png", by="a")
        assert (item.label, item.reviewed, item.version) == ("cat", False, 5)
        assert [e.undoes for e in item.history] == [None, None, 2, 1]
        with pytest.raises(UsageError, match="no edit left to undo"):
            col.undo("cat/0.png", by="a")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            col._conn.execute("DELETE FROM edits")


def test_a_stale_version_is_a_conflict(folder: Path, tmp_path: Path) -> None:
    db = _create(folder, tmp_path)
    with Collection(db) as col:
        col.edit("cat/0.png", {"label": "dog"}, version=1, by="a")
        with pytest.raises(ConflictError, match="version 2") as err:
            col.edit("cat/0.png", {"label": "bird"}, version=1, by="b")
        assert err.value.status == 409
        assert col.get("cat/0.png").label == "dog"


def test_two_concurrent_writers_lose_no_update(folder: Path, tmp_path: Path) -> None:
    """Two clients (own connections) read version 1, then write at once: one wins, the other
    gets a conflict, re-reads and writes; both changes are in the final item."""
    db = _create(folder, tmp_path)
    clients = [Collection(db), Collection(db)]
    barrier = threading.Barrier(2)
    outcome: dict[str, str] = {}

    def write(col: Collection, name: str, values: dict) -> None:
        version = col.get("cat/1.png").version
        barrier.wait()
        try:
            col.edit("cat/1.png", values, version=version, by=name)
            outcome[name] = "written"
        except ConflictError:
            outcome[name] = "conflict"
            col.edit("cat/1.png", values, version=col.get("cat/1.png").version, by=name)

    threads = [
        threading.Thread(target=write, args=(clients[0], "a", {"label": "dog"})),
        threading.Thread(target=write, args=(clients[1], "b", {"tags": ["b"]})),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcome.values()) == ["conflict", "written"]
    final = clients[0].get("cat/1.png")
    assert (final.label, final.tags, final.version) == ("dog", ("b",), 3)
    for col in clients:
        col.close()


def test_added_items_are_stored_once_by_content_hash(folder: Path, tmp_path: Path, png) -> None:
    db = _create(folder, tmp_path)
    with Collection(db) as col:
        data = png((1, 2, 3))
        item = col.add(data, ".png", title="new", tags=["t"], label="cat", by="a")
        assert item.added
        assert Path(item.source_path).read_bytes() == data
        assert Path(item.source_path).is_relative_to(tmp_path / "c.files")
        with pytest.raises(ConflictError, match="already"):
            col.add(data, ".png", by="a")
        col.remove(item.id, version=item.version, by="a")
        assert item.id in col.removed_ids()
        assert item.id not in {it.id for it in col.items()}
        again = col.add(data, ".png", by="a")  # a removed item can be added again
        assert again.id == item.id
        assert not again.removed
    assert len(list((tmp_path / "c.files").rglob("*.png"))) == 1
    assert item.id in {it.id for it in load_dataset(f"collection:{db}")}


def test_bad_edits_are_one_line_usage_errors(folder: Path, tmp_path: Path) -> None:
    db = _create(folder, tmp_path)
    with Collection(db) as col:
        with pytest.raises(UsageError, match="unknown field 'id'"):
            col.edit("cat/0.png", {"id": "x"}, version=None, by="a")
        with pytest.raises(UsageError, match="list of strings"):
            col.edit("cat/0.png", {"tags": "a,b"}, version=None, by="a")
        with pytest.raises(ItemNotFoundError, match="no item 'nope'"):
            col.edit("nope", {"label": "x"}, version=None, by="a")


def test_a_damaged_file_is_reported_in_one_line_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    db.write_bytes(b"this is not a database" * 100)
    before = db.read_bytes()
    for attempt in (lambda: Collection(db), lambda: load_dataset(f"collection:{db}"),
                    lambda: Collection.open_or_create(db, "x", list)):  # fmt: skip
        with pytest.raises(DamagedCollectionError) as err:
            attempt()
        line = one_line(err.value)
        assert "\n" not in line
        assert str(db) in line
        assert "damaged" in line
    assert db.read_bytes() == before


def test_an_empty_sqlite_file_is_no_collection(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    sqlite3.connect(db).execute("CREATE TABLE other (x)").connection.commit()
    with pytest.raises(DamagedCollectionError, match="damaged"):
        Collection(db)


def test_a_new_database_is_at_the_latest_schema_version(folder: Path, tmp_path: Path) -> None:
    db = _create(folder, tmp_path)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
