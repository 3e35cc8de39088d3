"""The one 2-D projection of embeddings: every map (the report's, the web page's) uses it.

:func:`project_2d` is t-SNE (scikit-learn, Euclidean, PCA initialisation), PCA, or UMAP
(``umap-learn``); :func:`collection_map` is the web page's map of a collection: the same
projection scaled to the unit square and kept in a JSON file so later starts are instant
(see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pictext.core.atomic import atomic_write_text

log = logging.getLogger("pictext")

METHODS: tuple[str, ...] = ("tsne", "pca", "umap")
TSNE_MAX = 20_000  # above this many items a collection map uses PCA: t-SNE is too slow


def project_2d(vectors: np.ndarray, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """``[N, 2]`` coordinates of ``vectors``.

    Args:
        vectors: ``[N, D]`` embeddings (read as float32).
        method: ``"tsne"`` (perplexity ``min(30, max(2, (N - 1) // 3))``), ``"pca"`` or
            ``"umap"``.
        seed: random state of the projection.

    Raises:
        ValueError: an unknown method.
        ImportError: ``umap`` without ``umap-learn`` installed.

    Example:
        >>> project_2d(np.eye(4, dtype=np.float32), "pca").shape
        (4, 2)
    """
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}; use one of {', '.join(METHODS)}")
    x = np.asarray(vectors, dtype=np.float32)
    n = len(x)
    if n < 3:  # too few points for any of the methods: a line
        return np.column_stack([np.arange(n), np.zeros(n)]).astype(np.float32)
    if method == "umap":
        try:
            import umap
        except ImportError as err:
            raise ImportError("method='umap' needs umap-learn: pip install umap-learn") from err
        return umap.UMAP(random_state=seed).fit_transform(x)
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(2, random_state=seed).fit_transform(x)
    from sklearn.manifold import TSNE

    perplexity = float(min(30, max(2, (n - 1) // 3)))
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def method_used(method: str, n: int, tsne_max: int = TSNE_MAX) -> str:
    """The projection :func:`collection_map` runs for ``n`` items when asked for ``method``
    (t-SNE becomes PCA above ``tsne_max`` items): what a map should be labelled with."""
    return "pca" if method == "tsne" and n > tsne_max else method


def unit_square(xy: np.ndarray) -> np.ndarray:
    """Coordinates shifted and scaled into ``[0, 1]`` per axis (a constant axis maps to 0)."""
    xy = np.asarray(xy, np.float64)
    if len(xy) == 0:
        return xy.reshape(0, 2)
    lo, span = xy.min(axis=0), np.ptp(xy, axis=0)
    return (xy - lo) / np.where(span > 0, span, 1.0)


def collection_map(
    path: str | Path,
    key: str,
    ids: Sequence[str],
    vectors: np.ndarray,
    method: str = "tsne",
    *,
    seed: int = 0,
    tsne_max: int = TSNE_MAX,
) -> np.ndarray:
    """The ``[N, 2]`` map of a collection in ``[0, 1]``, read from ``path`` when it still fits.

    The file is reused when its ``key`` (what the vectors were built from), method and ids
    match; otherwise the map is computed with :func:`project_2d` and written (best effort:
    a read-only folder only costs a recomputation next time).

    Args:
        path: the JSON file of the map.
        key: identifies the vectors (e.g. the index build time, size and space).
        ids: item id per row of ``vectors``.
        vectors: ``[N, D]`` embeddings.
        method: as in :func:`project_2d`; above ``tsne_max`` items t-SNE becomes PCA.
        seed: random state of the projection.
        tsne_max: most items mapped by t-SNE.
    """
    path = Path(path)
    ids = list(ids)
    cached = _read_map(path, key, method, ids)
    if cached is not None:
        return cached
    used = method_used(method, len(ids), tsne_max)
    log.info("computing the %s map of %d items (once; kept in %s)", used, len(ids), path)
    xy = unit_square(project_2d(vectors, used, seed))
    body = {"key": key, "method": method, "ids": ids, "xy": np.round(xy, 5).tolist()}
    try:
        atomic_write_text(path, json.dumps(body))
    except OSError as err:
        log.warning("cannot save the map to %s (%s); it will be recomputed next time", path, err)
    return xy


def _read_map(path: Path, key: str, method: str, ids: list[str]) -> np.ndarray | None:
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if cached.get("key") == key and cached.get("method") == method and cached["ids"] == ids:
            return np.asarray(cached["xy"], np.float64)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing, unreadable or stale: recomputed by the caller
    return None
