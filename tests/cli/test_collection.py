from __future__ import annotations

import json
from pathlib import Path

import pytest
from collection_toys import make_folder, png_bytes

from pictext.cli import main
from pictext.data.registry import load_dataset


def test_add_then_export_jsonl_reads_back_with_the_added_item(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = make_folder(tmp_path)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "bundle.json").write_text(json.dumps({"dataset": str(data)}))
    image = tmp_path / "new.png"
    image.write_bytes(png_bytes((5, 250, 5)))
    assert main(["add", str(bundle), str(image), "--label", "frog", "--title", "green"]) == 0
    assert (bundle / "collection.sqlite").is_file()
    out = tmp_path / "out.jsonl"
    assert main(["export", str(bundle), "--format", "jsonl", "--out", str(out)]) == 0
    back = load_dataset(out)
    assert len(back) == 7
    assert "frog" in back.classes
    assert main(["export", str(bundle), "--format", "csv", "--out", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err


def test_a_damaged_database_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "collection.sqlite").write_bytes(b"x" * 4096)
    assert main(["export", str(bundle), "--format", "csv", "--out", str(tmp_path / "o.csv")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "damaged collection database" in err
