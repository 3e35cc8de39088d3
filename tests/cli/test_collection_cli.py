"""``pictext export`` and ``pictext add`` over a collection database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from pictext.cli import main
from pictext.collection.store import Collection
from pictext.data.registry import load_dataset


@pytest.fixture
def db(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for i, label in enumerate(["cat", "dog"]):
        (root / label).mkdir(parents=True)
        Image.new("RGB", (8, 8), (i * 90, 0, 0)).save(root / label / f"{i}.png")
    path = tmp_path / "c.sqlite"
    with Collection.open_or_create(path, str(root), lambda: load_dataset(root)) as col:
        col.edit("cat/0.png", {"label": "dog"}, version=1, by="t")
    return path


def test_export_then_add_then_export(db: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "x.jsonl"
    assert main(["export", str(db), "--format", "jsonl", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["label"]) for r in rows] == [("cat/0.png", "dog"), ("dog/1.png", "dog")]
    image = tmp_path / "new.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(image)
    assert main(["add", str(db), str(image), "--label", "bird", "--tags", "a, b"]) == 0
    assert "added added/" in capsys.readouterr().out
    assert main(["export", str(db), "--format", "csv", "--out", str(tmp_path / "x.csv")]) == 0
    back = load_dataset(tmp_path / "x.csv")
    assert sorted(it.label for it in back) == ["bird", "dog", "dog"]
    assert [it.tags for it in back if it.label == "bird"] == [("a", "b")]


def test_a_damaged_database_is_one_line_and_exit_1(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "c.sqlite"
    bad.write_bytes(b"\x00garbage" * 1000)
    assert main(["export", str(bad), "--out", str(tmp_path / "x.jsonl")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "damaged" in err
    assert not (tmp_path / "x.jsonl").exists()
