"""FAISS indexes (HNSW, and inverted files built from rows that need not fit in memory).

:func:`build_ivf` reads its rows in chunks from any array-like with ``shape`` and slicing
(a numpy array, ``np.load(path, mmap_mode="r")``, a store's memory-mapped shard), so the
rows are never all in memory at once: the coarse quantizer and the codec are trained on an
evenly spread sample, then the rows are augmented (:func:`pictext.rank.ann.augment_rows`)
and added chunk by chunk. While they are added each cell's statistics are measured for the
branch-and-bound divergent search (:class:`pictext.rank.bound.CellBounds`).

Encodings (``AnnParams.encoding``): ``flat`` keeps the rows as they are (exact scores: the
branch and bound is exact), ``sq8`` / ``sq4`` keep 8 or 4 bits per dimension, ``pq<M>``
(``pq32``, say) a product quantizer of ``M`` 8-bit codes per row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.rank.ann import _faiss, augment_rows, check_encoding, set_search_params
from pictext.rank.bound import CellBounds

if TYPE_CHECKING:
    from pictext.rank.ann import AnnParams

CHUNK_ROWS = 65_536  # rows augmented and added per step (64k x 256 float32 = 64 MiB)
TRAIN_PER_CELL = 40  # k-means sample per cell (FAISS asks for at least 39)...
TRAIN_MAX = 131_072  # ... and at most this many rows
KMEANS_ITERATIONS = 10  # FAISS's default is 25; 10 costs 2.5x less at 1M (bench/scale_index.py)


def build_ann(rows: np.ndarray, backend: str, params: AnnParams, seed: int = 0) -> Any:
    """A FAISS inner-product index over augmented ``rows``: ``hnsw``, or ``ivf`` by
    :func:`build_ivf` (which reads ``rows`` in chunks)."""
    if backend == "ivf":
        return build_ivf(rows, None, params, seed)[0]
    if backend != "hnsw":
        raise ValueError(f"unknown approximate backend {backend!r}; use 'hnsw' or 'ivf'")
    faiss = _faiss()
    faiss.omp_set_num_threads(params.threads)
    rows = np.ascontiguousarray(rows, np.float32)
    index = faiss.IndexHNSWFlat(rows.shape[1], params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = params.ef_construction
    index.add(rows)
    set_search_params(index, params)
    return index


def default_nlist(n: int) -> int:
    """Cells of an IVF index over ``n`` rows: ``4 sqrt(n)``, at least 39 rows per cell."""
    return max(1, min(int(4 * np.sqrt(n)), n // 39))


def sample_rows(vectors: Any, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``min(size, N)`` distinct rows, drawn at random (read in order, a
    memory-mapped file is read once front to back)."""
    n = int(vectors.shape[0])
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


def build_ivf(
    vectors: Any, metric: str | None, params: AnnParams, seed: int = 0
) -> tuple[Any, CellBounds]:
    """An IVF index over ``vectors`` (un-augmented ``[N, D]`` array-like) and its cell bounds.

    Args:
        vectors: the collection's rows; read in chunks of :data:`CHUNK_ROWS`.
        metric: ``cosine`` or ``l2`` (how rows are augmented, as in :mod:`pictext.rank.ann`);
            None: the rows are already in the inner-product space.
        params: ``nlist`` (0: :func:`default_nlist`), ``encoding``, ``train_rows`` (0:
            :data:`TRAIN_PER_CELL` per cell, at most :data:`TRAIN_MAX`), ``nprobe``, ``threads``.
        seed: seed of the training sample and of k-means.
    """
    faiss = _faiss()
    faiss.omp_set_num_threads(params.threads)
    n = int(vectors.shape[0])
    if n == 0:
        raise ValueError("no rows to index")
    nlist = params.nlist or default_nlist(n)
    train = _augment(vectors[sample_rows(vectors, _train_size(params, nlist), seed)], metric)
    d = train.shape[1]
    index = _empty_ivf(faiss, d, nlist, check_encoding(params.encoding))
    index.cp.seed = seed
    index.cp.niter = KMEANS_ITERATIONS
    index.train(train)
    bounds = CellBounds.empty(index.quantizer.reconstruct_n(0, nlist))
    for start in range(0, n, CHUNK_ROWS):
        rows = _augment(vectors[start : start + CHUNK_ROWS], metric)
        _, cells = index.quantizer.search(rows, 1)
        index.add_core(len(rows), faiss.swig_ptr(rows), None, faiss.swig_ptr(cells))
        bounds.update(rows, cells[:, 0])
    index.nprobe = min(params.nprobe, nlist)
    return index, bounds


def _augment(rows: Any, metric: str | None) -> np.ndarray:
    rows = np.asarray(rows, np.float32)
    return np.ascontiguousarray(rows if metric is None else augment_rows(rows, metric))


def _train_size(params: AnnParams, nlist: int) -> int:
    return params.train_rows or min(TRAIN_PER_CELL * nlist, TRAIN_MAX)


def _empty_ivf(faiss: Any, d: int, nlist: int, encoding: str) -> Any:
    quantizer = faiss.IndexFlatIP(d)
    ip = faiss.METRIC_INNER_PRODUCT
    if encoding == "flat":
        index = faiss.IndexIVFFlat(quantizer, d, nlist, ip)
    elif encoding in ("sq8", "sq4"):
        sq = faiss.ScalarQuantizer
        qtype = sq.QT_8bit if encoding == "sq8" else sq.QT_4bit
        index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, qtype, ip)
    else:
        m = int(encoding[2:])
        if d % m:
            raise ValueError(f"encoding {encoding!r}: {m} sub-quantizers do not divide width {d}")
        index = faiss.IndexIVFPQ(quantizer, d, nlist, m, 8, ip)
    return index
