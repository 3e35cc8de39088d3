"""WebVision read as it is distributed (1.0 and 2.0) and as the study laid it out.

Every tree is built in a real layout: images named ``<id>.jpg`` after their JSON record's
``id``, JSON lists holding records whose image is gone, meta lists with gaps, ``metadata/``
and ``train_images_256/`` unpackings, 2.0's five-digit query folders and ``queries.txt``,
the study's ``train/<wnid>/<id>.jpg`` beside an extensionless ``<id>`` sidecar, and the
human-checked validation set. Each test checks that every image gets *its own* text.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from webvision_tree import TreeSpec, make_tree, truth_rates

from pictext.data import load_dataset
from pictext.data.errors import ItemError
from pictext.data.folder import read_folder
from pictext.data.hygiene import label_leakage, strip_label_words
from pictext.data.images import load_image
from pictext.data.split import split_dataset
from pictext.data.webvision import VAL, read_webvision

SYNSETS = "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _records(ids: list[str], source: str) -> list[dict]:
    """One record per id whose text names it, so a shifted text is seen at once."""
    out = []
    for rid in ids:
        rec = {"id": rid, "title": f"title {rid}", "description": f"about {rid}"}
        if source == "flickr":
            rec["tags"] = [f"tag{rid}", "lake"]
        out.append(rec)
    return out


def _tree_1_0(make, root: Path, *, meta_lists: bool, meta_dir: str = "", image_dir: str = ""):
    """A WebVision 1.0 tree: query q0001 (tench) holds records a1, gone1, a2, a3 (gone1's
    image was removed), q0002 (goldfish) holds b1; the file list names a1, a2, a3, b1."""
    info = root / "info"
    _write(info / "synsets.txt", SYNSETS)
    _write(info / "queries_google.txt", "1 tench\n2 goldfish\n")
    _write(info / "queries_flickr.txt", "1 tench\n2 goldfish\n")
    listed = {"google/q0001": ["a1", "a2", "a3"], "google/q0002": ["b1"]}
    json_ids = {"google/q0001": ["a1", "gone1", "a2", "a3"], "google/q0002": ["b1"]}
    files = [f"{q}/{i}.jpg {0 if q.endswith('1') else 1}" for q, ids in listed.items() for i in ids]
    _write(info / "train_filelist_google.txt", "\n".join(files) + "\n")
    if meta_lists:  # rows 1, 3, 4 of q0001.json: record 2's image is gone (a gap)
        _write(
            info / "train_meta_list_google.txt",
            "google/q0001.json 1\ngoogle/q0001.json 3\ngoogle/q0001.json 4\ngoogle/q0002.json 1\n",
        )
    for query, ids in json_ids.items():
        make.json(root / meta_dir / f"{query}.json", _records(ids, "google"))
    for query, ids in listed.items():
        for i in ids:
            make.png(root / image_dir / query / f"{i}.jpg")


def _titles(ds) -> dict[str, str]:
    return {it.id: it.title for it in ds}


EXPECTED_1_0 = {
    "google/q0001/a1.jpg": "title a1",
    "google/q0001/a2.jpg": "title a2",
    "google/q0001/a3.jpg": "title a3",
    "google/q0002/b1.jpg": "title b1",
}


@pytest.mark.parametrize("meta_lists", [True, False], ids=["meta-list", "no-meta-list"])
def test_a_record_without_image_shifts_no_text(make, tmp_path: Path, meta_lists: bool) -> None:
    _tree_1_0(make, tmp_path, meta_lists=meta_lists)
    ds = load_dataset(tmp_path)
    assert _titles(ds) == EXPECTED_1_0  # gone1's text is on no image; a2 has a2's, not gone1's
    a2 = next(it for it in ds if it.id == "google/q0001/a2.jpg")
    assert (a2.description, a2.label, a2.fine_label, a2.source) == (
        "about a2",
        "tench",
        "tench",  # the query's text from info/queries_google.txt, not "q0001"
        "webvision/google",
    )
    assert ds.problems == []


def test_a_meta_list_row_whose_id_is_not_the_stem_is_reported(make, tmp_path: Path) -> None:
    _tree_1_0(make, tmp_path, meta_lists=True)
    # a meta list made before record 2 was removed from the JSON: rows point one too far
    _write(
        tmp_path / "info" / "train_meta_list_google.txt",
        "google/q0001.json 1\ngoogle/q0001.json 2\ngoogle/q0001.json 3\ngoogle/q0002.json 1\n",
    )
    ds = read_webvision(tmp_path)
    assert _titles(ds) == EXPECTED_1_0  # the record whose id is the stem wins
    (note,) = [p for p in ds.problems if p.startswith("google/q0001/a2.jpg: ")]
    assert "points to record 2 of google/q0001.json, whose id is 'gone1'" in note
    assert note.endswith("used the record with id 'a2' instead")
    assert len(ds.problems) == 2  # a2 and a3, each named


def test_without_a_record_the_image_keeps_its_image_and_empty_text(make, tmp_path) -> None:
    _tree_1_0(make, tmp_path, meta_lists=False)
    make.json(tmp_path / "google" / "q0002.json", _records(["other"], "google"))
    ds = read_webvision(tmp_path)
    b1 = next(it for it in ds if it.id == "google/q0002/b1.jpg")
    assert b1.text == ""
    assert "google/q0002/b1.jpg: no record with id 'b1' in google/q0002.json; empty text" in (
        ds.problems
    )


@pytest.mark.parametrize("meta_dir", ["metadata", "meta"])
def test_metadata_folder_layout(make, tmp_path: Path, meta_dir: str) -> None:
    _tree_1_0(make, tmp_path, meta_lists=True, meta_dir=meta_dir)
    assert _titles(read_webvision(tmp_path)) == EXPECTED_1_0
    assert not any("not found" in p for p in read_webvision(tmp_path).problems)


def test_meta_root_option(make, tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "wv", tmp_path / "json-elsewhere"
    _tree_1_0(make, root, meta_lists=False, meta_dir="../json-elsewhere")
    assert (elsewhere / "google" / "q0001.json").is_file()
    assert all(it.text == "" for it in read_webvision(root))  # not found where it looks
    assert _titles(read_webvision(root, meta_root=elsewhere)) == EXPECTED_1_0


def test_train_images_256_layout_and_image_root(make, tmp_path: Path) -> None:
    _tree_1_0(make, tmp_path, meta_lists=True, image_dir="train_images_256")
    ds = read_webvision(tmp_path)
    assert _titles(ds) == EXPECTED_1_0
    for item in ds:
        assert Path(item.image).is_file()
        assert Path(item.image).parent.parent.parent.name == "train_images_256"
        load_image(item)  # decodes
    moved = tmp_path.parent / "pixels"
    (tmp_path / "train_images_256").rename(moved)
    ds = read_webvision(tmp_path, image_root=moved)
    assert all(Path(it.image).is_file() for it in ds)
    assert _titles(ds) == EXPECTED_1_0


def _tree_2_0(make, root: Path) -> None:
    """A WebVision 2.0 tree: q00001 folders, one info/queries.txt, Flickr tags as one string,
    val_images_resized/."""
    info = root / "info"
    _write(info / "synsets.txt", SYNSETS)
    _write(info / "queries.txt", "1 tench\n2 Tinca tinca\n3 goldfish\n")
    _write(
        info / "train_filelist_flickr.txt",
        "flickr/q00001/111.jpg 0\nflickr/q00002/222.jpg 0\nflickr/q00003/333.jpg 1\n",
    )
    first = {"id": "111", "title": "at the lake", "tags": "tench fish lake"}
    make.json(root / "flickr" / "q00001.json", [{"id": "999", "title": "gone"}, first])
    make.json(root / "flickr" / "q00002.json", [{"id": "222", "title": "my Tinca tinca"}])
    make.json(root / "flickr" / "q00003.json", [{"id": 333, "tags": None, "title": "gold"}])
    for rel in ("q00001/111", "q00002/222", "q00003/333"):
        make.png(root / "flickr" / f"{rel}.jpg")
    _write(info / "val_filelist.txt", "val000001.jpg 0\nval000002.jpg 1\n")
    make.png(root / "val_images_resized" / "val000001.jpg")
    make.png(root / "val_images_resized" / "val000002.jpg")


def test_webvision_2_0_five_digit_queries_and_tag_strings(make, tmp_path: Path) -> None:
    _tree_2_0(make, tmp_path)
    ds = read_webvision(tmp_path, sources=("flickr",))
    by_id = {it.id: it for it in ds}
    first = by_id["flickr/q00001/111.jpg"]
    assert (first.title, first.tags, first.fine_label) == (
        "at the lake",
        ("tench", "fish", "lake"),  # one string in 2.0: split on whitespace
        "tench",
    )
    assert by_id["flickr/q00002/222.jpg"].fine_label == "Tinca tinca"
    assert by_id["flickr/q00003/333.jpg"].title == "gold"  # a numeric id still links
    assert by_id["flickr/q00003/333.jpg"].label == "goldfish"


def test_validation_set_is_a_predefined_split(make, tmp_path: Path) -> None:
    _tree_2_0(make, tmp_path)
    ds = read_webvision(tmp_path)
    val = [it for it in ds if it.source == "webvision/val"]
    assert [(it.id, it.label) for it in val] == [
        ("val/val000001.jpg", "tench"),
        ("val/val000002.jpg", "goldfish"),
    ]
    assert all(Path(it.image).parent.name == "val_images_resized" for it in val)
    assert ds.predefined == {VAL: ("val/val000001.jpg", "val/val000002.jpg")}
    split = split_dataset(ds, holdout=0.5, seed=0)
    drawn = {*split.train, *split.val, *split.test}
    assert drawn == {"flickr/q00001/111.jpg", "flickr/q00002/222.jpg", "flickr/q00003/333.jpg"}
    assert split.extra == {VAL: ds.predefined[VAL]}
    assert split.extra_rows([it.id for it in ds])[VAL].tolist() == [3, 4]
    assert read_webvision(tmp_path, val=False).predefined == {}


def test_val_images_256_of_1_0(make, tmp_path: Path) -> None:
    _tree_1_0(make, tmp_path, meta_lists=True)
    _write(tmp_path / "info" / "val_filelist.txt", "val000001.jpg 1\n")
    make.png(tmp_path / "val_images_256" / "val000001.jpg")
    ds = read_webvision(tmp_path)
    (val,) = [it for it in ds if it.id in ds.predefined[VAL]]
    assert Path(val.image) == tmp_path / "val_images_256" / "val000001.jpg"
    assert val.label == "goldfish"


def test_query_words_and_synonyms_are_stripped(make, tmp_path: Path) -> None:
    _tree_2_0(make, tmp_path)
    ds = read_webvision(tmp_path, sources=("flickr",), val=False)
    assert ds.label_words["tench"] == ("Tinca tinca", "tench")  # synonyms, then queries
    assert ds.label_words["goldfish"] == ("Carassius auratus", "goldfish")
    stripped = {it.id: it for it in strip_label_words(ds)}
    assert stripped["flickr/q00002/222.jpg"].title == "my"  # "Tinca tinca": a synonym
    assert stripped["flickr/q00001/111.jpg"].tags == ("fish", "lake")
    before, after = label_leakage(ds), label_leakage(strip_label_words(ds))
    assert before["fine_label"]["title"] == pytest.approx(1 / 3)  # "my Tinca tinca"
    assert before["fine_label"]["tags"] == pytest.approx(1 / 3)  # "tench" tag
    assert before["class"]["text"] == pytest.approx(2 / 3)
    assert after["class"]["text"] == 0.0


def test_query_tag_option(make, tmp_path: Path) -> None:
    _tree_2_0(make, tmp_path)
    ds = read_webvision(tmp_path, sources=("flickr",), query_tag=True)
    by_id = {it.id: it for it in ds}
    assert by_id["flickr/q00001/111.jpg"].tags == ("tench", "fish", "lake")  # not twice
    assert by_id["flickr/q00002/222.jpg"].tags == ("Tinca tinca",)


def test_files_are_checked_when_decoded_not_one_by_one(make, tmp_path, monkeypatch) -> None:
    _tree_1_0(make, tmp_path, meta_lists=True)
    (tmp_path / "google" / "q0001" / "a3.jpg").unlink()
    looked: list[str] = []
    real_stat = Path.stat

    def counting_stat(self, *args, **kwargs):
        if self.suffix == ".jpg":
            looked.append(self.name)
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", counting_stat)
    ds = read_webvision(tmp_path)
    monkeypatch.undo()
    assert looked == ["a1.jpg"]  # the first image tells where the images are; no more
    a3 = next(it for it in ds if it.id == "google/q0001/a3.jpg")
    assert a3.title == "title a3"  # kept: it fails, named, when it is decoded
    with pytest.raises(ItemError, match="image file not found"):
        load_image(a3)
    checked = read_webvision(tmp_path, check_files=True)
    assert "google/q0001/a3.jpg" not in _titles(checked)
    assert "google/q0001/a3.jpg: image file not found; skipped" in checked.problems


def test_the_studys_layout_with_extensionless_sidecars(make, tmp_path: Path) -> None:
    train = tmp_path / "train"
    make.png(train / "n01440764" / "4567.jpg")
    make.json(train / "n01440764" / "4567", {"title": "a tench", "tags": "fish tench lake"})
    make.png(train / "n01443537" / "AbC_d-9.jpg")
    make.json(train / "n01443537" / "AbC_d-9.jpg.json", {"title": "goldfish bowl"})
    make.png(train / "n01443537" / "x1.jpg")
    make.json(train / "n01443537" / "x1.json", {"title": "from x1.json", "tags": ["a b"]})
    make.json(train / "n01443537" / "x1", {"title": "from x1"})
    ds = read_folder(train)
    by_id = {it.id: it for it in ds}
    assert sorted(by_id) == ["n01440764/4567.jpg", "n01443537/AbC_d-9.jpg", "n01443537/x1.jpg"]
    tench = by_id["n01440764/4567.jpg"]
    assert (tench.title, tench.tags, tench.label) == (
        "a tench",
        ("fish", "tench", "lake"),
        "n01440764",
    )
    assert by_id["n01443537/AbC_d-9.jpg"].title == "goldfish bowl"
    assert by_id["n01443537/x1.jpg"].title == "from x1.json"
    assert by_id["n01443537/x1.jpg"].tags == ("a b",)  # a list is kept as it is
    assert ds.problems == ["n01443537/x1.jpg: also has sidecar x1; ignored"]


GENERATED = {
    "1.0, meta lists": TreeSpec(items=400, version=1, seed=1),
    "2.0, metadata/, train_images_256/, no meta lists": TreeSpec(
        items=400, version=2, meta_lists=False, meta_dir="metadata",
        image_dir="train_images_256", seed=2,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(GENERATED))
def test_a_generated_tree_reads_every_text_onto_its_image(tmp_path: Path, name: str) -> None:
    truth = make_tree(tmp_path, GENERATED[name])
    ds = read_webvision(tmp_path)
    train = [it for it in ds if it.id not in ds.predefined[VAL]]
    assert sorted(it.id for it in train) == sorted(truth)
    for item in train:
        want = truth[item.id]
        assert (item.title, item.description, item.tags) == (
            want["title"],
            want["description"],
            tuple(want["tags"]),
        ), item.id
        assert item.fine_label == want["query"]
        assert ds.classes.index(item.label) == want["label_index"]
    assert len(ds.predefined[VAL]) == 5 * len(ds.classes)


def test_datasets_info_prints_table_1_and_leakage(tmp_path: Path) -> None:
    truth = make_tree(tmp_path, TreeSpec(items=300, seed=3))
    res = subprocess.run(
        [sys.executable, "-m", "pictext.cli", "datasets", "info", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["predefined"] == {VAL: 100}
    assert info["items"] == len(truth) + 100
    for source, rates in truth_rates(truth).items():
        measured = info["missing_rate_by_source"][f"webvision/{source}"]
        assert {f: measured[f] for f in rates} == pytest.approx(rates)
    leak = info["label_leakage"]
    assert leak["before"]["fine_label"]["title"] > 0.3  # the generator puts queries in titles
    assert leak["after"]["class"]["text"] == 0.0
