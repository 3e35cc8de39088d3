"""Reports: ranking quality (head vs raw embedding) and the diversity of recommendations."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pictext.core import defaults
from pictext.rank import diversity
from pictext.rank.ann import top_k_inner
from pictext.rank.metrics import (
    class_coverage,
    intra_list_diversity,
    retrieval_scores,
    score_at_top_k,
    triplet_accuracy,
)
from pictext.rank.triplets import IN_CLASS, sample_triplets


def evaluation_triplets(labels: np.ndarray, *, per_query: int = 20, seed: int = 0) -> np.ndarray:
    """Held-out triplets: query, a same-class positive, a uniform other-class negative.

    ``per_query`` triplets per labelled row, so that enough of them have their positive or
    negative among the query's top 30 for score-at-top-30.
    """
    n = int((np.asarray(labels) >= 0).sum()) * per_query
    trip, _ = sample_triplets(
        labels, np.random.default_rng(seed), n=n, out_of_class_frac=1.0, hard_negatives=False
    )
    return trip


def fine_triplets(labels: np.ndarray, fine: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Triplets whose negative shares the class but not the fine label (in-class)."""
    trip, kind = sample_triplets(
        labels,
        np.random.default_rng(seed),
        fine_labels=fine,
        out_of_class_frac=0.0,
        hard_negatives=False,
        n=int((np.asarray(labels) >= 0).sum()) * 5,
    )
    return trip[kind == IN_CLASS]


MAX_QUERIES = 5_000  # queries of mAP, P@k and score@k per space (a seeded sample above it;
# every row is still a candidate)


def ranking_table(
    spaces: dict[str, np.ndarray],
    labels: np.ndarray,
    *,
    fine: np.ndarray | None = None,
    k: int = 30,
    seed: int = 0,
) -> list[dict[str, float | str]]:
    """One row per space (e.g. ``raw`` and ``head``), all on the same held-out triplets."""
    trip = evaluation_triplets(labels, seed=seed)
    if len(np.unique(trip[:, 0])) > MAX_QUERIES:  # score@k ranks every row for each query
        asked = np.random.default_rng(seed).choice(np.unique(trip[:, 0]), MAX_QUERIES, False)
        trip = trip[np.isin(trip[:, 0], asked)]
    ftrip = fine_triplets(labels, fine, seed=seed) if fine is not None else np.zeros((0, 3))
    rows: list[dict[str, float | str]] = []
    for name, z in spaces.items():
        top = score_at_top_k(z, trip, k)
        ret = retrieval_scores(z, labels, max_queries=MAX_QUERIES, seed=seed)
        row: dict[str, float | str] = {
            "space": name,
            "triplet_acc": triplet_accuracy(z, trip),
            f"score@{k}": top.score,
            f"score@{k}_subset": top.considered,
            f"score@{k}_norm": top.normalized,
            "mAP": ret.map,
            **{f"P@{kk}": v for kk, v in ret.precision_at.items()},
        }
        if len(ftrip):
            row["fine_triplet_acc"] = triplet_accuracy(z, ftrip.astype(np.int64))
        rows.append(row)
    return rows


def random_histories(
    labels: np.ndarray, n_users: int, length: int, seed: int = 0
) -> list[np.ndarray]:
    """Simulated users: ``length`` random items of one random class each."""
    rng = np.random.default_rng(seed)
    classes = [c for c in np.unique(labels[labels >= 0]) if (labels == c).sum() > length]
    out = []
    for _ in range(n_users):
        c = classes[rng.integers(len(classes))]
        out.append(rng.choice(np.flatnonzero(labels == c), size=length, replace=False))
    return out


def diversity_sweep(
    unit: np.ndarray,
    labels: np.ndarray,
    histories: Sequence[np.ndarray],
    *,
    k: int = defaults.SEARCH_K,
    pool: int = defaults.POOL,
    lambdas: Sequence[float] = (1.0, 0.98, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.3, 0.0),
    offsets: Sequence[int] = (0, 5, 10, 20, 40, 80),
    methods: Sequence[str] = ("mmr", "kcenter", "dpp"),
) -> list[dict[str, float | str]]:
    """Mean relevance, intra-list diversity, class coverage and class precision per setting.

    ``knn@offset`` rows are plain nearest-neighbour lists taken at ranks
    ``offset+1 .. offset+k``: the kNN baseline at lower relevance, so selectors can be
    compared with kNN at the same relevance.
    """
    acc: dict[tuple[str, float], list[tuple[float, float, int, float]]] = {}
    for hist in histories:
        profile = unit[hist].mean(axis=0, keepdims=True)
        cand, _ = top_k_inner(unit, profile, pool + len(hist))
        cand = np.array([c for c in cand[0] if c not in set(hist)][:pool])
        rel = unit[cand] @ profile[0]
        seen_classes = set(labels[hist].tolist())
        settings = [("knn", float(o)) for o in offsets]
        settings += [(m, lam) for m in methods for lam in lambdas]
        for method, knob in settings:
            if method == "knn":
                pick = np.arange(int(knob), int(knob) + k)
            else:
                pick = diversity.select(method, unit[cand], rel, k, knob, unit[hist])
            rows = cand[pick]
            acc.setdefault((method, knob), []).append(
                (
                    float(rel[pick].mean()),
                    intra_list_diversity(unit, rows),
                    class_coverage(labels, rows),
                    float(np.mean([lab in seen_classes for lab in labels[rows]])),
                )
            )
    out = []
    for (method, knob), vals in acc.items():
        v = np.array(vals, dtype=np.float64)
        out.append(
            {
                "method": method,
                "knob": knob,
                "relevance": v[:, 0].mean(),
                "ILD": v[:, 1].mean(),
                "coverage": v[:, 2].mean(),
                "class_precision": v[:, 3].mean(),
            }
        )
    return out


def matched_table(sweep: list[dict[str, float | str]]) -> list[dict[str, float | str]]:
    """Each selector against plain kNN lists at the same mean relevance.

    For every ``knn@offset`` list (offset > 0), each selector's intra-list distance, class
    coverage and class precision are linearly interpolated along its lambda sweep at exactly
    that list's relevance (NaN where the sweep does not reach it).
    """
    out: list[dict[str, float | str]] = []
    methods = [m for m in dict.fromkeys(str(r["method"]) for r in sweep) if m != "knn"]
    for base in (r for r in sweep if r["method"] == "knn" and float(r["knob"]) > 0):
        rel = float(base["relevance"])
        row: dict[str, float | str] = {
            "knn_offset": float(base["knob"]),
            "relevance": rel,
            "knn_ILD": base["ILD"],
            "knn_cov": base["coverage"],
        }
        for m in methods:
            pts = sorted((float(r["relevance"]), r) for r in sweep if r["method"] == m)
            xs = np.array([p[0] for p in pts])
            for key, short in (("ILD", "ILD"), ("coverage", "cov")):
                ys = np.array([float(p[1][key]) for p in pts])
                inside = xs.min() <= rel <= xs.max()
                row[f"{m}_{short}"] = float(np.interp(rel, xs, ys)) if inside else float("nan")
        out.append(row)
    return out
