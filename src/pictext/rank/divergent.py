"""Divergent lists: the items farthest from a query, or items far from it and spread out.

The farthest items from a query are exact but tell a person little: in a collection of
clip art the same few outliers (letter glyphs, say) are the farthest from almost every
query. So there are two modes (:data:`MODES`):

* ``farthest``: the ``k`` items farthest from the query (exact, or the rim pool of a FAISS
  index: :mod:`pictext.rank.ann`).
* ``diverse`` (the default): the *far set* is the items whose distance to the query is at or
  above the ``quantile``-th quantile of the collection's distances to it (the *floor*);
  maximal marginal relevance (:func:`pictext.rank.diversity.mmr`) picks ``k`` of them with
  farness as the relevance and the cosine to the items already picked as the redundancy::

      (1 - spread) * farness(c) - spread * max_{p picked} cos(c, p),  farness(c) = -cos(q, c)

  ``spread = 0`` gives the farthest list; higher values spread the list over the far set, so
  it covers several classes and changes with the query. The list comes back most distant
  first.

The floor comes from every row's distance when every row is scanned (the exact backend),
else from an evenly spaced sample of rows (a FAISS index scans its rim pool only). When
fewer than ``k`` scanned rows reach the floor, the floor drops to the ``k``-th largest
distance, so the list is ``k`` long whenever ``k`` rows can be returned. A far set larger
than ``pool`` is thinned to its ``k`` farthest rows plus an evenly spaced sample of the
rest, which bounds the work per query.

Farness and redundancy are measured on unit vectors (as :mod:`pictext.rank.recommend`
does), the floor and the returned distances in the searched space: on a cosine index the
two agree, on an ``l2`` index the far set is by Euclidean distance and the pick by angle.

The defaults in :mod:`pictext.core.defaults` were chosen on validation queries
(``bench/divergent.py --tune``), never on the queries the benchmark reports.

Example:
    >>> import numpy as np
    >>> x = np.array([[1, 0], [-1, 0.1], [-1, -0.1], [0.1, -1], [0.6, 0.8]], np.float32)
    >>> rows, _ = divergent_rows(x, x[0], 2, Divergence("farthest"), exclude={0})
    >>> sorted(rows.tolist())
    [1, 2]
    >>> rows, _ = divergent_rows(x, x[0], 2, Divergence("diverse", spread=0.5, quantile=0.5))
    >>> sorted(rows.tolist())
    [1, 3]
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pictext.core import defaults
from pictext.core.vectors import unit_rows
from pictext.rank.diversity import select

MODES: tuple[str, ...] = ("diverse", "farthest")


@dataclass(frozen=True)
class Divergence:
    """How a divergent list is chosen (see the module docstring); checked when made."""

    mode: str = defaults.DIVERGENT_MODE  # "diverse" or "farthest"
    spread: float = defaults.DIVERGENT_SPREAD  # diverse: 0 = farthest first, 1 = most spread
    quantile: float = defaults.DIVERGENT_QUANTILE  # diverse: distance floor, as a quantile

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown divergent mode {self.mode!r}; use one of {MODES}")
        if not 0.0 <= self.spread <= 1.0:
            raise ValueError(f"spread must be in [0, 1], got {self.spread}")
        if not 0.0 <= self.quantile < 1.0:
            raise ValueError(f"quantile must be in [0, 1), got {self.quantile}")

    def describe(self) -> str:
        """A short line for people: which mode answered, with its knobs."""
        if self.mode == "farthest":
            return "farthest"
        return f"diverse (spread {self.spread:g}, beyond the {100 * self.quantile:g}th percentile)"

    def to_dict(self) -> dict[str, Any]:
        """The fields and :meth:`describe`, for an answer's JSON."""
        return asdict(self) | {"describe": self.describe()}


def divergent_rows(
    space: np.ndarray,
    query: np.ndarray,
    k: int,
    divergence: Divergence | None = None,
    *,
    scan: np.ndarray | None = None,
    exclude: Collection[int] = (),
    pool: int = defaults.DIVERGENT_POOL,
    floor_sample: int = defaults.DIVERGENT_FLOOR_SAMPLE,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a divergent list and their distances to the query, most distant first.

    Args:
        space: ``[N, D]`` rows in the searched space (unit rows for a cosine index).
        query: ``[D]`` query vector in the same space.
        k: list length (fewer only when fewer rows can be returned).
        divergence: mode and knobs; default :class:`Divergence` ().
        scan: rows that may be returned (a FAISS index's rim pool); None: every row.
        exclude: rows never returned (the query item itself).
        pool: most far rows the selector compares.
        floor_sample: rows whose distances set the floor when ``scan`` is given.
    """
    div = divergence or Divergence()
    space = np.asarray(space, np.float32)
    q = np.asarray(query, np.float32).ravel()
    cand = np.arange(len(space)) if scan is None else np.asarray(scan, np.int64)
    if len(exclude):
        cand = cand[~np.isin(cand, np.fromiter(exclude, np.int64))]
    k = min(int(k), len(cand))
    if k <= 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    dist = _distances(space, q)[cand] if scan is None else _distances(space[cand], q)
    if div.mode == "farthest":
        pick = np.argsort(-dist, kind="stable")[:k]
        return cand[pick], dist[pick]
    floor = distance_floor(space, q, div.quantile, dist if scan is None else None, floor_sample)
    far = far_set(dist, k, floor, pool)
    unit = unit_rows(space[cand[far]])
    farness = -(unit @ unit_rows(q[None])[0])
    pick = far[select("mmr", unit, farness, k, 1.0 - div.spread)]
    pick = pick[np.argsort(-dist[pick], kind="stable")]
    return cand[pick], dist[pick]


def distance_floor(
    space: np.ndarray,
    query: np.ndarray,
    quantile: float,
    distances: np.ndarray | None = None,
    sample: int = defaults.DIVERGENT_FLOOR_SAMPLE,
) -> float:
    """The ``quantile``-th quantile of the distances from ``query`` to the collection.

    Args:
        space: ``[N, D]`` rows in the searched space.
        query: ``[D]`` query vector.
        quantile: in ``[0, 1)``.
        distances: the distances to every row, when already computed (exact).
        sample: otherwise, rows (evenly spaced) whose distances estimate the quantile.
    """
    if distances is None:
        rows = np.unique(np.linspace(0, len(space) - 1, min(sample, len(space))).astype(np.int64))
        distances = _distances(np.asarray(space, np.float32)[rows], np.ravel(query))
    return float(np.quantile(distances, quantile))


def far_set(dist: np.ndarray, k: int, floor: float, pool: int) -> np.ndarray:
    """Indices of ``dist`` at or above ``floor`` (at least the ``k`` largest), at most ``pool``.

    A larger set keeps its ``k`` largest and an evenly spaced sample of the others, in index
    order, so the work per query is bounded and the answer deterministic.
    """
    k = min(k, len(dist))
    top = np.argsort(-dist, kind="stable")[:k]
    floor = min(floor, float(dist[top[-1]]))
    far = np.flatnonzero(dist >= floor)
    if len(far) <= max(pool, k):
        return far
    rest = np.setdiff1d(far, top)
    keep = rest[np.linspace(0, len(rest) - 1, max(pool - k, 0)).astype(np.int64)]
    return np.union1d(top, keep)


def _distances(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Euclidean distances by ``|x|^2 - 2 x.q + |q|^2`` (no ``[N, D]`` temporary)."""
    sq = np.einsum("ij,ij->i", rows, rows) - 2.0 * (rows @ query) + float(query @ query)
    return np.sqrt(np.maximum(sq, 0.0)).astype(np.float32)
