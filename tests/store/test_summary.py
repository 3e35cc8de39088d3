"""The embedding run's counts are true and add up, in the report and in `pictext embed`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from store_fakes import CountingImageEncoder, CountingTextEncoder, make_items
from typer.testing import CliRunner

from pictext.data.item import Item
from pictext.store import EmbedReport, embed_items


def test_report_counts_add_up(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    items = [
        *make_items(3),
        Item("broken", str(bad), title="has text"),
        Item("quiet", pixels=make_items(1, start=9)[0].pixels),  # no text at all
        Item("text only", title="no image"),
    ]
    report = EmbedReport()
    embed_items(
        items,
        CountingImageEncoder(),
        CountingTextEncoder(),
        cache_dir=tmp_path / "c",
        report=report,
    )
    assert (report.embedded, report.failed, report.no_input) == (4, 1, 1)
    assert report.embedded + report.failed + report.no_input == report.items == 6
    assert report.empty_text == 1  # "quiet": kept and embedded, not skipped


def test_without_an_image_encoder_items_without_text_have_nothing_to_embed(tmp_path):
    items = [Item("a", title="words"), Item("b")]
    report = EmbedReport()
    embed_items(items, None, CountingTextEncoder(), cache_dir=tmp_path, report=report)
    assert (report.embedded, report.failed, report.no_input, report.empty_text) == (1, 0, 1, 1)


def _png(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "pets"
    for i, rel in enumerate(["dog/1.png", "dog/2.png", "cat/3.png"]):
        _png(root / rel, i)
    (root / "dog" / "1.json").write_text(json.dumps({"title": "a dog"}))
    (root / "cat" / "3.json").write_text(json.dumps({"title": "a cat", "tags": ["x"]}))
    # dog/2.png has no sidecar: kept with empty text
    (root / "cat" / "4.png").write_bytes(b"")  # skipped while reading
    (root / "cat" / "6.xyz").write_bytes(b"?")  # skipped while reading
    (root / "cat" / "5.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)  # fails to embed
    (root / "cat" / "5.json").write_text(json.dumps({"title": "broken"}))
    (root / "cat" / "7.json").write_text("{}")  # a sidecar without an image: a note
    return root


def _rows(output: str) -> dict[str, str]:
    """Label -> value of a summary: table rows, or ``- label: value`` lines (not a terminal)."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line) if c.strip()]
        if len(cells) == 2:
            rows[cells[0]] = cells[1]
        elif line.lstrip().startswith("- ") and ": " in line:
            name, _, value = line.strip()[2:].partition(": ")
            rows[name.strip()] = value.strip()
    return rows


def test_embed_command_summary_adds_up(folder, tmp_path, monkeypatch):
    from pictext.cli import app

    fakes = {"fake-image": CountingImageEncoder(), "fake-text": CountingTextEncoder()}
    monkeypatch.setattr("pictext.store.embed.encoder_for", lambda spec, pool=None: fakes[spec])
    monkeypatch.setenv("PICTEXT_CACHE", str(tmp_path / "cache"))
    args = ["embed", str(folder), "--image-encoder", "fake-image", "--text-encoder", "fake-text"]
    res = CliRunner().invoke(app, [*args, "--no-progress"], env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    rows = _rows(res.output)
    assert rows["entries read"] == "6"
    assert rows["skipped while reading"] == "2"  # the empty and the unsupported file
    assert rows["kept as items"] == "4"
    assert rows["with vectors"] == "3"
    assert rows["failed"] == "1"
    assert rows["of them with empty text (kept)"] == "1"  # dog/2.png, not counted skipped
    assert "skipped cat/4.png: empty image file" in res.output
    assert "failed cat/5.png:" in res.output
    assert "note dog/2.png: no sidecar 2.json; kept with empty text" in res.output
    assert "2 skipped, 1 failed, 2 noted" in res.output
