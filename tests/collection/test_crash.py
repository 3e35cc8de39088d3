"""kill -9 in the middle of a batch of edits loses nothing that was acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from pictext.collection.store import Collection
from pictext.data.registry import load_dataset

WRITER = textwrap.dedent(
    """
    import sys
    from pictext.collection.store import Collection

    col = Collection(sys.argv[1])
    ids = [it.id for it in col.items()]
    n = 0
    while True:
        col.edit(ids[n % len(ids)], {"tags": [f"edit{n}"]}, version=None, by="writer")
        print(n, flush=True)  # acknowledged: the edit returned
        n += 1
    """
)


def test_kill_9_during_edits_loses_no_acknowledged_edit(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    Collection.open_or_create(db, str(folder), lambda: load_dataset(folder)).close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True, env=env
    )
    acked = []
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            acked.append(int(line))
            if len(acked) >= 60:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # mid-batch: it is writing the next edit
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= 60
    with Collection(db) as col:
        written = {
            c.new[0]
            for it in col.items()
            for e in col.get(it.id).history
            for c in e.changes
            if c.field == "tags"
        }
        assert {f"edit{n}" for n in acked} <= written
        last = {it.id: it.tags for it in col.items()}
    ids = list(last)  # the writer's order
    for n in acked[-len(ids) :]:  # each item's newest acknowledged edit is its state or older
        assert int(last[ids[n % len(ids)]][0].removeprefix("edit")) >= n
