"""``pictext train``'s library side: it trains, scores and draws figures on the split it is
handed, and that split is the one recorded."""

from __future__ import annotations

import json

import numpy as np
import pytest
from heads_synth import make_features

from pictext.classify.fusion import FusionConfig
from pictext.classify.runs import model_figures, train_fusion
from pictext.classify.table3 import classify_split
from pictext.data.dataset import Dataset
from pictext.data.item import Item
from pictext.data.split import GROUPED, DatasetSplit, duplicate_groups, stratified_split

pytest.importorskip("torch")
N = 96


def _data() -> tuple[Dataset, object]:
    feats, y = make_features(N, 3)
    ds = Dataset("toy", [Item(f"item{i}", label="abc"[y[i]]) for i in range(N)])
    return ds, feats


def test_classify_split_is_the_one_grouped_policy() -> None:
    ds, _ = _data()
    split = classify_split(ds, holdout=0.4, seed=2)
    plain = stratified_split(ds.labels(), holdout=0.4, seed=2, groups=duplicate_groups(ds))
    rows = split.rows([it.id for it in ds.items])
    assert split.policy == GROUPED
    assert np.array_equal(rows.test, plain.test)
    assert np.array_equal(rows.val, plain.val)


def test_train_and_figures_use_the_handed_split(tmp_path, monkeypatch) -> None:
    import pictext.classify.plot_confusion as plot_confusion
    import pictext.classify.plot_maps as plot_maps

    ds, feats = _data()
    split = classify_split(ds, holdout=0.5, seed=1)
    cfg = FusionConfig(epochs=4, hidden=16, tune_dim=8, image_tune_dim=8)
    model, metrics = train_fusion(ds, feats, cfg, split=split)
    assert metrics["sizes"] == {"train": len(split.train), "val": len(split.val), "test": 24}
    assert metrics["split"] == {"policy": GROUPED, "holdout": 0.5, "seed": 1}
    # another split of the same items gives other sides: the split is really used
    other = DatasetSplit(split.test, split.val, split.train, GROUPED, 0.5, 1, "toy")
    _, flipped = train_fusion(ds, feats, cfg, split=other)
    assert flipped["sizes"]["test"] == len(split.train)

    seen = {}
    monkeypatch.setattr(
        plot_maps, "model_maps", lambda m, f, y, out, **kw: seen.update(map=f.ids) or []
    )
    monkeypatch.setattr(
        plot_confusion, "plot_confused_pairs", lambda y, p, *a, **kw: seen.update(test=len(y))
    )
    model_figures(ds, feats, model, tmp_path, split=split)
    assert sorted(seen["map"]) == sorted([*split.val, *split.test])  # the held-out items
    assert seen["test"] == len(split.test)
    assert (tmp_path / "learning_curve.png").stat().st_size > 1000
    saved = DatasetSplit.load(split.save(tmp_path / "split.json"))
    assert saved == split
    assert json.loads((tmp_path / "split.json").read_text())["sizes"]["test"] == 24


def test_a_predefined_set_is_never_drawn_and_is_scored_on_its_own() -> None:
    from pictext.classify.metrics import topk_accuracy

    feats, y = make_features(N, 3)
    items = [Item(f"item{i}", label="abc"[y[i]]) for i in range(N)]
    held = tuple(f"item{i}" for i in range(N - 24, N))  # e.g. WebVision's human-checked val
    ds = Dataset("toy", items, predefined={"webvision_val": held})
    split = classify_split(ds, holdout=0.5, seed=1)
    assert not set(held) & {*split.train, *split.val, *split.test}
    assert split.extra == {"webvision_val": held}
    cfg = FusionConfig(epochs=4, hidden=16, tune_dim=8, image_tune_dim=8)
    model, metrics = train_fusion(ds, feats, cfg, split=split)
    assert metrics["sizes"]["webvision_val"] == 24
    rows = np.arange(N - 24, N)
    want = 100 * topk_accuracy(model.predict_proba(feats.subset(rows)), y[rows], 1)
    assert metrics["webvision_val"]["top1"] == pytest.approx(want)
    assert DatasetSplit.from_dict(json.loads(json.dumps(split.to_dict()))) == split
