from __future__ import annotations

import json
from pathlib import Path

import pytest

from pictext.data import DatasetNotFoundError, load_dataset
from pictext.data.errors import ItemError
from pictext.data.folder import read_folder
from pictext.data.images import drop_unreadable, load_image
from pictext.data.manifest import read_manifest
from pictext.data.webvision import read_webvision


def _problem(dataset, item_id: str) -> str:
    hits = [p for p in dataset.problems if p.startswith(f"{item_id}: ")]
    assert hits, f"no problem recorded for {item_id}: {dataset.problems}"
    return " | ".join(hits)


def test_folder_reads_text_labels_and_reports_bad_input(class_folder: Path) -> None:
    ds = read_folder(class_folder)
    by_id = {it.id: it for it in ds}
    assert list(by_id) == sorted(by_id)  # deterministic order
    assert set(by_id) == {
        "cat/10.svg",
        "cat/3.png",
        "cat/4.png",
        "cat/5.png",
        "cat/7.png",
        "cat/8.jpg",
        "dog/1.png",
        "dog/puppies/2.png",
    }
    dog = by_id["dog/1.png"]
    assert (dog.title, dog.description, dog.tags) == ("A dog", "Brown dog", ("pet", "brown"))
    assert (dog.label, dog.fine_label, dog.source) == ("dog", None, "pets")
    puppy = by_id["dog/puppies/2.png"]
    assert (puppy.label, puppy.fine_label, puppy.title, puppy.tags) == (
        "dog",
        "puppies",
        "",
        ("small", "cute"),
    )
    assert ds.classes == ["cat", "dog"]
    # kept with empty text, problem recorded
    assert by_id["cat/3.png"].text == ""
    assert "malformed sidecar" in _problem(ds, "cat/3.png")
    assert "no sidecar" in _problem(ds, "cat/5.png")
    # non-UTF-8 sidecar: kept, readable part survives
    assert by_id["cat/4.png"].title.startswith("caf")
    assert by_id["cat/4.png"].title.endswith("cat")
    assert "not valid UTF-8" in _problem(ds, "cat/4.png")
    # skipped
    assert "0 bytes" in _problem(ds, "cat/6.png")
    assert "unsupported file type" in _problem(ds, "cat/9.xyz")


def test_folder_items_that_fail_to_decode_are_dropped_with_a_reason(class_folder: Path) -> None:
    ds = read_folder(class_folder)
    with pytest.raises(ItemError, match="truncated"):
        load_image(next(it for it in ds if it.id == "cat/7.png"))
    clean = drop_unreadable(ds)
    assert {it.id for it in ds} - {it.id for it in clean} == {"cat/7.png", "cat/8.jpg"}
    assert "not a supported image format" in _problem(clean, "cat/8.jpg")
    assert "corrupt or truncated" in _problem(clean, "cat/7.png")
    assert clean.classes == ds.classes


def test_manifest_csv_and_jsonl(make, tmp_path: Path) -> None:
    make.png(tmp_path / "img" / "a.png")
    make.png(tmp_path / "img" / "b.png", color=(1, 1, 1))
    (tmp_path / "img" / "empty.png").write_bytes(b"")
    (tmp_path / "m.csv").write_text(
        "path,title,description,tags,label\n"
        "img/a.png,Red square,,red;square,shapes\n"
        'img/b.png,"Dark, square",desc,"dark,square",shapes\n'
        "img/missing.png,x,,,shapes\n"
        "img/empty.png,x,,,shapes\n"
        ",no path,,,shapes\n",
        encoding="utf-8",
    )
    ds = read_manifest(tmp_path / "m.csv")
    assert [it.id for it in ds] == ["img/a.png", "img/b.png"]
    assert ds[0].tags == ("red", "square")
    assert ds[1].tags == ("dark", "square")
    assert ds[1].title == "Dark, square"
    assert ds[0].description == ""
    assert Path(ds[0].image) == tmp_path / "img" / "a.png"
    assert len(ds.problems) == 3
    rows = [
        {"path": "img/a.png", "title": "A", "tags": ["x", "y"], "label": "l1", "id": "one"},
        "not json",
        {"path": "img/b.png", "tags": "p;q", "label": "l2", "fine_label": "f"},
        {"path": "img/a.png", "label": "l1", "id": "one"},
    ]
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ds = load_dataset(tmp_path / "m.jsonl")
    assert [(it.id, it.tags, it.label) for it in ds] == [
        ("one", ("x", "y"), "l1"),
        ("img/b.png", ("p", "q"), "l2"),
    ]
    assert ds[1].fine_label == "f"
    assert any("malformed JSON" in p for p in ds.problems)
    assert any("duplicate id" in p for p in ds.problems)


def test_manifest_without_path_column_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("title,label\nx,y\n", encoding="utf-8")
    with pytest.raises(ValueError, match="path"):
        read_manifest(tmp_path / "m.csv")


def _webvision_tree(make, root: Path, *, meta_lists: bool) -> None:
    info = root / "info"
    info.mkdir(parents=True)
    (info / "synsets.txt").write_text(
        "n01440764 tench, Tinca tinca\nn02012849 crane\nn03126707 crane\n", encoding="utf-8"
    )
    (info / "train_filelist_google.txt").write_text(
        "google/q0001/000000.jpg 0\ngoogle/q0001/000001.jpg 0\ngoogle/q0002/000000.jpg 2\n"
        "google/q0002/000001.jpg 2\n",
        encoding="utf-8",
    )
    (info / "train_filelist_flickr.txt").write_text(
        "flickr/q0001/000000.jpg 0\nflickr/q0003/000000.jpg 1\n", encoding="utf-8"
    )
    if meta_lists:
        (info / "train_meta_list_google.txt").write_text(
            "google/q0001.json 1\ngoogle/q0001.json 2\ngoogle/q0002.json 1\ngoogle/q0002.json 2\n",
            encoding="utf-8",
        )
        (info / "train_meta_list_flickr.txt").write_text(
            "flickr/q0001.json 1\nflickr/q0003.json 1\n", encoding="utf-8"
        )
    for rel in (
        "google/q0001/000000.jpg",
        "google/q0001/000001.jpg",
        "google/q0002/000000.jpg",
        "flickr/q0001/000000.jpg",
        "flickr/q0003/000000.jpg",
    ):
        make.png(root / rel)  # PNG bytes in .jpg files, as web crawls have
    make.json(
        root / "google" / "q0001.json",
        [
            {"id": "000000", "title": "Tench fishing", "description": "A big tench"},
            {"id": "000001", "title": "Green fish", "description": ""},
        ],
    )
    (root / "google" / "q0002.json").write_text("[{broken", encoding="utf-8")
    make.json(
        root / "flickr" / "q0001.json",
        [{"id": "000000", "title": "my catch", "description": "lake", "tags": "fish lake summer"}],
    )
    make.json(
        root / "flickr" / "q0003.json",
        [{"id": "000000", "title": "bird", "description": "", "tags": ["crane", "bird"]}],
    )


@pytest.mark.parametrize("meta_lists", [True, False])
def test_webvision_layout(make, tmp_path: Path, meta_lists: bool) -> None:
    _webvision_tree(make, tmp_path, meta_lists=meta_lists)
    ds = load_dataset(tmp_path, check_files=True)
    assert ds.classes == ["tench", "crane (n02012849)", "crane (n03126707)"]
    by_id = {it.id: it for it in ds}
    assert list(by_id) == [
        "google/q0001/000000.jpg",
        "google/q0001/000001.jpg",
        "google/q0002/000000.jpg",
        "flickr/q0001/000000.jpg",
        "flickr/q0003/000000.jpg",
    ]
    g = by_id["google/q0001/000001.jpg"]
    assert (g.title, g.label, g.fine_label, g.source) == (
        "Green fish",
        "tench",
        "q0001",  # no info/queries_google.txt: the query folder's name
        "webvision/google",
    )
    assert by_id["flickr/q0001/000000.jpg"].tags == ("fish", "lake", "summer")
    assert by_id["flickr/q0003/000000.jpg"].tags == ("crane", "bird")
    assert by_id["flickr/q0003/000000.jpg"].label == "crane (n02012849)"
    assert by_id["google/q0002/000000.jpg"].text == ""  # malformed meta JSON: kept, no text
    assert any("q0002.json: malformed JSON" in p for p in ds.problems)
    assert any(p.startswith("google/q0002/000001.jpg: image file not found") for p in ds.problems)
    only_flickr = read_webvision(tmp_path, sources=("flickr",))
    assert len(only_flickr) == 2


def test_webvision_meta_under_meta_folder(make, tmp_path: Path) -> None:
    _webvision_tree(make, tmp_path, meta_lists=True)
    (tmp_path / "meta").mkdir()
    (tmp_path / "flickr" / "q0003.json").rename(tmp_path / "meta" / "q0003.json")
    ds = read_webvision(tmp_path, sources=("flickr",))
    assert ds[1].title == "bird"


def test_load_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="tuxpaint"):
        load_dataset("no-such-dataset")
    (tmp_path / "x.txt").write_text("hi", encoding="utf-8")
    with pytest.raises(DatasetNotFoundError, match="manifest"):
        load_dataset(tmp_path / "x.txt")


def test_load_dataset_strips_label_words(class_folder: Path) -> None:
    ds = load_dataset(class_folder, strip_label_words=True)
    dog = next(it for it in ds if it.id == "dog/1.png")
    assert (dog.title, dog.description) == ("A", "Brown")
