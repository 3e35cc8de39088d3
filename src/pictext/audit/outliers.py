"""Uniqueness: how far an item lies from its nearest neighbours in embedding space.

The score is the mean cosine distance to the ``k`` nearest other items (FiftyOne's
``compute_uniqueness`` has the same idea): near 0 for an item with close copies, large for
an outlier that looks like nothing else in the collection.
"""

from __future__ import annotations

import numpy as np


def uniqueness(vectors: np.ndarray, ok: np.ndarray, k: int = 5) -> np.ndarray:
    """Mean cosine distance of each row to its ``k`` nearest other rows (NaN where not ``ok``).

    Args:
        vectors: ``[N, D]`` embeddings.
        ok: ``[N]`` rows that have an embedding.
        k: neighbours averaged (fewer when the collection is smaller).
    """
    from sklearn.neighbors import NearestNeighbors

    out = np.full(len(vectors), np.nan)
    rows = np.flatnonzero(ok)
    kk = min(k, len(rows) - 1)
    if kk < 1:
        return out
    nn = NearestNeighbors(n_neighbors=kk + 1, metric="cosine").fit(vectors[rows])
    dist, _ = nn.kneighbors(vectors[rows])
    out[rows] = dist[:, 1:].mean(axis=1)  # column 0 is the item itself
    return out
