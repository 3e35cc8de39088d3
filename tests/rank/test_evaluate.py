from __future__ import annotations

import math

import numpy as np
import pytest

from pictext.core.vectors import unit_rows
from pictext.rank.evaluate import (
    diversity_sweep,
    evaluation_triplets,
    matched_table,
    random_histories,
    ranking_table,
)


def _clusters(n_per: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(5), n_per)
    z = np.eye(8)[y] * 2 + 0.5 * rng.normal(size=(len(y), 8))
    return z.astype(np.float32), y


def test_evaluation_triplets_are_out_of_class() -> None:
    _, y = _clusters()
    t = evaluation_triplets(y, per_query=4, seed=0)
    assert len(t) == 4 * len(y)
    assert (y[t[:, 0]] == y[t[:, 1]]).all()
    assert (y[t[:, 0]] != y[t[:, 2]]).all()


def test_ranking_table_orders_a_good_and_a_random_space() -> None:
    z, y = _clusters()
    noise = np.random.default_rng(1).normal(size=z.shape).astype(np.float32)
    rows = {r["space"]: r for r in ranking_table({"good": z, "random": noise}, y)}
    assert rows["good"]["triplet_acc"] > 0.95
    assert rows["random"]["triplet_acc"] == pytest.approx(0.5, abs=0.05)
    assert rows["good"]["mAP"] > rows["random"]["mAP"]
    assert rows["good"]["score@30"] > rows["random"]["score@30"]


def test_diversity_sweep_and_matched_table() -> None:
    z, y = _clusters(40)
    unit = unit_rows(z)
    hist = random_histories(y, 20, 3, seed=0)
    assert all(len(set(y[h])) == 1 for h in hist)
    sweep = diversity_sweep(
        unit, y, hist, k=5, pool=60, lambdas=(1.0, 0.7, 0.3, 0.0), offsets=(0, 10, 30)
    )
    knn0 = next(r for r in sweep if r["method"] == "knn" and r["knob"] == 0.0)
    for m in ("mmr", "kcenter", "dpp"):
        at1 = next(r for r in sweep if r["method"] == m and r["knob"] == 1.0)
        assert at1["relevance"] == pytest.approx(knn0["relevance"])  # lambda 1 = kNN
        at0 = next(r for r in sweep if r["method"] == m and r["knob"] == 0.0)
        assert at0["ILD"] > knn0["ILD"]
    table = matched_table(sweep)
    assert [r["knn_offset"] for r in table] == [10.0, 30.0]
    for r in table:
        for m in ("mmr", "kcenter", "dpp"):
            ilds = [x["ILD"] for x in sweep if x["method"] == m]
            rels = [x["relevance"] for x in sweep if x["method"] == m]
            if min(rels) <= r["relevance"] <= max(rels):
                assert min(ilds) - 1e-9 <= r[f"{m}_ILD"] <= max(ilds) + 1e-9
            else:
                assert math.isnan(r[f"{m}_ILD"])
