"""Nearest and farthest neighbours: exact (numpy) and approximate (FAISS HNSW / IVF).

Both directions are one maximum-inner-product search over *augmented* vectors, so one FAISS
index serves similar and divergent queries alike:

* ``cosine`` (rows L2-normalised): nearest = max ``q . x``; farthest = max ``(-q) . x``
  (the farthest by cosine is the nearest to ``-q``).
* ``l2`` (raw Euclidean): ``|x - q|^2 = |x|^2 - 2 q . x + |q|^2``, so with
  ``x' = [x, |x|^2]``, nearest = max ``[2q, -1] . x'`` and farthest = max ``[-2q, 1] . x'``.
  This is exact for the exact backend; for FAISS it is a MIPS problem whose recall
  ``bench/search.py`` measures.

Graph and inverted-file indexes are built for dense neighbourhoods; the nearest neighbours
of ``-q`` lie at the rim of the data, which they reach badly (HNSW and IVF recall@10 for
divergent queries is far below that of similar queries). For divergent queries at scale the
index therefore keeps a *rim pool*: the union of the exact farthest ``m`` rows of ``n_dirs``
sampled rows (the query distribution). Only rows that are extreme in some direction can be
anyone's farthest neighbour (they are vertices of the convex hull of the rows), and the pool
collects those that typical queries reach; a divergent query is then an exact scan of the
pool. Its recall is measured, not assumed (``bench/search.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pictext.core import defaults
from pictext.core.atomic import atomic_write
from pictext.core.vectors import unit_rows

METRICS: tuple[str, ...] = ("cosine", "l2")
BACKENDS: tuple[str, ...] = ("exact", "hnsw", "ivf")
ENCODINGS: tuple[str, ...] = ("flat", "sq8", "sq4", "pq<M>")  # IVF codes (rank/build.py)
DIVERGENT_ROUTES: tuple[str, ...] = ("rim", "bound")  # how an IVF index answers farthest
_BLOCK = 1 << 25  # floats per score block (128 MiB)


def augment_rows(x: np.ndarray, metric: str) -> np.ndarray:
    """Collection rows as stored for inner-product search (see the module docstring)."""
    if metric == "cosine":
        return unit_rows(x)
    if metric == "l2":
        x = np.asarray(x, np.float32)
        return np.concatenate([x, np.einsum("ij,ij->i", x, x)[:, None]], axis=1)
    raise ValueError(f"unknown metric {metric!r}; use one of {METRICS}")


def augment_queries(q: np.ndarray, metric: str, farthest: bool) -> np.ndarray:
    """Query rows whose largest inner products with the augmented rows are the answers."""
    q = np.atleast_2d(np.asarray(q, np.float32))
    sign = -1.0 if farthest else 1.0
    if metric == "cosine":
        return sign * unit_rows(q)
    ones = np.ones((len(q), 1), np.float32)
    return sign * np.concatenate([2.0 * q, -ones], axis=1)


def top_k_inner(rows: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` largest inner products per query: ``(indices, scores)``, best first."""
    n = len(rows)
    k = min(k, n)
    step = max(1, _BLOCK // max(n, 1))
    idx = np.empty((len(queries), k), np.int64)
    val = np.empty((len(queries), k), np.float32)
    for s in range(0, len(queries), step):
        sc = queries[s : s + step] @ rows.T
        part = (
            np.argpartition(-sc, k - 1, axis=1)[:, :k]
            if k < n
            else np.tile(np.arange(n), (len(sc), 1))
        )
        top = np.take_along_axis(sc, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        idx[s : s + step] = np.take_along_axis(part, order, axis=1)
        val[s : s + step] = np.take_along_axis(top, order, axis=1)
    return idx, val


def rim_candidates(
    vectors: np.ndarray, metric: str, n_dirs: int = 1024, m: int = 100, seed: int = 0
) -> np.ndarray:
    """``[n_dirs, m]`` rows: the exact farthest ``m`` of each of ``n_dirs`` sampled rows."""
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(len(vectors), size=min(n_dirs, len(vectors)), replace=False)]
    rows = augment_rows(vectors, metric)
    return top_k_inner(rows, augment_queries(sample, metric, farthest=True), m)[0]


def rim_pool(
    vectors: np.ndarray, metric: str, n_dirs: int = 1024, m: int = 100, seed: int = 0
) -> np.ndarray:
    """Sorted row indices of the rim pool (see the module docstring).

    Args:
        vectors: the collection, un-augmented.
        metric: ``cosine`` or ``l2``.
        n_dirs: sampled rows whose farthest neighbours are collected.
        m: farthest neighbours kept per sampled row.
        seed: sampling seed.
    """
    return np.unique(rim_candidates(vectors, metric, n_dirs, m, seed))


@dataclass
class AnnParams:
    """Settings of the approximate backends."""

    hnsw_m: int = 32  # HNSW graph degree
    ef_construction: int = 200  # HNSW build-time beam
    ef_search: int = 128  # HNSW query-time beam
    nlist: int = 0  # IVF lists; 0 = 4 * sqrt(N)
    nprobe: int = 16  # IVF lists visited per query
    threads: int = 1  # FAISS OpenMP threads (keep it small on shared machines)
    rim_dirs: int = 1024  # rim pool for divergent queries: sampled rows ...
    rim_m: int = 100  # ... and farthest neighbours kept per sampled row
    encoding: str = "flat"  # IVF codes: flat (exact scores), sq8, sq4 or pq<M> (rank/build.py)
    train_rows: int = 0  # IVF rows sampled to train cells and codes; 0 = 40 per cell, <= 131072
    bnb_first: int = 8  # IVF divergent queries: cells scanned before the rest are pruned
    divergent_cells: int = 0  # IVF divergent queries: most cells scanned; 0 = exact (rank/bound.py)
    divergent: str = defaults.IVF_DIVERGENT  # IVF farthest queries: "rim" pool or "bound"

    def __post_init__(self) -> None:
        check_encoding(self.encoding)
        if self.divergent not in DIVERGENT_ROUTES:
            raise ValueError(
                f"unknown divergent route {self.divergent!r}; use one of {DIVERGENT_ROUTES}"
            )


def check_encoding(encoding: str) -> str:
    """``encoding`` when it is one of :data:`ENCODINGS`, else a ``ValueError`` naming it."""
    if encoding in ("flat", "sq8", "sq4") or re.fullmatch(r"pq[1-9][0-9]*", encoding):
        return encoding
    raise ValueError(f"unknown IVF encoding {encoding!r}; use one of {ENCODINGS}")


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as err:
        raise ImportError(
            "approximate search needs FAISS: pip install 'pictext[index]' (faiss-cpu)"
        ) from err
    return faiss


def set_search_params(index: Any, params: AnnParams) -> None:
    """Apply the query-time knobs (efSearch / nprobe) to a FAISS index."""
    faiss = _faiss()
    faiss.omp_set_num_threads(params.threads)
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = params.ef_search
    if hasattr(index, "nprobe"):
        index.nprobe = params.nprobe


def search_ann(index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, scores)`` from a FAISS index; missing hits are ``-1``."""
    scores, idx = index.search(np.ascontiguousarray(queries, np.float32), k)
    return idx.astype(np.int64), scores


def write_ann(index: Any, path: Path) -> None:
    """Save a FAISS index atomically (its own file format: no pickles)."""
    faiss = _faiss()
    atomic_write(path, lambda tmp: faiss.write_index(index, tmp))


def read_ann(path: Path, params: AnnParams) -> Any:
    """Read a FAISS index written by :func:`write_ann` and apply the query-time knobs."""
    index = _faiss().read_index(str(path))
    set_search_params(index, params)
    return index
