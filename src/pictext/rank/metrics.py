"""Ranking metrics over an embedding: triplet accuracy, score-at-top-K, precision@k, mAP,
and the diversity measures of recommendation lists.

All distances are Euclidean on the rows given (on L2-normalised rows this ranks exactly as
cosine similarity). A query is never its own neighbour.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np


def _dist(z: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(z[a] - z[b], axis=1)


def triplet_accuracy(z: np.ndarray, triplets: np.ndarray) -> float:
    """Share of triplets ``(q, p, n)`` ranked correctly, ``D(q, p) < D(q, n)`` (ties are wrong).

    Args:
        z: ``[N, D]`` embeddings.
        triplets: int ``[T, 3]`` row indices (query, positive, negative).
    """
    t = np.asarray(triplets)
    if len(t) == 0:
        raise ValueError("triplet accuracy of zero triplets is undefined")
    return float(np.mean(_dist(z, t[:, 0], t[:, 1]) < _dist(z, t[:, 0], t[:, 2])))


def _sq_dists(z: np.ndarray, rows: np.ndarray, sq: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances from ``z[rows]`` to every row; a row to itself is +inf."""
    d = sq[rows, None] - 2.0 * (z[rows] @ z.T) + sq[None, :]
    d[np.arange(len(rows)), rows] = np.inf
    return d


def _query_batches(n: int, batch: int) -> Iterator[np.ndarray]:
    for s in range(0, n, batch):
        yield np.arange(s, min(n, s + batch))


@dataclass
class ScoreAtTop:
    """Score-at-top-K of Wang et al. (2014)."""

    score: int  # correctly minus incorrectly ranked triplets in the subset
    correct: int  # triplets of the subset with D(q, p) < D(q, n)
    incorrect: int  # the others of the subset
    considered: int  # subset size: triplets whose p or n is among the query's K nearest
    total: int  # all triplets given

    @property
    def normalized(self) -> float:
        """``score / considered`` in ``[-1, 1]`` (NaN on an empty subset)."""
        return self.score / self.considered if self.considered else float("nan")


def score_at_top_k(
    z: np.ndarray, triplets: np.ndarray, k: int = 30, batch: int = 1024
) -> ScoreAtTop:
    """Wang et al.'s score-at-top-K over the collection ``z``.

    "The number of correctly ranked triplets minus the number of incorrectly ranked ones on
    a subset of triplets whose ranks are higher than K": a triplet is in the subset when its
    positive or its negative is among the K nearest neighbours of its query in ``z`` (the
    query itself excluded). Wang et al. ranked 1000 images retrieved for the same text query;
    here the collection is every row of ``z``.

    Args:
        z: ``[N, D]`` embeddings of the whole collection.
        triplets: int ``[T, 3]`` row indices (query, positive, negative).
        k: K, the depth of the top (30 in the paper).
        batch: queries per distance block.
    """
    t = np.asarray(triplets)
    z = np.asarray(z, np.float32)
    sq = np.einsum("ij,ij->i", z, z)
    queries = np.unique(t[:, 0])
    top = np.zeros((len(queries), min(k, len(z) - 1)), np.int64)
    for rows in _query_batches(len(queries), batch):
        d = _sq_dists(z, queries[rows], sq)
        top[rows] = np.argpartition(d, top.shape[1] - 1, axis=1)[:, : top.shape[1]]
    slot = np.searchsorted(queries, t[:, 0])
    in_top = (top[slot] == t[:, 1:2]).any(axis=1) | (top[slot] == t[:, 2:3]).any(axis=1)
    ok = _dist(z, t[:, 0], t[:, 1]) < _dist(z, t[:, 0], t[:, 2])
    correct = int(np.sum(ok & in_top))
    incorrect = int(np.sum(~ok & in_top))
    return ScoreAtTop(correct - incorrect, correct, incorrect, int(in_top.sum()), len(t))


@dataclass
class RetrievalScores:
    """Class-level retrieval quality of an embedding (every row queries all the others)."""

    map: float  # mean average precision over queries, relevant = same class
    map_by_class: dict[int, float]  # mean AP of the queries of each class
    precision_at: dict[int, float]  # k -> mean share of same-class items among the k nearest


def retrieval_scores(
    z: np.ndarray,
    labels: np.ndarray,
    ks: Sequence[int] = (1, 5, 10, 30),
    batch: int = 512,
    *,
    max_queries: int | None = None,
    seed: int = 0,
) -> RetrievalScores:
    """mAP and precision@k with same-class items as the relevant ones.

    Rows with label ``-1`` are neither queries nor candidates. Ties in distance are broken
    by row order. With ``max_queries``, a seeded random sample of that many rows are the
    queries (every row stays a candidate): the cost is ``queries x rows``, not ``rows^2``.
    """
    labels = np.asarray(labels)
    keep = np.flatnonzero(labels >= 0)
    z = np.asarray(z, np.float32)[keep]
    y = labels[keep]
    sq = np.einsum("ij,ij->i", z, z)
    ap = np.full(len(z), np.nan)
    hits = {k: np.full(len(z), np.nan) for k in ks}
    queries = np.arange(len(z))
    if max_queries is not None and len(z) > max_queries:
        queries = np.sort(np.random.default_rng(seed).choice(len(z), max_queries, replace=False))
    for start in range(0, len(queries), batch):
        rows = queries[start : start + batch]
        order = np.argsort(_sq_dists(z, rows, sq), axis=1, kind="stable")[:, :-1]
        rel = y[order] == y[rows, None]
        ranks = np.arange(1, rel.shape[1] + 1)
        n_rel = rel.sum(axis=1)
        prec = np.cumsum(rel, axis=1) / ranks
        ap[rows] = np.where(n_rel > 0, (prec * rel).sum(axis=1) / np.maximum(n_rel, 1), 0.0)
        for k in ks:
            hits[k][rows] = rel[:, :k].mean(axis=1)
    asked = ~np.isnan(ap)
    ap, y, hits = ap[asked], y[asked], {k: v[asked] for k, v in hits.items()}
    by_class = {int(c): float(ap[y == c].mean()) for c in np.unique(y)}
    return RetrievalScores(
        map=float(ap.mean()),
        map_by_class=by_class,
        precision_at={k: float(v.mean()) for k, v in hits.items()},
    )


def intra_list_diversity(z: np.ndarray, items: Sequence[int]) -> float:
    """Mean pairwise Euclidean distance among the listed rows (0 for fewer than two)."""
    idx = np.asarray(items, np.int64)
    if len(idx) < 2:
        return 0.0
    v = z[idx]
    d = np.linalg.norm(v[:, None, :] - v[None, :, :], axis=2)
    return float(d[np.triu_indices(len(idx), 1)].mean())


def class_coverage(labels: np.ndarray, items: Sequence[int]) -> int:
    """Number of distinct classes among the listed rows."""
    return len(np.unique(np.asarray(labels)[np.asarray(items, np.int64)]))
