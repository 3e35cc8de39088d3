"""The audit's k-NN graph: exact against all pairs, FAISS against exact, and the three checks
read from it (duplicates, uniqueness, label votes) against the all-pairs functions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from pictext.audit import duplicates as dup
from pictext.audit.knn import KnnGraph, knn_graph
from pictext.audit.labels import find_label_issues
from pictext.audit.outliers import uniqueness
from pictext.audit.run import AuditConfig, label_method


def _clustered(n: int = 3000, d: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 6, n)
    centres = rng.normal(size=(6, d)) * 3
    x = (centres[y] + rng.normal(size=(n, d))).astype(np.float32)
    x[100:110] = x[50]  # a group of 11 exact copies (more than k)
    x[200] = x[201] + 1e-4  # a near copy
    return x, y


def _brute(x: np.ndarray, ok: np.ndarray, k: int) -> np.ndarray:
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    d = 1 - u @ u.T
    d[~ok] = np.inf
    d[:, ~ok] = np.inf
    np.fill_diagonal(d, np.inf)
    return np.sort(d, axis=1)[:, :k]


def test_exact_graph_matches_all_pairs_and_skips_rows_without_vectors() -> None:
    x, _ = _clustered(400)
    ok = np.ones(len(x), bool)
    ok[7] = False
    g = knn_graph(x, ok, k=5, method="exact")
    assert g.method == "exact"
    assert g.k == 5
    want = _brute(x, ok, 5)
    np.testing.assert_allclose(g.distances[ok], want[ok], atol=1e-5)
    assert (g.neighbors[7] == -1).all()
    assert not (g.neighbors[ok] == 7).any()
    rows = np.arange(len(x))[:, None]
    assert not (g.neighbors == rows).any()  # never its own neighbour, copies included


def test_auto_switches_to_faiss_above_the_size_and_agrees_with_exact() -> None:
    pytest.importorskip("faiss")
    x, _ = _clustered(3000)
    assert knn_graph(x, k=3, exact_max=5000).method == "exact"
    approx = knn_graph(x, k=10, exact_max=1000, nprobe=8)
    exact = knn_graph(x, k=10, method="exact")
    assert approx.method == "ivf"
    assert approx.recall(exact) > 0.9
    assert exact.recall(exact) == 1.0
    rho = spearmanr(approx.mean_distance(5), exact.mean_distance(5)).statistic
    assert rho > 0.95


def test_duplicates_and_uniqueness_from_the_graph_match_all_pairs() -> None:
    x, _ = _clustered(600)
    ok = np.ones(len(x), bool)
    g = knn_graph(x, ok, k=5, method="exact")
    labels = ["a"] * len(x)
    want = dup.groups_from_pairs("e", len(x), *dup.embedding_pairs(x, ok, 1e-3), labels)
    got = dup.groups_from_pairs("e", len(x), *g.pairs_within(1e-3), labels)
    np.testing.assert_array_equal(got.group, want.group)  # the 11 copies in one group
    assert got.n_groups == 2
    np.testing.assert_allclose(g.mean_distance(5), uniqueness(x, ok, k=5), atol=1e-5)


def test_neighbour_votes_find_flipped_labels() -> None:
    pytest.importorskip("cleanlab")
    x, y = _clustered(1200)
    noisy = y.copy()
    flipped = np.arange(300, 1200, 60)
    noisy[flipped] = (y[flipped] + 1) % 6
    g = knn_graph(x, k=10, method="exact")
    p = g.vote_probs(noisy, 6)
    assert np.allclose(p.sum(1), 1)
    assert (p > 0).all()
    found = find_label_issues(noisy, p)
    hits = set(found.ranked.tolist()) & set(flipped.tolist())
    assert len(hits) >= 0.8 * len(flipped)
    assert len(found.ranked) <= 2 * len(flipped)


def test_votes_ignore_unlabelled_neighbours() -> None:
    g = KnnGraph(np.array([[1, 2], [0, 2], [0, 1]]), np.zeros((3, 2), np.float32), "exact", 0)
    p = g.vote_probs(np.array([0, -1, 1]), 2, rows=np.array([1]))
    np.testing.assert_allclose(p, [[0.5, 0.5]])
    p = g.vote_probs(np.array([0, -1, 1]), 2, rows=np.array([2]))
    assert p[0, 0] > p[0, 1]


def test_label_method_follows_size_unless_chosen() -> None:
    assert label_method(AuditConfig(), 500) == "heads"
    assert label_method(AuditConfig(), 70_000) == "knn"
    assert label_method(AuditConfig(label_method="heads"), 70_000) == "heads"
    with pytest.raises(ValueError, match="unknown label method"):
        label_method(AuditConfig(label_method="x"), 5)


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown k-NN method"):
        knn_graph(np.eye(3, dtype=np.float32), method="hnsw2")
