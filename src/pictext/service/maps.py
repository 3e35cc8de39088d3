"""The 2-D map of a collection the web page draws: t-SNE (or PCA) of the index vectors.

Computed once and kept in ``MODEL_DIR/map.json``, keyed by the index build, so later starts
are instant; a read-only bundle just recomputes it at each start.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from pictext.core.atomic import atomic_write_text

log = logging.getLogger("pictext.service")

TSNE_MAX = 20_000  # above this many items t-SNE is too slow for a start-up step: PCA instead


def project_2d(vectors: np.ndarray, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """``[N, 2]`` coordinates scaled to ``[0, 1]`` (t-SNE on cosine distance, or PCA)."""
    from sklearn.decomposition import PCA

    x = np.asarray(vectors, np.float64)
    n = len(x)
    if n < 3:
        xy = np.zeros((n, 2)) if n == 0 else np.column_stack([np.arange(n), np.zeros(n)])
    elif method == "tsne" and n <= TSNE_MAX:
        from sklearn.manifold import TSNE

        if x.shape[1] > 50:
            x = PCA(n_components=min(50, n - 1), random_state=seed).fit_transform(x)
        perplexity = float(min(30.0, (n - 1) / 3))
        xy = TSNE(
            n_components=2, perplexity=perplexity, init="pca", random_state=seed, metric="cosine"
        ).fit_transform(x)
    elif method in ("tsne", "pca"):
        xy = PCA(n_components=2, random_state=seed).fit_transform(x)
    else:
        raise ValueError(f"unknown map method {method!r}; use 'tsne' or 'pca'")
    lo, span = xy.min(axis=0), np.ptp(xy, axis=0)
    return (xy - lo) / np.where(span > 0, span, 1.0)


def load_or_make_map(
    path: Path, key: str, ids: list[str], vectors: np.ndarray, method: str
) -> np.ndarray:
    """The cached map at ``path`` when it matches ``key`` and ``ids``, else a new one (saved)."""
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if cached.get("key") == key and cached.get("method") == method and cached["ids"] == ids:
            return np.asarray(cached["xy"], np.float64)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # missing or stale: recompute below
    log.info("computing the %s map of %d items (once; kept in %s)", method, len(ids), path)
    xy = project_2d(vectors, method)
    body = {"key": key, "method": method, "ids": ids, "xy": np.round(xy, 5).tolist()}
    try:
        atomic_write_text(path, json.dumps(body))
    except OSError as err:
        log.warning("cannot save the map to %s (%s); it will be recomputed next start", path, err)
    return xy
