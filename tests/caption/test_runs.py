"""``run_captions`` on a toy collection: chosen on validation, scored on test."""

from __future__ import annotations

import numpy as np
import pytest

from pictext.caption.runs import CaptionRunConfig, run_captions
from pictext.caption.tables import format_caption_table, format_consensus_grid
from pictext.data.dataset import Dataset
from pictext.data.item import Item
from pictext.store.features import Features


@pytest.fixture(scope="module")
def toy_collection(make_toy):
    x, caps, y = make_toy(n=96, seed=0)
    items = [
        Item(id=f"c{c}/{i}", title=f"picture {i}", description=cap, label=f"c{c}")
        for i, (cap, c) in enumerate(zip(caps, y, strict=True))
    ]
    feats = Features(
        ids=[it.id for it in items], image=x, image_mask=np.ones(len(x), bool), image_encoder="t@1"
    )
    return Dataset("toy", items), feats


CFG = CaptionRunConfig(
    archs=("consensus", "merge"),
    field="description",
    holdout=0.4,
    epochs=12,
    min_count=1,
    ks=(1, 5, 20),
    temperatures=(0.05, 1.0),
)


@pytest.fixture(scope="module")
def result(toy_collection, bow_class):
    ds, feats = toy_collection
    return run_captions(ds, feats, CFG, log=lambda _: None, text_encoder=bow_class())


def test_sides_rows_and_the_default(result) -> None:
    train, val, test = (set(result[s].tolist()) for s in ("train", "val", "test"))
    assert train
    assert val
    assert test
    assert not train & val
    assert not train & test
    assert not val & test
    rows = {(r["model"], r["decoding"]): r for r in result["rows"]}
    assert ("merge", "greedy (report)") in rows  # the reproduction keeps its own row
    assert ("nearest caption", "-") in rows
    assert ("most frequent caption", "-") in rows
    candidates = [r for r in result["rows"] if "arch" in r]
    assert [r["arch"] for r in candidates] == ["consensus", "merge"]
    best = max(candidates, key=lambda r: r["val_score"])
    assert [r for r in result["rows"] if r["default"]] == [best]
    assert result["default"] == best["arch"]
    for model in result["models"].values():
        assert model.image_encoder == "t@1"  # what `pictext caption` embeds new images with
    for r in result["rows"]:
        assert 0 <= r["bleu1"] <= 1
        assert -1 <= r["cosine"] <= 1
        assert 0 <= r["degenerate"] <= 1
        assert set(r["val"]) >= {"bleu1", "cosine", "degenerate"}
    table = format_caption_table(result["rows"])
    assert table.count("(default)") == 1
    assert "greedy (report)" in table


def test_consensus_settings_come_from_validation(result) -> None:
    grid = result["consensus_grid"]
    tried = [(g["k"], g["temperature"]) for g in grid]
    assert tried == [(1, 0.05), (5, 0.05), (5, 1.0), (20, 0.05), (20, 1.0)]
    best = max(grid, key=lambda g: g["val_score"])
    chosen = result["models"]["consensus"].config
    assert (chosen.k, chosen.temperature) == (best["k"], best["temperature"])
    assert "**" in format_consensus_grid(grid)


def test_test_references_choose_nothing(toy_collection, result, bow_class, monkeypatch) -> None:
    """Garbling the test side's references changes test figures and no choice."""
    import pictext.caption.runs as runs

    ds, feats = toy_collection
    test = set(result["test"].tolist())
    real = runs.reference_captions

    def garbled(dataset, field="auto"):
        refs = real(dataset, field)
        return ["zebra crossing at night" if i in test else r for i, r in enumerate(refs)]

    monkeypatch.setattr(runs, "reference_captions", garbled)
    again = run_captions(ds, feats, CFG, log=lambda _: None, text_encoder=bow_class())
    assert again["default"] == result["default"]
    assert again["models"]["consensus"].config == result["models"]["consensus"].config
    assert [r["val_score"] for r in again["rows"]] == [r["val_score"] for r in result["rows"]]
    assert again["rows"][0]["bleu1"] < result["rows"][0]["bleu1"]


def test_unknown_types_are_refused(toy_collection, bow_class) -> None:
    ds, feats = toy_collection
    with pytest.raises(ValueError, match="unknown captioner types"):
        run_captions(ds, feats, CaptionRunConfig(archs=("gru",)), text_encoder=bow_class())
