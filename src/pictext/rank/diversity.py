"""Pick a diverse yet relevant list from a pool of candidates.

Every selector takes unit vectors of the candidates, their relevance to the user's history
(mean cosine similarity to the seen items), the list length ``k`` and a knob
``lambda_`` in ``[0, 1]``: 1 is pure relevance (the plain nearest-neighbour list), lower
values trade relevance for diversity. With ``seen`` (unit vectors of the history), the
selectors also steer away from what the user has already seen, not only from each other.

* ``mmr``: maximal marginal relevance (Carbonell & Goldstein 1998):
  ``lambda * rel(c) - (1 - lambda) * max_{s in picked + seen} cos(c, s)``.
* ``kcenter``: k-center greedy (farthest-first traversal, Gonzalez 1985) restricted to the
  most relevant candidates; the knob sets that pool: ``k + (1 - lambda) * (M - k)`` items.
* ``dpp``: greedy MAP inference of a determinantal point process (Chen et al. 2018, fast
  incremental Cholesky), kernel ``L = diag(q) S diag(q)`` with ``S`` the cosine similarity
  and quality ``q = exp(alpha * rel)``, ``alpha = lambda / (2 (1 - lambda))`` (their
  relevance/diversity trade-off); seen items are conditioned on (picked first, not returned).
"""

from __future__ import annotations

import numpy as np

from pictext.core import defaults

SELECTORS: tuple[str, ...] = ("knn", "mmr", "kcenter", "dpp")


def select(
    method: str,
    vectors: np.ndarray,
    relevance: np.ndarray,
    k: int,
    lambda_: float = defaults.MMR_LAMBDA,
    seen: np.ndarray | None = None,
) -> np.ndarray:
    """Indices (into the candidates) of the ``k`` items picked by ``method``, in pick order.

    Args:
        method: one of ``SELECTORS``.
        vectors: ``[M, D]`` unit vectors of the candidates.
        relevance: ``[M]`` relevance of each candidate (higher is better).
        k: list length (at most ``M``).
        lambda_: relevance/diversity knob in ``[0, 1]``; 1 = plain kNN.
        seen: ``[H, D]`` unit vectors of the history, or None.
    """
    if not 0.0 <= lambda_ <= 1.0:
        raise ValueError(f"lambda_ must be in [0, 1], got {lambda_}")
    k = min(k, len(vectors))
    if method == "knn" or lambda_ >= 1.0:
        return np.argsort(-relevance, kind="stable")[:k]
    if method == "mmr":
        return mmr(vectors, relevance, k, lambda_, seen)
    if method == "kcenter":
        return k_center_greedy(vectors, relevance, k, lambda_, seen)
    if method == "dpp":
        return dpp_greedy_map(vectors, relevance, k, lambda_, seen)
    raise ValueError(f"unknown selector {method!r}; use one of {SELECTORS}")


def mmr(
    vectors: np.ndarray,
    relevance: np.ndarray,
    k: int,
    lambda_: float,
    seen: np.ndarray | None = None,
) -> np.ndarray:
    """Maximal marginal relevance, greedy."""
    redundancy = np.full(len(vectors), -1.0)
    if seen is not None and len(seen):
        redundancy = (vectors @ seen.T).max(axis=1)
    picked: list[int] = []
    free = np.ones(len(vectors), bool)
    for _ in range(k):
        score = np.where(free, lambda_ * relevance - (1.0 - lambda_) * redundancy, -np.inf)
        j = int(np.argmax(score))
        picked.append(j)
        free[j] = False
        redundancy = np.maximum(redundancy, vectors @ vectors[j])
    return np.array(picked, np.int64)


def k_center_greedy(
    vectors: np.ndarray,
    relevance: np.ndarray,
    k: int,
    lambda_: float,
    seen: np.ndarray | None = None,
) -> np.ndarray:
    """Farthest-first traversal among the most relevant ``k + (1 - lambda_) (M - k)``."""
    pool = k + round((1.0 - lambda_) * (len(vectors) - k))
    cand = np.argsort(-relevance, kind="stable")[:pool]
    v = vectors[cand]
    if seen is not None and len(seen):
        nearest = np.sqrt(np.maximum(2.0 - 2.0 * (v @ seen.T).max(axis=1), 0.0))
        first = int(np.argmax(nearest))
    else:
        nearest = np.full(len(v), np.inf)
        first = 0  # the most relevant one
    picked = [first]
    for _ in range(k - 1):
        d = np.sqrt(np.maximum(2.0 - 2.0 * (v @ v[picked[-1]]), 0.0))
        nearest = np.minimum(nearest, d)
        nearest[picked] = -np.inf
        picked.append(int(np.argmax(nearest)))
    return cand[np.array(picked, np.int64)]


def dpp_greedy_map(
    vectors: np.ndarray,
    relevance: np.ndarray,
    k: int,
    lambda_: float,
    seen: np.ndarray | None = None,
    eps: float = 1e-10,
) -> np.ndarray:
    """Greedy MAP of a DPP by incremental Cholesky (Chen, Zhang & Zhou, NeurIPS 2018)."""
    alpha = lambda_ / (2.0 * (1.0 - lambda_))
    quality = np.exp(alpha * (relevance - relevance.max()))  # rescaled: same argmax, no overflow
    h = 0 if seen is None else len(seen)
    allv = vectors if h == 0 else np.concatenate([seen, vectors])
    q = np.concatenate([np.ones(h), quality])
    m = len(allv)
    chol = np.zeros((h + k, m))
    d2 = q * q * (np.einsum("ij,ij->i", allv, allv) + 1e-6)
    order = list(range(h))  # seen items are conditioned on first
    picked: list[int] = []
    for step in range(h + k):
        if step < h:
            j = order[step]
            if d2[j] < eps:  # a seen item spanned by the other seen ones adds nothing
                continue
        else:
            gain = d2.copy()
            gain[:h] = -np.inf
            gain[picked] = -np.inf
            j = int(np.argmax(gain))
            if gain[j] < eps:  # every remaining candidate is spanned by the picked ones
                break
            picked.append(j)
        row = q[j] * q * (allv @ allv[j])
        e = (row - chol[:step, j] @ chol[:step]) / np.sqrt(max(d2[j], eps))
        chol[step] = e
        d2 = d2 - e * e
    out = np.array([j - h for j in picked], np.int64)
    if len(out) < k:  # fill up with the most relevant not yet picked
        rest = [i for i in np.argsort(-relevance, kind="stable") if i not in set(out)]
        out = np.concatenate([out, np.array(rest[: k - len(out)], np.int64)])
    return out
