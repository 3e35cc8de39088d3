from __future__ import annotations

import numpy as np
import pytest

from pictext.rank.ann import (
    AnnParams,
    augment_queries,
    augment_rows,
    search_ann,
    top_k_inner,
)
from pictext.rank.build import build_ann


def _brute(x: np.ndarray, q: np.ndarray, k: int, metric: str, farthest: bool) -> np.ndarray:
    if metric == "cosine":
        xn = x / np.linalg.norm(x, axis=1, keepdims=True)
        d = -(xn @ (q / np.linalg.norm(q, axis=1, keepdims=True)).T).T
    else:
        d = np.linalg.norm(x[None] - q[:, None], axis=2)
    d = -d if farthest else d
    return np.argsort(d, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("metric", ["cosine", "l2"])
@pytest.mark.parametrize("farthest", [False, True])
def test_exact_matches_brute_force(metric: str, farthest: bool) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 16)).astype(np.float32) + 0.5
    q = rng.normal(size=(7, 16)).astype(np.float32)
    idx, _ = top_k_inner(augment_rows(x, metric), augment_queries(q, metric, farthest), 10)
    np.testing.assert_array_equal(idx, _brute(x, q, 10, metric, farthest))


def test_exact_handles_k_beyond_n() -> None:
    x = np.eye(3, dtype=np.float32)
    idx, val = top_k_inner(x, x[:1], 10)
    assert idx.shape == (1, 3)
    assert idx[0, 0] == 0
    assert val[0, 0] == 1.0


@pytest.mark.parametrize("backend", ["hnsw", "ivf"])
@pytest.mark.parametrize("farthest", [False, True])
def test_faiss_recall_on_small_data(backend: str, farthest: bool) -> None:
    pytest.importorskip("faiss")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 24)).astype(np.float32)
    q = rng.normal(size=(50, 24)).astype(np.float32)
    rows = augment_rows(x, "cosine")
    aq = augment_queries(q, "cosine", farthest)
    exact, _ = top_k_inner(rows, aq, 10)
    index = build_ann(rows, backend, AnnParams(nprobe=32, ef_search=128))
    approx, _ = search_ann(index, aq, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)])
    assert recall > 0.9
