"""Which index a collection gets by default, and what the choice costs in recall.

An exact index scans every stored float per query: its latency grows with ``rows x width``.
Below :data:`EXACT_MAX_FLOATS` (128 MiB of float32 scanned per query: about 26k rows of a
1280-d image embedding, 131k rows of 256-d) an exact scan answers in tens of milliseconds
on one core, needs no build and is exact; above it the collection gets an IVF index
(:func:`pictext.rank.build.build_ivf`) and its divergent queries the rim pool
(:mod:`pictext.rank.ann`).

:func:`measure` scores an approximate index against exact search on rows of the collection
itself: recall@k of similar lists, and for divergent lists in the default mode
(``diverse``: far from the query and spread out, :mod:`pictext.rank.divergent`) that mode's
own objective, the mean distance of the list to the query and the number of classes it
covers, each as a ratio of the approximate list's to the exact list's.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

BACKENDS = ("auto", "exact", "hnsw", "ivf")
EXACT_MAX_FLOATS = 1 << 25  # rows x width up to which "auto" keeps the exact scan


def choose_backend(n: int, dim: int, backend: str = "auto") -> str:
    """The backend to build: ``backend`` itself unless ``auto``, then by size.

    Args:
        n: rows indexed.
        dim: stored vector width.
        backend: ``auto``, ``exact``, ``hnsw`` or ``ivf``.

    Raises:
        ValueError: an unknown backend.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown index backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    return "exact" if n * dim <= EXACT_MAX_FLOATS else "ivf"


def measure(index: Any, queries: int = 200, k: int = 10, seed: int = 0) -> dict[str, Any]:
    """Similar and divergent lists of ``queries`` random rows, approximate against exact.

    Returns:
        ``{"backend", "queries", "k", "similar_recall", "similar_p50_ms", "similar_p99_ms",
        "divergent_distance_ratio", "divergent_classes_ratio", "divergent_p50_ms",
        "divergent_p99_ms"}``; on an exact index the ratios and the recall are 1.
    """
    from pictext.rank.divergent import Divergence, divergent_rows

    rng = np.random.default_rng(seed)
    rows = rng.choice(len(index), size=min(queries, len(index)), replace=False)
    div = Divergence()
    sim_ms, div_ms, recall, dist_ratio, class_ratio = [], [], [], [], []
    space = index._space_vectors()
    labels = np.asarray(index.labels, dtype=object)
    for r in rows:
        r = int(r)
        t = time.perf_counter()
        got = [h.row for h in index.similar_to(r, k)]
        sim_ms.append(1000 * (time.perf_counter() - t))
        want, _ = index.search(index.vectors[r : r + 1], k, exact=True, exclude=[{r}])
        recall.append(len(set(got) & set(want[0].tolist())) / max(1, (want[0] >= 0).sum()))
        t = time.perf_counter()
        hits = index.divergent_to(r, k, div)
        div_ms.append(1000 * (time.perf_counter() - t))
        q = index._space_queries(index.vectors[r : r + 1])[0]
        ex_rows, ex_dist = divergent_rows(space, q, k, div, scan=None, exclude={r})
        dist_ratio.append(np.mean([h.distance for h in hits]) / max(np.mean(ex_dist), 1e-12))
        n_got = len({labels[h.row] for h in hits})
        class_ratio.append(n_got / max(1, len(set(labels[ex_rows[ex_rows >= 0]]))))
    pct = lambda a, p: round(float(np.percentile(a, p)), 2)  # noqa: E731
    return {
        "backend": index.manifest.backend, "queries": len(rows), "k": k,
        "similar_recall": round(float(np.mean(recall)), 4),
        "similar_p50_ms": pct(sim_ms, 50), "similar_p99_ms": pct(sim_ms, 99),
        "divergent_mode": div.mode,
        "divergent_distance_ratio": round(float(np.mean(dist_ratio)), 4),
        "divergent_classes_ratio": round(float(np.mean(class_ratio)), 4),
        "divergent_p50_ms": pct(div_ms, 50), "divergent_p99_ms": pct(div_ms, 99),
    }  # fmt: skip
