"""Honest reading: nothing vanishes without a word, nothing wrong is embedded as text.

Unreadable sidecars and wrongly typed fields are per-item problems (the item keeps its
image); unreadable folders and bad symlinks are named; symlinks and manifest paths out of
the dataset's folder follow the policy of docs/DATA.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fsdenial import permissions_prefix

from pictext.data import load_dataset
from pictext.data.errors import ItemError
from pictext.data.folder import read_folder
from pictext.data.manifest import read_manifest


def _problems(ds, item_id: str) -> list[str]:
    return [p for p in ds.problems if p.startswith(f"{item_id}: ")]


@pytest.fixture
def pets(make, tmp_path: Path) -> Path:
    root = tmp_path / "pets"
    make.png(root / "dog" / "1.png")
    make.json(root / "dog" / "1.json", {"title": "a dog", "tags": ["pet"]})
    make.png(root / "cat" / "2.png", color=(0, 90, 0))
    make.json(root / "cat" / "2.json", {"title": "a cat"})
    return root


def test_a_sidecar_that_cannot_be_read_is_a_problem_of_its_item(pets: Path) -> None:
    (pets / "cat" / "2.json").unlink()
    (pets / "cat" / "2.json").mkdir()  # reading it fails (IsADirectoryError), like EACCES
    ds = read_folder(pets)
    by_id = {it.id: it for it in ds}
    assert sorted(by_id) == ["cat/2.png", "dog/1.png"]  # the run goes on, the item is kept
    assert by_id["cat/2.png"].text == ""
    assert by_id["dog/1.png"].title == "a dog"
    (problem,) = _problems(ds, "cat/2.png")
    assert problem.startswith("cat/2.png: cannot read sidecar 2.json (Is a directory)")
    assert problem.endswith("kept with empty text")
    assert ds.skipped == 0  # kept, not skipped


def _info(*args: str, prefix: list[str]) -> dict:
    res = subprocess.run(
        [*prefix, sys.executable, "-m", "pictext.cli", "datasets", "info", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return json.loads(res.stdout)


def test_permission_denied_sidecar_and_folder_are_named(pets: Path, make) -> None:
    prefix = permissions_prefix()
    if prefix is None:
        pytest.skip("running as root without setpriv: permission bits cannot be enforced")
    (pets / "cat" / "2.json").chmod(0)
    make.png(pets / "bird" / "3.png")
    (pets / "bird").chmod(0)
    try:
        info = _info(str(pets), "--no-duplicates", prefix=prefix)
    finally:
        (pets / "bird").chmod(0o755)
    assert info["items"] == 2  # dog/1 and cat/2 (with empty text); bird's files unseen
    problems = info["problem_list"]
    assert "cat/2.png: cannot read sidecar 2.json (Permission denied); kept with empty text" in (
        problems
    )
    assert "bird/: cannot read folder (Permission denied), files unseen; skipped" in problems


WRONG = [
    ({"title": ["a", "list"]}, "title", "field 'title' is a list, not a string"),
    ({"description": 42}, "description", "field 'description' is a number, not a string"),
    ({"title": True}, "title", "field 'title' is a boolean, not a string"),
    ({"description": {"en": "x"}}, "description", "field 'description' is an object, not a string"),
    ({"tags": {"k": "v"}}, "tags", "field 'tags' is an object, not a list of strings"),
    ({"tags": ["ok", 3]}, "tags", "field 'tags' holds a number, not only strings"),
    ({"tags": 7}, "tags", "field 'tags' is a number, not a list of strings"),
]


@pytest.mark.parametrize(("data", "field", "message"), WRONG)
def test_a_wrongly_typed_field_is_left_empty_and_named(pets, make, data, field, message) -> None:
    good = {"title": "a cat", "description": "grey", "tags": ["cute", "small"]}
    make.json(pets / "cat" / "2.json", {**good, **data})
    ds = read_folder(pets)
    cat = next(it for it in ds if it.id == "cat/2.png")
    assert getattr(cat, field) in ("", ())
    for other in {"title", "description", "tags"} - {field}:
        assert getattr(cat, other) == (tuple(good[other]) if other == "tags" else good[other])
    assert "[" not in cat.text  # no Python repr reaches the text encoder
    assert "{" not in cat.text
    (problem,) = _problems(ds, "cat/2.png")
    assert problem == f"cat/2.png: sidecar 2.json: {message}; left empty"


def test_null_and_string_tags_are_fine(pets, make) -> None:
    make.json(pets / "cat" / "2.json", {"title": None, "tags": "a; b"})
    ds = read_folder(pets)
    cat = next(it for it in ds if it.id == "cat/2.png")
    assert (cat.title, cat.tags) == ("", ("a", "b"))
    assert _problems(ds, "cat/2.png") == []


def test_dangling_and_looping_symlinks_are_named(pets: Path) -> None:
    os.symlink(pets / "cat" / "gone.png", pets / "cat" / "3.png")
    os.symlink(pets / "cat" / "b.png", pets / "cat" / "a.png")
    os.symlink(pets / "cat" / "a.png", pets / "cat" / "b.png")
    os.symlink(pets / "cat", pets / "cat" / "again")  # a folder that contains itself
    ds = read_folder(pets)
    assert sorted(it.id for it in ds) == ["cat/2.png", "dog/1.png"]
    assert _problems(ds, "cat/3.png") == [
        f"cat/3.png: dangling symlink (to {pets / 'cat' / 'gone.png'}); skipped"
    ]
    assert _problems(ds, "cat/a.png") == ["cat/a.png: symlink loop; skipped"]
    assert _problems(ds, "cat/b.png") == ["cat/b.png: symlink loop; skipped"]
    assert _problems(ds, "cat/again/") == [
        "cat/again/: symlink loop (leads back to a folder above); skipped"
    ]
    assert ds.skipped == 4


def test_a_fifo_is_named_not_read(pets: Path) -> None:
    os.mkfifo(pets / "cat" / "pipe.png")  # reading it would block forever
    ds = read_folder(pets)
    assert sorted(it.id for it in ds) == ["cat/2.png", "dog/1.png"]
    assert _problems(ds, "cat/pipe.png") == ["cat/pipe.png: not a regular file; skipped"]


def test_symlinks_inside_the_folder_are_followed(pets: Path) -> None:
    os.symlink(pets / "dog" / "1.png", pets / "cat" / "4.png")
    os.symlink(pets / "dog", pets / "cat" / "dogs")
    ds = read_folder(pets)
    assert sorted(it.id for it in ds) == [
        "cat/2.png",
        "cat/4.png",
        "cat/dogs/1.png",
        "dog/1.png",
    ]
    assert next(it for it in ds if it.id == "cat/dogs/1.png").title == "a dog"
    # a linked file's sidecar is looked for beside the link
    assert ds.problems == ["cat/4.png: no sidecar 4.json; kept with empty text"]


def test_symlinks_out_of_the_folder_are_refused_unless_allowed(pets: Path, make, tmp_path):
    outside = make.png(tmp_path / "elsewhere" / "x.png", color=(1, 2, 3))
    make.json(tmp_path / "elsewhere" / "x.json", {"title": "outside"})
    os.symlink(outside, pets / "cat" / "5.png")
    os.symlink(outside.parent, pets / "far")
    ds = read_folder(pets)
    assert sorted(it.id for it in ds) == ["cat/2.png", "dog/1.png"]
    (problem,) = _problems(ds, "cat/5.png")
    assert f"symlink to {outside}, outside the dataset folder; not followed" in problem
    assert "--allow-outside-root" in problem
    assert _problems(ds, "far")[0].startswith("far: symlink to ")
    allowed = load_dataset(pets, allow_outside_root=True)
    assert sorted(it.id for it in allowed) == ["cat/2.png", "cat/5.png", "dog/1.png", "far/x.png"]
    assert allowed.problems == ["cat/5.png: no sidecar 5.json; kept with empty text"]
    assert next(it for it in allowed if it.id == "far/x.png").title == "outside"


def test_an_unlisted_dataset_folder_is_one_error_naming_it(pets: Path, monkeypatch) -> None:
    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("pictext.data.walk.os.scandir", refuse)
    with pytest.raises(ItemError, match=f"{pets}: cannot read the dataset folder"):
        read_folder(pets)


# ---- manifests ---------------------------------------------------------------------------------
def test_manifest_paths_outside_its_folder_follow_the_policy(make, tmp_path: Path) -> None:
    make.png(tmp_path / "data" / "img" / "a.png")
    make.png(tmp_path / "shared" / "b.png", color=(1, 1, 1))
    inside_abs = tmp_path / "data" / "img" / "a.png"
    (tmp_path / "data" / "m.csv").write_text(
        f"path,title,label\nimg/a.png,A,x\n{inside_abs},A again,x\n../shared/b.png,B,y\n"
        f"{tmp_path / 'shared' / 'b.png'},B abs,y\n",
        encoding="utf-8",
    )
    manifest = tmp_path / "data" / "m.csv"
    ds = read_manifest(manifest)
    assert [it.id for it in ds] == ["img/a.png", str(inside_abs)]
    outside = [p for p in ds.problems if "is outside" in p]
    assert len(outside) == 2
    assert outside[0].startswith("../shared/b.png: image path ")
    assert outside[0].endswith("; skipped")
    assert ds.skipped == 2
    assert len(read_manifest(manifest, allow_outside_root=True)) == 4
    assert len(load_dataset(manifest, allow_outside_root=True)) == 4
    assert len(read_manifest(manifest, root=tmp_path)) == 4


def test_a_wrongly_typed_manifest_field_is_left_empty(make, tmp_path: Path) -> None:
    make.png(tmp_path / "a.png")
    row = {"path": "a.png", "title": ["x"], "tags": ["ok"], "label": "l"}
    (tmp_path / "m.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    ds = read_manifest(tmp_path / "m.jsonl")
    assert (ds[0].title, ds[0].tags) == ("", ("ok",))
    assert ds.problems == ["a.png: field 'title' is a list, not a string; left empty"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "manifest is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "manifest is a binary file"),
        (b"title,label\nx,y\n", "manifest needs a 'path' (or 'image') column; its columns:"),
    ],
)
def test_an_unusable_manifest_is_one_error_naming_it(tmp_path, content, problem) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes(content)
    with pytest.raises(ItemError) as info:
        load_dataset(path)
    assert info.value.item == str(path)
    assert str(info.value).startswith(f"{path}: {problem}")
    assert "\n" not in str(info.value)
