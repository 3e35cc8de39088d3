"""Where an index's vectors live: the ranking head's output in a compact basis, and the
items' text part (see :mod:`pictext.rank.index`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pictext.rank.ann import normalize_rows

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
    return normalize_rows(text[rows]), mask[rows]
