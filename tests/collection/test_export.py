"""Export writes the edited collection; pictext reads each format back to the same items."""

from __future__ import annotations

from pathlib import Path

import pytest

from pictext.collection.export import export_collection
from pictext.collection.store import Collection
from pictext.core.errors import InputError
from pictext.data.registry import load_dataset


@pytest.fixture
def edited(folder: Path, tmp_path: Path, png) -> Collection:
    db = tmp_path / "c.sqlite"
    col = Collection.open_or_create(db, str(folder), lambda: load_dataset(folder))
    col.edit("cat/1.png", {"label": "dog", "title": "relabelled, \"quoted\"; yes"},
             version=1, by="a")  # fmt: skip
    col.edit("dog/2.png", {"tags": ["a;b", "ünï"]}, version=1, by="a")
    col.edit("dog/3.png", {"ignored": True}, version=1, by="a")
    col.add(png((9, 9, 9)), ".png", title="added", tags=["new"], label="bird", by="a")
    col.close()
    return Collection(db)


def _content(ds) -> list[tuple]:
    return sorted((it.label, it.title, it.description, it.tags) for it in ds)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_manifest_export_reads_back_to_the_same_items(
    edited: Collection, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / "out" / f"clean.{fmt}"
    assert export_collection(edited, fmt, out) == 4
    back = load_dataset(out)
    want = load_dataset(f"collection:{edited.path}")
    assert back.problems == []
    assert [it.id for it in back] == [it.id for it in want]
    expected = _content(want)
    if fmt == "csv":  # CSV joins tags with ';', so a tag holding ';' is split in two
        expected = [(*e[:3], ("a", "b", "ünï") if e[3] == ("a;b", "ünï") else e[3])
                    for e in expected]  # fmt: skip
    assert _content(back) == expected
    assert {it.id: it.label for it in back}["cat/1.png"] == "dog"
    for a, b in zip(back, want, strict=True):
        assert Path(a.image).read_bytes() == Path(b.image).read_bytes()


def test_a_folder_export_reads_back_to_the_same_labels_and_text(
    edited: Collection, tmp_path: Path
) -> None:
    out = tmp_path / "folder"
    assert export_collection(edited, "folder", out) == 4
    back = load_dataset(out)
    assert [p for p in back.problems if "skipped" in p] == []
    want = load_dataset(f"collection:{edited.path}")
    assert _content(back) == _content(want)
    assert sorted(it.id for it in back) == sorted(f"{w.label}/{Path(w.id).stem}.png" for w in want)


def test_a_folder_export_refuses_unlabelled_items(edited: Collection, tmp_path: Path) -> None:
    edited.edit("cat/0.png", {"label": None}, version=None, by="a")
    with pytest.raises(InputError, match=r"cat/0\.png: unlabelled"):
        export_collection(edited, "folder", tmp_path / "folder")
    assert not (tmp_path / "folder").exists()
