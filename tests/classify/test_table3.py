from __future__ import annotations

import json

import numpy as np
import pytest
from heads_synth import make_features

from pictext.classify.fusion import FusionConfig
from pictext.classify.table3 import CONDITIONS, Table3Config, run_table3
from pictext.classify.tables import summary, table_markdown, write_outputs
from pictext.data.dataset import Dataset
from pictext.data.item import Item
from pictext.data.split import GROUPED, DatasetSplit

N = 160


def _split(ds, *, holdout, seed) -> DatasetSplit:
    p = np.random.default_rng(seed).permutation(len(ds))
    k = int(len(ds) * holdout / 2)
    ids = lambda rows: tuple(ds.items[int(i)].id for i in rows)  # noqa: E731
    return DatasetSplit(ids(p[2 * k :]), ids(p[:k]), ids(p[k : 2 * k]), GROUPED, holdout, seed)


@pytest.fixture(scope="module")
def result():
    _, y = make_features(N, 4)
    ds = Dataset("toy", [Item(f"item{i}", label="abcd"[y[i]]) for i in range(N)])
    calls = []

    def features(ie, te):
        calls.append((ie, te))
        return make_features(N, 4, image_encoder=ie, text_encoder=te)[0]

    cfg = Table3Config(
        image_encoders=("imgA", "imgB"),
        text_encoders=("txtA",),
        seeds=(0, 1),
        head=FusionConfig(
            epochs=10, patience=5, hidden=32, tune_dim=16, image_tune_dim=16, lr=3e-3
        ),
    )
    groups = np.arange(N) % 50  # items i and i+50 ... are duplicates
    splits = [_split(ds, holdout=cfg.holdout, seed=s) for s in cfg.seeds]
    res = run_table3(ds, features, cfg, splits=splits, dup_groups=groups)
    return res, calls


def test_every_row_for_every_seed(result) -> None:
    res, calls = result
    assert sorted(set(calls)) == [("imgA", "txtA"), ("imgB", "txtA")]  # features cached per pair
    rows = {r["row"] for r in res.scores}
    assert rows == {
        "image-only imgA", "image-only imgB", "text-only txtA",
        "fusion imgA + txtA", "fusion imgB + txtA",
        "fusion head alone imgA + txtA", "fusion head alone imgB + txtA",
        "LogReg concat imgA + txtA", "LogReg concat imgB + txtA",
        "tuned linear, all fields imgA + txtA", "tuned linear, all fields imgB + txtA",
        "average probs imgA + txtA", "average probs imgB + txtA",
        "saved classifier (ensemble) imgA + txtA", "saved classifier (ensemble) imgB + txtA",
    }  # fmt: skip
    assert len(res.scores) == 2 * len(rows)
    assert all(0 <= r["top1"] <= r["top5"] <= 1 for r in res.scores)
    assert all("novel_top1" in r for r in res.scores)
    assert res.sizes["test"] == 32
    assert 0 < res.sizes["novel"] < 32
    # the routed fusion row, its fusion head alone and the ensemble, per seed and pair
    assert len(res.robustness) == 2 * 2 * 3 * len(CONDITIONS)


def test_the_fusion_row_is_the_routed_classifier_with_routes_chosen_on_validation(result) -> None:
    res, _ = result
    fusion = [r for r in res.scores if r["kind"] == "fusion"]
    assert len(fusion) == 4
    assert all(
        r["row"].startswith("fusion imgA") or r["row"].startswith("fusion imgB") for r in fusion
    )
    for r in fusion:
        assert set(r["route_validation"]) == {"no image", "no text"}
        for route, head in (("no image", "text"), ("no text", "image")):
            v = r["route_validation"][route]
            # a route is kept exactly when its head beat the fusion head on validation
            assert (r["routes"].get(route) == head) == (v[head] > v["fusion"])
    alone = {(r["seed"], r["row"].removeprefix("fusion head alone ")) for r in res.scores
             if r["kind"] == "fusion-head"}  # fmt: skip
    assert alone == {(r["seed"], r["row"].removeprefix("fusion ")) for r in fusion}


def test_summary_and_files(result, tmp_path) -> None:
    res, _ = result
    s = summary(res)
    fusion = next(r for r in s["table"] if r["row"] == "fusion imgA + txtA")
    vals = [100 * r["top1"] for r in res.scores if r["row"] == "fusion imgA + txtA"]
    assert fusion["top1"] == pytest.approx(np.mean(vals))
    assert fusion["top1_std"] == pytest.approx(np.std(vals))
    assert set(s["gains"]) >= {
        "vs_best_single", "vs_best_anchor-logreg", "vs_best_anchor-tuned", "vs_best_anchor-average"
    }  # fmt: skip
    best = next(r for r in s["table"] if r["row"] == s["gains"]["best_fusion"])
    alone = next(r for r in s["table"] if r["row"] == "fusion head alone" + best["row"][6:])
    assert s["gains"]["vs_fusion_head_alone"] == pytest.approx(best["top1"] - alone["top1"])
    tuned = [r for r in res.scores if r["kind"] == "anchor-tuned"]
    assert tuned
    assert all(str(r["C"]) in r["val_top1_by_C"] for r in tuned)
    files = write_outputs(res, tmp_path)
    assert json.loads(files["json"].read_text())["summary"]["dataset"] == "toy"
    md = files["table"].read_text()
    assert "| fusion imgA + txtA |" in md
    assert "vs its fusion head alone" in md
    assert "novel top-1" in md
    assert "no text" in files["robustness"].read_text()
    # the saved classifier's row, compared with the best candidate alone
    g = s["gains"]
    ens = next(r for r in s["table"] if r["row"] == g["ensemble"])
    best = max((r for r in s["table"] if r["kind"] != "ensemble"), key=lambda r: r["top1"])
    assert g["best_candidate"] == best["row"]
    assert g["ensemble_vs_best_candidate"] == pytest.approx(ens["top1"] - best["top1"])
    assert f"| {g['ensemble']} |" in md
    assert "Saved classifier (ensemble) img" in md
    assert "vs the best candidate" in md
    ensembles = [r for r in res.scores if r["kind"] == "ensemble"]
    assert all(sum(r["weights"].values()) == pytest.approx(1.0) for r in ensembles)
    # the split of each seed is recorded beside the tables, as it was used
    for seed, split in zip((0, 1), res.splits, strict=True):
        assert DatasetSplit.load(tmp_path / f"split-seed{seed}.json") == split
    assert res.splits[0].test != res.splits[1].test


def test_splits_must_match_the_seeds(result) -> None:
    res, _ = result
    ds = Dataset("toy", [Item(f"item{i}", label="abcd"[i % 4]) for i in range(N)])
    with pytest.raises(ValueError, match="1 splits for 2 seeds"):
        run_table3(ds, lambda ie, te: None, Table3Config(seeds=(0, 1)), splits=res.splits[:1])


def test_table3_reports_on_a_predefined_set() -> None:
    from pictext.data.split import split_dataset

    _, y = make_features(N, 4)
    items = [Item(f"item{i}", label="abcd"[y[i]]) for i in range(N)]
    held = tuple(f"item{i}" for i in range(N - 40, N))
    ds = Dataset("toy", items, predefined={"webvision_val": held})
    cfg = Table3Config(
        image_encoders=("imgA",),
        text_encoders=("txtA",),
        seeds=(0,),
        anchors=False,
        head=FusionConfig(epochs=4, hidden=16, tune_dim=8, image_tune_dim=8),
    )
    splits = [split_dataset(ds, holdout=0.2, seed=0)]
    res = run_table3(ds, lambda ie, te: make_features(N, 4)[0], cfg, splits=splits)
    assert res.sizes["webvision_val"] == 40
    assert all(0 <= r["webvision_val_top1"] <= r["webvision_val_top5"] <= 1 for r in res.scores)
    s = summary(res)
    assert "webvision_val_top1" in s["table"][0]
    assert "| model | top-1 | top-5 | webvision_val top-1 | webvision_val top-5 |" in (
        table_markdown(s)
    )


def test_a_collection_without_text_gets_image_rows_only() -> None:
    feats, y = make_features(N, 4)
    feats.text_mask = {k: np.zeros(N, bool) for k in feats.text_mask}
    ds = Dataset("toy", [Item(f"item{i}", label="abcd"[y[i]]) for i in range(N)])
    cfg = Table3Config(
        image_encoders=("imgA",), text_encoders=("txtA",), seeds=(0,),
        head=FusionConfig(epochs=40, hidden=16, tune_dim=8, image_tune_dim=8, lr=3e-3),
    )  # fmt: skip
    res = run_table3(ds, lambda ie, te: feats, cfg, splits=[_split(ds, holdout=0.3, seed=0)])
    assert {r["row"] for r in res.scores} == {"image-only imgA", "LogReg image imgA"}
    assert all(r["top1"] > 0.5 for r in res.scores)  # four classes: chance is 0.25
