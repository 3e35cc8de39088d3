from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from collection_toys import png_bytes

from pictext.core.errors import NotFoundError, one_line
from pictext.data.collection import Collection, ConflictError, DamagedDatabaseError
from pictext.data.collection.export import export
from pictext.data.registry import load_dataset


def _coll(folder: Path, tmp_path: Path) -> Collection:
    return Collection.create(tmp_path / "bundle", load_dataset(folder))


def test_edit_survives_a_reopen_and_is_read_as_a_dataset(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "bundle").mkdir()
    coll = _coll(folder, tmp_path)
    before = coll.get("cat/0.png")
    after = coll.edit(
        "cat/0.png", {"label": "dog", "tags": ["checked"]}, by="ann", version=1, reason="fur"
    )
    assert (after.label, after.tags, after.version) == ("dog", ("checked",), before.version + 1)
    coll.close()
    again = Collection.open(tmp_path / "bundle")
    assert again.get("cat/0.png").label == "dog"
    history = again.history("cat/0.png")
    assert [(h["field"], h["old"], h["new"], h["by"], h["reason"]) for h in history] == [
        ("label", "cat", "dog", "ann", "fur"),
        ("tags", [], ["checked"], "ann", "fur"),
    ]
    ds = load_dataset(f"collection:{tmp_path / 'bundle'}")
    labels = {it.id: it.label for it in ds.items}
    assert labels["cat/0.png"] == "dog"
    assert labels["cat/1.png"] == "cat"
    # the user's files are untouched: the folder still reads the old label
    assert {it.id: it.label for it in load_dataset(folder).items}["cat/0.png"] == "cat"


def test_undo_restores_the_last_edit_as_a_new_history_entry(folder: Path, tmp_path: Path) -> None:
    coll = _coll(folder, tmp_path)
    coll.edit("dog/1.png", {"label": "cat"}, by="a")
    coll.edit("dog/1.png", {"reviewed": True}, by="a")
    assert coll.undo("dog/1.png", by="b").reviewed is False
    state = coll.undo("dog/1.png", by="b")
    assert state.label == "dog"
    assert len(coll.history("dog/1.png")) == 4  # two edits, two undos: nothing deleted
    with pytest.raises(Exception, match="no edit to undo"):
        coll.undo("dog/1.png", by="b")


def test_a_stale_version_is_a_conflict_and_changes_nothing(folder: Path, tmp_path: Path) -> None:
    coll = _coll(folder, tmp_path)
    coll.edit("cat/1.png", {"label": "dog"}, by="a", version=1)
    with pytest.raises(ConflictError) as err:
        coll.edit("cat/1.png", {"label": "bird"}, by="b", version=1)
    assert err.value.status == 409
    assert coll.get("cat/1.png").label == "dog"


def test_two_concurrent_writers_lose_no_update(folder: Path, tmp_path: Path) -> None:
    """Two processes' connections read-modify-write the same item's tags with versions:
    every acknowledged write is in the final state; the stale ones got a conflict."""
    path = tmp_path / "bundle"
    _coll(folder, tmp_path).close()
    results: dict[str, list[str]] = {"ok": [], "conflict": []}
    barrier = threading.Barrier(2)

    def writer(name: str) -> None:
        coll = Collection.open(path)  # its own connection, as another process has
        barrier.wait()
        for n in range(20):
            while True:
                state = coll.get("cat/2.png")
                tag = f"{name}{n}"
                try:
                    coll.edit(
                        "cat/2.png", {"tags": [*state.tags, tag]}, by=name, version=state.version
                    )
                    results["ok"].append(tag)
                    break
                except ConflictError:
                    results["conflict"].append(tag)
        coll.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = set(Collection.open(path).get("cat/2.png").tags)
    assert final == set(results["ok"])
    assert len(final) == 40


_WRITER = """
import sys
from pictext.data.collection import Collection
coll = Collection.open(sys.argv[1])
for n in range(100000):
    coll.edit("dog/0.png", {"title": f"t{n}"}, by="w")
    print(n, flush=True)
"""


def test_kill_9_during_edits_loses_nothing_acknowledged(folder: Path, tmp_path: Path) -> None:
    path = tmp_path / "bundle"
    _coll(folder, tmp_path).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    acknowledged = -1
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while acknowledged < 30 and time.monotonic() < deadline:
        acknowledged = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rest = proc.stdout.read().split()
    acknowledged = int(rest[-1]) if rest else acknowledged
    title = Collection.open(path).get("dog/0.png").title
    assert int(title[1:]) >= acknowledged  # the last acknowledged edit (or one after) is kept


def test_a_damaged_file_is_named_in_one_line_and_left_as_it_is(tmp_path: Path) -> None:
    bad = tmp_path / "collection.sqlite"
    garbage = b"this is not a database" * 100
    bad.write_bytes(garbage)
    with pytest.raises(DamagedDatabaseError) as err:
        Collection.open(tmp_path)
    line = one_line(err.value)
    assert "\n" not in line
    assert "damaged collection database" in line
    assert str(bad) in line
    assert bad.read_bytes() == garbage  # never silently re-created


def test_add_stores_once_by_content_hash_and_remove_leaves_it_out(
    folder: Path, tmp_path: Path
) -> None:
    coll = _coll(folder, tmp_path)
    data = png_bytes((10, 200, 10))
    state, new = coll.add(data, ".png", by="a", label="frog", title="a frog")
    again, new_again = coll.add(data, ".PNG", by="a")
    assert new
    assert not new_again
    assert again.id == state.id
    digest = hashlib.sha256(data).hexdigest()
    stored = list(coll.files_dir.rglob("*.png"))
    assert [p.name for p in stored] == [f"{digest}.png"]
    assert stored[0].read_bytes() == data
    assert state.id in {it.id for it in coll.dataset().items}
    coll.remove(state.id, by="a")
    assert state.id not in {it.id for it in coll.dataset().items}
    with pytest.raises(NotFoundError):
        coll.get(state.id)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "folder"])
def test_export_reads_back_to_the_same_items(folder: Path, tmp_path: Path, fmt: str) -> None:
    coll = _coll(folder, tmp_path)
    coll.edit("cat/0.png", {"label": "dog", "title": "really a dog"}, by="a")
    coll.add(png_bytes((1, 2, 3)), ".png", by="a", label="cat", title="new one")
    coll.remove("dog/2.png", by="a")
    ds = load_dataset(f"collection:{tmp_path / 'bundle'}")
    out = tmp_path / ("out" if fmt == "folder" else f"out.{fmt}")
    assert export(ds, fmt, out) == []
    back = load_dataset(out)

    def key(it):  # ids of a folder export are its paths; everything else is kept
        image = hashlib.sha256(Path(it.image).read_bytes()).hexdigest()
        fields = (it.label, it.fine_label, it.title, it.description, it.tags, image)
        return fields if fmt == "folder" else (it.id, *fields)

    assert sorted(map(key, back.items)) == sorted(map(key, ds.items))
    assert len(back) == 6
    assert "dog/2.png" not in {it.id for it in back.items}


def test_an_older_schema_is_migrated_in_place(folder: Path, tmp_path: Path) -> None:
    import sqlite3

    from pictext.data.collection.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "collection.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute("INSERT INTO items (id, pos, origin, label) VALUES ('a', 0, 'source', 'cat')")
    conn.execute("PRAGMA user_version = 1")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.commit()
    conn.close()
    coll = Collection.open(path)
    assert coll._read("PRAGMA user_version")[0][0] == SCHEMA_VERSION == 2
    assert coll.get("a").label == "cat"  # rows kept
