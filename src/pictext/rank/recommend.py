"""Recommendation over unit vectors: a history's profile, its candidates, a diverse pick.

The arithmetic behind :meth:`pictext.rank.index.SearchIndex.recommend`: the candidates are
the unseen rows most relevant to the history (its profile), and a selector of
:mod:`pictext.rank.diversity` picks the list from them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from pictext.core import defaults
from pictext.core.vectors import unit_rows
from pictext.rank import diversity
from pictext.rank.ann import top_k_inner

# (profile [1, D], how many, rows to skip) -> (rows [1, n], distances): the index's own search
Searcher = Callable[[np.ndarray, int, list[set[int]]], tuple[np.ndarray, np.ndarray]]


def candidates(
    unit: np.ndarray,
    seen_rows: Sequence[int],
    pool: int,
    *,
    extra: np.ndarray | None = None,
    search: Searcher | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``pool`` unseen rows most relevant to a history, with their relevance.

    A history of rows is profiled by the plain mean of their unit vectors (relevance = mean
    cosine) and searched by ``search`` when given; with ``extra`` (unit vectors of new items
    in the history) the profile is the unit mean of every seen vector, searched exactly.

    Args:
        unit: ``[N, D]`` unit rows of the collection.
        seen_rows: rows of the seen items.
        pool: candidates wanted.
        extra: ``[Q, D]`` unit vectors of new items the user brought.
        search: the index's search (None: exact inner products over ``unit``).
    """
    rows = [int(r) for r in seen_rows]
    seen = unit[rows] if extra is None else np.vstack([unit[rows], extra])
    profile = seen.mean(axis=0, keepdims=True)
    if extra is not None:
        profile = unit_rows(profile)
    if search is None or extra is not None:
        cand, _ = top_k_inner(unit, profile, pool + len(rows))
    else:
        cand, _ = search(profile, pool, [set(rows)])
    skip = set(rows)
    cand = np.array([c for c in cand[0] if c >= 0 and c not in skip][:pool], np.int64)
    return cand, unit[cand] @ profile[0]


def recommend_rows(
    unit: np.ndarray,
    seen_rows: Sequence[int],
    k: int,
    *,
    extra: np.ndarray | None = None,
    method: str = "mmr",
    lambda_: float = defaults.MMR_LAMBDA,
    pool: int = defaults.POOL,
    avoid_seen: bool = True,
    search: Searcher | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a relevant yet diverse list and their distances to the history's profile.

    Arguments as in :func:`candidates` and :meth:`pictext.rank.index.SearchIndex.recommend`.
    """
    rows = [int(r) for r in seen_rows]
    cand, rel = candidates(unit, rows, pool, extra=extra, search=search)
    seen = unit[rows] if extra is None else np.vstack([unit[rows], extra])
    pick = diversity.select(method, unit[cand], rel, k, lambda_, seen if avoid_seen else None)
    profile = unit_rows(seen.mean(axis=0, keepdims=True))[0]
    return cand[pick], np.linalg.norm(unit[cand[pick]] - profile, axis=1)
