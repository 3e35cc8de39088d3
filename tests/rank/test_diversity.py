from __future__ import annotations

import numpy as np
import pytest

from pictext.rank.diversity import SELECTORS, select


def _unit(*rows: list[float]) -> np.ndarray:
    v = np.array(rows, np.float64)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


# two near-duplicates (0, 1) most relevant, then a different item (2), then 3 close to 2
V = _unit([1, 0, 0], [1, 0.01, 0], [0, 1, 0], [0.05, 1, 0])
REL = np.array([0.9, 0.89, 0.8, 0.7])


@pytest.mark.parametrize("method", SELECTORS)
def test_lambda_one_is_plain_knn(method: str) -> None:
    assert select(method, V, REL, 3, 1.0).tolist() == [0, 1, 2]


@pytest.mark.parametrize("method", ["mmr", "kcenter", "dpp"])
def test_diverse_selectors_skip_the_near_duplicate(method: str) -> None:
    pick = select(method, V, REL, 2, 0.5)
    assert 0 in pick or 1 in pick
    assert not {0, 1} <= set(pick.tolist())
    assert set(pick.tolist()) & {2, 3}


def test_mmr_known_answer() -> None:
    # step 1: max 0.5*rel -> 0; step 2: 0.5*rel - 0.5*maxsim: item 1 ~ 0.445-0.49999 < 0,
    # item 2: 0.4 - 0 = 0.4, item 3: 0.35 - 0.5*0.05/|.| ~ 0.325 -> 2
    assert select("mmr", V, REL, 2, 0.5).tolist() == [0, 2]


@pytest.mark.parametrize("method", ["mmr", "kcenter", "dpp"])
def test_seen_items_push_away(method: str) -> None:
    seen = _unit([1, 0.005, 0])  # the user already saw a copy of items 0 and 1
    pick = select(method, V, REL, 1, 0.3, seen)
    assert pick.tolist()[0] in (2, 3)


def test_returns_k_distinct_items() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(50, 8))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    rel = rng.random(50)
    for method in SELECTORS:
        for lam in (0.0, 0.5, 0.9):
            pick = select(method, v, rel, 10, lam)
            assert len(set(pick.tolist())) == 10, (method, lam)


def test_bad_lambda() -> None:
    with pytest.raises(ValueError, match="lambda_"):
        select("mmr", V, REL, 2, 1.5)
    with pytest.raises(ValueError, match="unknown selector"):
        select("nope", V, REL, 2, 0.5)
