"""Budgets before reading, and nothing dropped without a word.

Every sidecar, description, metadata and manifest file has its byte size checked with
``stat`` before it is read: a file over its budget is named and never read (sparse files of
hundreds of MB here cost no disk, and reading one would show in the memory peak). Files under
a dataset root that are not read are named; a manifest without rows is an error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from PIL import Image

from pictext.core.defaults import MAX_MANIFEST_BYTES, MAX_SIDECAR_BYTES
from pictext.data.errors import ItemError
from pictext.data.folder import read_folder
from pictext.data.manifest import read_manifest

SRC = Path(__file__).resolve().parents[2] / "src"


def _sparse(path: Path, size: int, head: bytes = b"") -> Path:
    path.write_bytes(head)
    os.truncate(path, size)
    return path


def _class_folder(root: Path) -> Path:
    (root / "cats").mkdir(parents=True)
    Image.new("RGB", (8, 8), "red").save(root / "cats" / "a.png")
    return root


@pytest.mark.parametrize("size", [MAX_SIDECAR_BYTES + 1, 200 << 20])
def test_a_sidecar_over_its_budget_is_named_and_never_read(tmp_path, size):
    root = _class_folder(tmp_path / "ds")
    _sparse(root / "cats" / "a.json", size, b'{"title": "')
    tracemalloc.start()
    ds = read_folder(root)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 << 20  # the 200 MB sidecar was not read
    (item,) = ds.items
    assert item.title == ""  # kept, with empty text
    (problem,) = [p for p in ds.problems if "a.json" in p]
    assert f"is {size:,} bytes; the limit for a sidecar is {MAX_SIDECAR_BYTES:,}" in problem


def test_a_sidecar_within_its_budget_is_read(tmp_path):
    root = _class_folder(tmp_path / "ds")
    (root / "cats" / "a.json").write_text(json.dumps({"title": "a red cat"}))
    assert read_folder(root).items[0].title == "a red cat"


def test_a_manifest_over_its_budget_is_refused_before_reading(tmp_path):
    path = _sparse(tmp_path / "m.csv", MAX_MANIFEST_BYTES + 1, b"path,title\n")
    tracemalloc.start()
    with pytest.raises(ItemError, match="the limit for a manifest is") as info:
        read_manifest(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 << 20
    assert str(path) in str(info.value.item_id)


@pytest.mark.parametrize(
    ("name", "text"),
    [("m.csv", "path,title\n"), ("m.tsv", "path\ttitle\n\n\n"), ("m.csv", "image\n")],
)
def test_a_manifest_with_a_header_and_no_rows_is_an_error(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ItemError, match="manifest has no rows"):
        read_manifest(path)


def test_every_file_a_class_folder_dataset_does_not_read_is_named(tmp_path):
    root = _class_folder(tmp_path / "ds")
    Image.new("RGB", (8, 8)).save(root / "stray.png")
    (root / "README.md").write_text("about")
    ds = read_folder(root)
    assert [it.id for it in ds.items] == ["cats/a.png"]
    named = " | ".join(ds.problems)
    assert "stray.png: image at the top level, not in a class folder" in named
    assert "README.md: file at the top level" in named


def test_the_cli_names_the_empty_manifest_in_one_line(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("path,title\n")
    env = {**os.environ, "PYTHONPATH": str(SRC), "PICTEXT_CACHE": str(tmp_path / "cache")}
    res = subprocess.run(
        [sys.executable, "-m", "pictext.cli", "embed", str(path), "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(path) in lines[0]
    assert "manifest has no rows" in lines[0]
