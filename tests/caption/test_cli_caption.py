"""``pictext caption-train`` keeps the type best on validation, with its table and examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pictext.caption import ConsensusCaptioner, load_captioner

service_toys = pytest.importorskip("service_toys")


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """``pictext ...`` with the toy encoders and a private cache."""
    import toy_cli

    from pictext.encoders import registry

    real_entry = registry.get_entry
    monkeypatch.setattr(registry, "create_encoder", service_toys.toy_factory)
    monkeypatch.setattr(
        registry,
        "get_entry",
        lambda name: toy_cli.toy_entry(name) if name in toy_cli.TOYS else real_entry(name),
    )
    monkeypatch.setenv("PICTEXT_CACHE", str(tmp_path / "cache"))
    from pictext.cli import app

    return lambda *args: CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return service_toys.write_dataset(tmp_path / "data")


COMMON = ["--image-encoder", "toy-image", "--text-encoder", "toy-text", "--field", "description"]


def test_caption_train_saves_the_default_with_its_record(run, data, tmp_path) -> None:
    out = tmp_path / "cap"
    res = run("caption-train", data, "--out", out, "--arch", "consensus", "--epochs", 3,
              *COMMON)  # fmt: skip
    assert res.exit_code == 0, res.output
    record = json.loads((out / "bleu.json").read_text())
    default = next(r for r in record["rows"] if r["default"])
    assert record["default"] == default["arch"] in ("consensus", "merge")
    saved = load_captioner(out)
    assert saved.config.arch == record["default"]
    assert saved.image_encoder == "toy-image@1"
    caption = run("caption", next(data.rglob("*.png")), "--model", out, "--json")
    assert caption.exit_code == 0, caption.output
    assert (out / "examples.png").stat().st_size > 0
    assert (out / "split.json").is_file()
    assert "(default)" in res.output


def test_holdout_zero_refits_the_chosen_type_on_everything(run, data, tmp_path) -> None:
    out = tmp_path / "all"
    res = run("caption-train", data, "--out", out, "--arch", "consensus", "--holdout", 0,
              *COMMON)  # fmt: skip
    assert res.exit_code == 0, res.output
    model = load_captioner(out)
    assert isinstance(model, ConsensusCaptioner)
    assert len(model.image) == 3 * service_toys.PER_CLASS  # every captioned image
    assert model.text_encoder == "toy-text@1"
    assert "refitted consensus on all 24" in res.output


def test_unknown_type_is_one_line(run, data, tmp_path) -> None:
    res = run("caption-train", data, "--out", tmp_path / "x", "--arch", "gru", *COMMON)
    assert res.exit_code != 0
    assert "unknown captioner type ['gru']" in res.output
