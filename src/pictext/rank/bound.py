"""Exact farthest-neighbour search on an IVF index: branch and bound over its cells.

A divergent query is a maximum-inner-product search for ``p = -q`` (see
:mod:`pictext.rank.ann`). Graph and inverted-file searches start where the data is dense and
reach the rim, where those answers lie, badly. But every cell of an inverted file is a
bounded set, so an upper bound on ``max_{x in cell} x . p`` is cheap to compute for every
cell at once, and the search can be exact:

1. bound every cell (:meth:`CellBounds.upper`);
2. scan the ``first`` cells of highest bound (FAISS ``search_preassigned``), which gives a
   ``k``-th best score ``s``;
3. scan every other cell whose bound exceeds ``s`` in one more call. No unscanned cell can
   hold a row scoring above ``s``, so the ``k`` best of both scans are the exact answer.

Each cell keeps four numbers, measured on its rows when they are added (centroid ``c``,
unit direction ``u = c / |c|``): the radius ``r = max |x - c|``, the range
``[a_min, a_max]`` of ``x . u`` and the largest part across ``u``, ``t = max |x - (x.u) u|``.
Two bounds hold for every row of the cell and the smaller is used::

    ball:      x . p <= c . p + r |p|
    cylinder:  x . p <= max(a_min s, a_max s) + t sqrt(|p|^2 - s^2),   s = u . p

The answer is exact when the index stores rows as they are (``IndexIVFFlat``); with SQ or
PQ codes the scan scores are the codes' and recall is what ``bench/scale_index.py`` measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

_NEG = np.float32(-3.0e38)  # score of a slot FAISS left empty


@dataclass
class CellBounds:
    """Per-cell statistics of an IVF index (see the module docstring)."""

    centroids: np.ndarray  # float32 [C, D] the coarse quantizer's centroids
    radius: np.ndarray  # float32 [C] max |x - c| over the cell's rows
    along_min: np.ndarray  # float32 [C] min x . u
    along_max: np.ndarray  # float32 [C] max x . u
    across: np.ndarray  # float32 [C] max |x - (x . u) u|
    size: np.ndarray  # int64 [C] rows in the cell

    @classmethod
    def empty(cls, centroids: np.ndarray) -> CellBounds:
        """Statistics of cells that hold no row yet."""
        c = np.ascontiguousarray(centroids, np.float32)
        n = len(c)
        return cls(
            c,
            np.zeros(n, np.float32),
            np.full(n, np.inf, np.float32),
            np.full(n, -np.inf, np.float32),
            np.zeros(n, np.float32),
            np.zeros(n, np.int64),
        )

    @property
    def directions(self) -> np.ndarray:
        """Unit centroid directions ``u`` (a zero centroid gives a zero row)."""
        norm = np.linalg.norm(self.centroids, axis=1, keepdims=True)
        return self.centroids / np.maximum(norm, 1e-12)

    def update(self, rows: np.ndarray, cells: np.ndarray) -> None:
        """Account for ``rows`` (float32 ``[B, D]``) added to ``cells`` (int ``[B]``)."""
        rows = np.asarray(rows, np.float32)
        cells = np.asarray(cells, np.int64).ravel()
        u = self.directions[cells]
        along = np.einsum("ij,ij->i", rows, u)
        sq = np.einsum("ij,ij->i", rows, rows)
        dist = np.sqrt(np.maximum(sq - 2 * np.einsum("ij,ij->i", rows, self.centroids[cells])
                                  + np.einsum("ij,ij->i", self.centroids[cells],
                                              self.centroids[cells]), 0.0))  # fmt: skip
        across = np.sqrt(np.maximum(sq - along * along, 0.0))
        order = np.argsort(cells, kind="stable")  # per-cell reductions on sorted runs
        cells = cells[order]
        starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
        at = cells[starts]
        for target, values, reduce in (
            (self.radius, dist, np.maximum),
            (self.along_min, along, np.minimum),
            (self.along_max, along, np.maximum),
            (self.across, across, np.maximum),
        ):
            part = reduce.reduceat(values[order].astype(np.float32), starts)
            target[at] = reduce(target[at], part)
        self.size[at] += np.diff(np.r_[starts, len(cells)])

    def upper(self, p: np.ndarray) -> np.ndarray:
        """``[B, C]`` upper bounds on ``max_{x in cell} x . p``; ``-inf`` for empty cells."""
        p = np.atleast_2d(np.asarray(p, np.float32))
        pn = np.linalg.norm(p, axis=1, keepdims=True)
        ball = p @ self.centroids.T + self.radius[None] * pn
        s = p @ self.directions.T
        perp = np.sqrt(np.maximum(pn * pn - s * s, 0.0))
        cyl = np.maximum(self.along_min * s, self.along_max * s) + self.across[None] * perp
        out = np.minimum(ball, cyl)
        out[:, self.size == 0] = -np.inf
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """The statistics by name (what an index folder saves)."""
        return {
            "cell_centroids": self.centroids,
            "cell_radius": self.radius,
            "cell_along_min": self.along_min,
            "cell_along_max": self.along_max,
            "cell_across": self.across,
            "cell_size": self.size,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> CellBounds | None:
        """Statistics saved by :meth:`arrays`; None when ``arrays`` holds none."""
        if "cell_centroids" not in arrays:
            return None
        return cls(*(np.asarray(arrays[f"cell_{n}"]) for n in _FIELDS))


_FIELDS = ("centroids", "radius", "along_min", "along_max", "across", "size")


def ivf_of(index: Any) -> Any | None:
    """The ``IndexIVF`` inside a FAISS index (itself, or under a pre-transform); else None."""
    import faiss

    try:
        return faiss.downcast_index(faiss.extract_index_ivf(index))
    except RuntimeError:  # not an IVF index (HNSW, flat)
        return None


def bounds_from_index(index: Any) -> CellBounds:
    """Cell statistics of an ``IndexIVFFlat`` read back from its inverted lists.

    For an index built elsewhere; :func:`pictext.rank.build.build_ivf` measures them while it
    adds rows, which works for SQ and PQ codes too.
    """
    import faiss

    ivf = ivf_of(index)
    if ivf is None or not isinstance(ivf, faiss.IndexIVFFlat):
        raise ValueError("cell bounds can be read back from an IndexIVFFlat only")
    cent = ivf.quantizer.reconstruct_n(0, ivf.nlist)
    bounds = CellBounds.empty(cent)
    lists = ivf.invlists
    for j in range(ivf.nlist):
        size = lists.list_size(j)
        if size:
            codes = faiss.rev_swig_ptr(lists.get_codes(j), size * ivf.code_size)
            rows = np.frombuffer(codes, np.float32).reshape(size, ivf.d)
            bounds.update(rows, np.full(size, j))
    return bounds


def bnb_search(
    index: Any,
    bounds: CellBounds,
    queries: np.ndarray,
    k: int,
    first: int = 8,
    max_cells: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest inner products with each query row over an IVF index, by branch
    and bound (see the module docstring): exact for ``IndexIVFFlat``.

    Args:
        index: a FAISS IVF index (its rows in the same space as ``queries``).
        bounds: its cell statistics.
        queries: ``[B, D]`` query rows (for a divergent query: the augmented ``-q``).
        k: results per query.
        first: cells of highest bound scanned before the rest are pruned.
        max_cells: most cells scanned per query, in bound order (0: as many as the bounds
            ask, exact). A budget trades recall for time; :mod:`pictext.rank.tune` picks it.

    Returns:
        ``(indices [B, k], scores [B, k])`` best first; ``-1`` where fewer rows exist.
    """
    import faiss

    ivf = ivf_of(index)
    if ivf is None:
        raise ValueError("branch-and-bound search needs an IVF index")
    q = np.ascontiguousarray(np.atleast_2d(queries), np.float32)
    ub = bounds.upper(q)
    cap = ub.shape[1] if max_cells <= 0 else min(max_cells, ub.shape[1])
    first = max(1, min(first, cap))
    order = np.argsort(-ub, axis=1)[:, :cap]
    head = order[:, :first]
    idx, val = _scan(faiss, ivf, bounds.centroids, q, k, head)
    kth = np.where(idx[:, -1] >= 0, val[:, -1], -np.inf)
    rest = order[:, first:]
    keep = np.take_along_axis(ub, rest, axis=1) > kth[:, None]
    if keep.any():
        width = int(keep.sum(axis=1).max())
        more = np.full((len(q), width), -1, np.int64)
        for b in range(len(q)):
            cells = rest[b][keep[b]]
            more[b, : len(cells)] = cells
        idx2, val2 = _scan(faiss, ivf, bounds.centroids, q, k, more)
        idx, val = _merge(idx, val, idx2, val2, k)
    return idx, val


def _scan(
    faiss: Any, ivf: Any, centroids: np.ndarray, q: np.ndarray, k: int, cells: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """FAISS's scan of the given cells (``-1``: none) per query."""
    cells = np.ascontiguousarray(cells, np.int64)
    safe = np.where(cells >= 0, cells, 0)
    coarse = np.ascontiguousarray(np.einsum("bd,bcd->bc", q, centroids[safe]), np.float32)
    dist = np.empty((len(q), k), np.float32)
    lab = np.empty((len(q), k), np.int64)
    params = faiss.SearchParametersIVF()
    params.nprobe = cells.shape[1]
    ivf.search_preassigned_c(
        len(q), faiss.swig_ptr(q), k, faiss.swig_ptr(cells), faiss.swig_ptr(coarse),
        faiss.swig_ptr(dist), faiss.swig_ptr(lab), False, params,
    )  # fmt: skip
    return lab, dist


def _merge(
    i1: np.ndarray, v1: np.ndarray, i2: np.ndarray, v2: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    idx = np.concatenate([i1, i2], axis=1)
    val = np.concatenate([v1, v2], axis=1)
    val = np.where(idx >= 0, val, -np.inf)
    order = np.argsort(-val, axis=1, kind="stable")[:, :k]
    idx = np.take_along_axis(idx, order, axis=1)
    val = np.take_along_axis(val, order, axis=1)
    return idx, np.where(idx >= 0, val, _NEG).astype(np.float32)
