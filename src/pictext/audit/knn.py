"""The audit's one k-nearest-neighbour graph: duplicates, uniqueness and label votes from it.

Comparing every item with every other is quadratic (7 min 46 s for 70k fashion-mnist images
with sklearn's brute-force radius and k-NN searches). The audit instead builds one cosine
k-NN graph over the image embeddings and reads all three checks from it:

- **exact**, blockwise (:func:`pictext.rank.ann.top_k_inner` over blocks of queries, so the
  score matrix never exceeds one block) while the collection has at most ``exact_max`` rows;
- **ivf** above that: FAISS's inverted file over the unit rows (:func:`pictext.rank.build.
  build_ivf`, rows added in chunks), every row then searched in blocks of queries with
  ``nprobe`` cells visited. Its agreement with the exact graph is measured by
  ``bench/scale_workflows.py`` (recall of duplicate pairs, rank correlation of uniqueness).

From the graph:

- embedding duplicates are the graph's edges shorter than the threshold (groups are their
  connected components, so a group larger than ``k`` is still found through chains);
- uniqueness is the mean distance to the first ``uniqueness_k`` neighbours;
- label-error probabilities are the neighbours' label votes, which leave the item itself
  out by construction (cleanlab's ``Datalab`` label check does the same from features with
  a brute-force k-NN classifier; here the graph is reused). cleanlab's confident learning
  then reads them as any out-of-sample probabilities.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pictext.core.vectors import unit_rows

METHODS = ("auto", "exact", "ivf")
# rows up to which the exact blockwise graph is built: one thread, fashion-mnist 1280-d,
# exact / ivf took 4.1 / 2.5 s at 10k, 12.4 / 7.1 s at 20k, 48.1 / 20.8 s at 40k
# (bench/scale_workflows.py --only audit); below 10k exact costs seconds and is exact
EXACT_MAX = 10_000
HEADS_MAX = 10_000  # labelled items up to which ``label_method="auto"`` trains fold heads
QUERY_BLOCK = 4096  # rows searched per step (bounds the score block and FAISS's buffers)


@dataclass(frozen=True)
class KnnGraph:
    """Each row's ``k`` nearest other rows by cosine distance, nearest first."""

    neighbors: np.ndarray  # [N, k] int64 row of each neighbour; -1: none (or not ``ok``)
    distances: np.ndarray  # [N, k] float32 cosine distance (1 - cos); inf where -1
    method: str  # "exact" or "ivf"
    seconds: float  # time to build

    @property
    def k(self) -> int:
        """Neighbours per row."""
        return int(self.neighbors.shape[1])

    def recall(self, truth: KnnGraph) -> float:
        """Share of ``truth``'s edges this graph holds (recall@k of the neighbour lists)."""
        hit = [
            len(set(a[a >= 0]) & set(b[b >= 0]))
            for a, b in zip(self.neighbors, truth.neighbors, strict=True)
        ]
        return float(np.sum(hit) / max(1, int((truth.neighbors >= 0).sum())))

    def pairs_within(self, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
        """Distinct pairs ``i < j`` joined by an edge no longer than ``max_distance``."""
        i, c = np.nonzero((self.neighbors >= 0) & (self.distances <= max_distance))
        j = self.neighbors[i, c]
        a, b = np.minimum(i, j), np.maximum(i, j)
        if len(a) == 0:
            return a.astype(np.int64), b.astype(np.int64)
        pairs = np.unique(np.stack([a, b], axis=1), axis=0)
        return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)

    def mean_distance(self, k: int) -> np.ndarray:
        """Mean distance to the first ``k`` neighbours (NaN for rows without any)."""
        d = self.distances[:, : max(1, min(k, self.k))].astype(np.float64)
        d[~np.isfinite(d)] = np.nan
        out = np.full(len(d), np.nan)
        has = ~np.isnan(d).all(axis=1)
        out[has] = np.nanmean(d[has], axis=1)
        return out

    def vote_probs(
        self, y: np.ndarray, n_classes: int, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """Out-of-sample class probabilities: the neighbours' labels, one vote each.

        Args:
            y: ``[N]`` class index per row, -1 where unlabelled (such neighbours do not vote).
            n_classes: C.
            rows: the rows to score (default all).

        Returns:
            ``[len(rows), C]`` probabilities; a row whose neighbours carry no label gets the
            uniform distribution. A small prior (one vote spread over the classes) keeps every
            probability positive.
        """
        rows = np.arange(len(self.neighbors)) if rows is None else np.asarray(rows)
        nb = self.neighbors[rows]
        lab = np.where(nb >= 0, y[np.maximum(nb, 0)], -1)
        counts = np.zeros((len(rows), n_classes))
        r, c = np.nonzero(lab >= 0)
        np.add.at(counts, (r, lab[r, c]), 1.0)
        counts += 1.0 / n_classes
        return counts / counts.sum(axis=1, keepdims=True)


def knn_graph(
    vectors: np.ndarray,
    ok: np.ndarray | None = None,
    k: int = 10,
    *,
    method: str = "auto",
    exact_max: int = EXACT_MAX,
    nprobe: int = 16,
    threads: int = 1,
    seed: int = 0,
) -> KnnGraph:
    """The cosine k-NN graph of the rows ``ok`` of ``vectors`` (other rows get no edges).

    Args:
        vectors: ``[N, D]`` embeddings (an array or a memory map; normalised here).
        ok: ``[N]`` rows that have an embedding (default all).
        k: neighbours kept per row (fewer when the collection is smaller).
        method: ``exact``, ``ivf`` or ``auto`` (exact up to ``exact_max`` rows, else ivf).
        exact_max: the size at which ``auto`` switches to FAISS.
        nprobe: IVF cells visited per query.
        threads: FAISS threads.
        seed: seed of the IVF training sample.

    Raises:
        ValueError: an unknown method or ``k < 1``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown k-NN method {method!r}; use one of {', '.join(METHODS)}")
    if k < 1:
        raise ValueError("k must be >= 1")
    t0 = time.perf_counter()
    n = len(vectors)
    ok = np.ones(n, bool) if ok is None else np.asarray(ok, bool)
    rows = np.flatnonzero(ok)
    kk = min(k, max(len(rows) - 1, 0))
    nbr = np.full((n, max(kk, 1)), -1, np.int64)
    dist = np.full((n, max(kk, 1)), np.inf, np.float32)
    if method == "auto":
        method = "exact" if len(rows) <= exact_max else "ivf"
    if kk < 1:
        return KnnGraph(nbr[:, :kk], dist[:, :kk], method, time.perf_counter() - t0)
    x = unit_rows(np.asarray(vectors[rows], np.float32))
    search = _exact_search(x) if method == "exact" else _ivf_search(x, nprobe, threads, seed)
    for start in range(0, len(rows), QUERY_BLOCK):
        q = x[start : start + QUERY_BLOCK]
        idx, sim = search(q, kk + 1)
        local = np.arange(start, start + len(q))[:, None]
        idx, sim = _drop_self(idx, sim, local, kk)
        nbr[rows[start : start + len(q)]] = np.where(idx >= 0, rows[np.maximum(idx, 0)], -1)
        dist[rows[start : start + len(q)]] = np.where(idx >= 0, 1.0 - sim, np.inf)
    np.maximum(dist, 0.0, out=dist)  # rounding can give -1e-7 for identical rows
    return KnnGraph(nbr, dist, method, time.perf_counter() - t0)


def _exact_search(x: np.ndarray) -> Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]:
    from pictext.rank.ann import top_k_inner

    return lambda q, k: top_k_inner(x, q, k)


def _ivf_search(
    x: np.ndarray, nprobe: int, threads: int, seed: int
) -> Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]:
    from pictext.rank.ann import AnnParams
    from pictext.rank.build import build_ivf

    index, _ = build_ivf(x, None, AnnParams(nprobe=nprobe, threads=threads), seed)

    def search(q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        sim, idx = index.search(np.ascontiguousarray(q), k)
        return idx.astype(np.int64), sim

    return search


def _drop_self(
    idx: np.ndarray, sim: np.ndarray, own: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k`` hits of each row other than the row itself (ties may put it second)."""
    keep = idx != own
    # rows that did not find themselves drop their last hit instead
    missing = keep.all(axis=1)
    keep[missing, -1] = False
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(sim, order, axis=1)
