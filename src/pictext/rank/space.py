"""Where an index's vectors live: the ranking head's output in a compact basis, and the
items' text part (see :mod:`pictext.rank.index`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pictext.core.vectors import unit_rows

if TYPE_CHECKING:
    from pictext.rank.head import RankingHead
    from pictext.store.features import Features


def head_space(head: RankingHead, basis: np.ndarray | None, features: Features) -> np.ndarray:
    """The ranking head's output for ``features``, in the index's basis when it has one."""
    vectors = head.transform(features)
    return vectors @ basis if basis is not None else vectors


def span_basis(head: RankingHead) -> np.ndarray | None:
    """Orthonormal basis of span([W, b]) when it is narrower than the output, else None."""
    w, b = head._params["weight"], head._params["bias"]
    if w.shape[0] <= w.shape[1] + 1:
        return None
    q, _ = np.linalg.qr(np.concatenate([w, b[:, None]], axis=1).astype(np.float64))
    return q.astype(np.float32)


def text_part(
    features: Features, rows: np.ndarray, with_text: bool
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Unit "text" embeddings of ``rows`` and their mask, or ``(None, None)`` when there are
    none to keep (not asked for, or no row has text)."""
    text = features.text.get("text")
    if not with_text or text is None:
        return None, None
    mask = features.text_mask.get("text")
    mask = np.ones(features.n, bool) if mask is None else np.asarray(mask, bool)
    if not mask[rows].any():  # e.g. fashion-mnist: no item has text
        return None, None
    return unit_rows(text[rows]), mask[rows]


BLEND_GRID: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)  # head weights tried on validation


def blend_space(head_vectors: np.ndarray, raw_vectors: np.ndarray, weight: float) -> np.ndarray:
    """Unit head and raw vectors side by side, scaled so that the cosine of two blended
    vectors is ``weight * cos(head) + (1 - weight) * cos(raw)``.

    Args:
        head_vectors: ``[N, Dh]`` the head's output (any basis).
        raw_vectors: ``[N, Dr]`` the raw image embeddings of the same rows.
        weight: share of the head's cosine, in ``[0, 1]`` (1: the head alone, 0: raw alone).
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"blend weight must be in [0, 1], got {weight}")
    h = unit_rows(np.asarray(head_vectors, np.float32)) * np.float32(np.sqrt(weight))
    r = unit_rows(np.asarray(raw_vectors, np.float32)) * np.float32(np.sqrt(1 - weight))
    return np.concatenate([h, r], axis=1)


def precision_at_k(
    index_vectors: np.ndarray,
    index_labels: np.ndarray,
    queries: np.ndarray,
    query_labels: np.ndarray,
    k: int = 10,
) -> float:
    """Mean share of each query's ``k`` nearest index rows (cosine) with the query's label."""
    from pictext.rank.ann import top_k_inner

    rows, _ = top_k_inner(unit_rows(index_vectors), unit_rows(queries), k)
    hits = np.asarray(index_labels)[rows] == np.asarray(query_labels)[:, None]
    return float(hits[rows >= 0].mean()) if rows.size else 0.0


def choose_blend(
    head: RankingHead,
    train: Features,
    y_train: np.ndarray,
    val: Features,
    y_val: np.ndarray,
    *,
    grid: tuple[float, ...] = BLEND_GRID,
    k: int = 10,
) -> tuple[float, dict[float, float]]:
    """The head weight of :func:`blend_space` with the best validation P@k: validation
    queries against the training rows (ties: the larger head weight).

    Returns:
        The weight and validation P@k per weight tried.
    """
    if not grid:
        raise ValueError("choose_blend needs at least one weight to try")
    ok_t, ok_v = head.usable(train), head.usable(val)
    train, val = train.subset(np.flatnonzero(ok_t)), val.subset(np.flatnonzero(ok_v))
    y_train, y_val = np.asarray(y_train)[ok_t], np.asarray(y_val)[ok_v]
    ht, hv = head.transform(train), head.transform(val)
    rt, rv = (np.asarray(f.image, np.float32) for f in (train, val))
    scores = {
        w: precision_at_k(blend_space(ht, rt, w), y_train, blend_space(hv, rv, w), y_val, k)
        for w in sorted(grid)
    }
    best = max(scores.values())
    return max(w for w, s in scores.items() if s == best), scores
