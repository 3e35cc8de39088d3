"""Divergent lists: pure farthest vs the default far-and-spread mode, on held-out queries.

Per dataset the ranking head and the index are built as the demo builds them (``pictext
demo``: ``rank train --holdout 0.4`` on the cached embeddings, then ``index build`` over
every item with that head), the head into a temporary folder. Queries are collection items
of the run's split, searched by row (a query never returns itself):

* the report (default) uses the **test** split's items;
* ``--tune`` uses the **validation** split's items (at most ``--tune-queries`` per dataset)
  over a grid of ``quantile`` x ``spread`` and names the setting the rule below picks. The
  defaults in ``core/defaults.py`` are that setting; the test queries never choose anything.

The rule, on validation: keep the settings whose mean distance is at least 95% of pure
farthest's on every dataset (a margin over the 90% target) and whose most common class is
at most 35% of the hits; among them take the largest classes-per-list on the worse dataset,
then the smaller mean overlap.

Columns: classes per top-k list (mean), the most common class and its share of all hits,
mean distance to the query, that mean over pure farthest's, mean overlap of two queries'
lists (|A & B| / k over all pairs of queries) and the median time per query.

    python bench/divergent.py                               # tuxpaint and openclipart, exact
    python bench/divergent.py --backends exact,hnsw         # also the FAISS rim-pool path
    python bench/divergent.py --tune                        # the validation grid
    python bench/divergent.py --grid grid.png --datasets tuxpaint   # a retrieval grid PNG

Set BLAS threads before starting (``OMP_NUM_THREADS=1``) on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pictext.core import defaults
from pictext.rank.ann import AnnParams
from pictext.rank.divergent import Divergence
from pictext.rank.index import Hit, SearchIndex
from pictext.report import markdown_table


@dataclass
class Collection:
    """A dataset's index and its query rows."""

    name: str
    index: dict[str, SearchIndex]  # by backend
    val: np.ndarray  # index rows of the validation split's items
    test: np.ndarray  # index rows of the test split's items
    items: dict  # id -> Item (pictures for the grid)


def build(name: str, backends: Sequence[str], work: Path) -> Collection:
    """Train the demo's ranking head on ``name`` and index every item with it."""
    from pictext.rank.runs import RunSpec, load, train

    spec = RunSpec(name, holdout=0.4, seed=defaults.SPLIT_SEED)  # as cli/demo.py
    head = train(work / name, spec, {"epochs": defaults.RANK_EPOCHS}, progress=False)
    data = load(spec, progress=False)
    labels = [it.label for it in data.dataset.items]
    index = {
        b: SearchIndex.build(
            data.features, head=head, labels=labels, dataset=name, backend=b,
            ann_params=AnnParams(threads=1),
        )
        for b in backends
    }  # fmt: skip
    ix = next(iter(index.values()))
    ids = data.features.ids

    def rows(split: np.ndarray) -> np.ndarray:
        return np.array([ix.row(ids[r]) for r in split if ids[r] in ix], np.int64)

    return Collection(
        name, index, rows(data.val), rows(data.test), {it.id: it for it in data.dataset.items}
    )


def answer(ix: SearchIndex, queries: np.ndarray, k: int, div: Divergence) -> tuple[list, float]:
    """Each query's list, and the median seconds per query."""
    lists, took = [], []
    for q in queries:
        start = time.perf_counter()
        lists.append(ix.divergent_to(int(q), k, div))
        took.append(time.perf_counter() - start)
    return lists, float(np.median(took))


def stats(lists: list[list[Hit]], k: int) -> dict[str, float | str]:
    """Classes per list, the most common class's share, mean distance and mean overlap."""
    labels = Counter(h.label for hits in lists for h in hits)
    top, count = labels.most_common(1)[0]
    rows = sorted({h.row for hits in lists for h in hits})
    col = {r: j for j, r in enumerate(rows)}
    member = np.zeros((len(lists), len(rows)), np.float32)
    for i, hits in enumerate(lists):
        member[i, [col[h.row] for h in hits]] = 1.0
    shared = member @ member.T
    n = len(lists)
    overlap = (shared.sum() - np.trace(shared)) / max(n * (n - 1), 1) / k
    return {
        "classes/list": float(np.mean([len({h.label for h in hits}) for hits in lists])),
        "top class": f"{top} {count / sum(labels.values()):.0%}",
        "top share": count / sum(labels.values()),
        "mean dist": float(np.mean([h.distance for hits in lists for h in hits])),
        "overlap": float(overlap),
    }


def table(cols: Sequence[Collection], backends: Sequence[str], k: int) -> list[dict]:
    """The report: farthest and the default on each dataset's test queries."""
    out = []
    for c in cols:
        for b in backends:
            base = None
            for div in (Divergence("farthest"), Divergence()):
                lists, sec = answer(c.index[b], c.test, k, div)
                s = stats(lists, k)
                base = base or s["mean dist"]
                out.append(
                    {
                        "dataset": c.name,
                        "backend": b,
                        "mode": div.describe(),
                        "queries": len(c.test),
                        "classes/list": f"{s['classes/list']:.2f}",
                        "top class": s["top class"],
                        "mean dist": f"{s['mean dist']:.3f}",
                        "vs farthest": f"{s['mean dist'] / base:.1%}",
                        "overlap": f"{s['overlap']:.3f}",
                        "ms/query": f"{1000 * sec:.1f}",
                    }
                )
    return out


def tune(
    cols: Sequence[Collection],
    k: int,
    n_queries: int,
    quantiles: Sequence[float],
    spreads: Sequence[float],
) -> tuple[list[dict], tuple[float, float] | None]:
    """The validation grid and the setting the rule (module docstring) picks."""
    rng = np.random.default_rng(0)
    val = {c.name: rng.permutation(c.val)[:n_queries] for c in cols}
    base = {}
    for c in cols:
        base[c.name] = stats(answer(c.index["exact"], val[c.name], k, Divergence("farthest"))[0], k)
    rows: list[dict] = [{"quantile": "-", "spread": "farthest"}]
    for n, p in base.items():
        rows[0] |= {
            f"{n} classes": f"{p['classes/list']:.2f}",
            f"{n} top": p["top class"],
            f"{n} dist": f"{p['mean dist']:.3f}",
            f"{n} overlap": f"{p['overlap']:.3f}",
        }
    rows[0]["passes"] = "-"
    scores = {}
    for qt in quantiles:
        for sp in spreads:
            div = Divergence("diverse", spread=sp, quantile=qt)
            per = {}
            for c in cols:
                per[c.name] = stats(answer(c.index["exact"], val[c.name], k, div)[0], k)
            ok = all(
                per[n]["mean dist"] >= 0.95 * base[n]["mean dist"] and per[n]["top share"] <= 0.35
                for n in per
            )
            worst = min(p["classes/list"] for p in per.values())
            overlap = float(np.mean([p["overlap"] for p in per.values()]))
            if ok:
                scores[(qt, sp)] = (worst, -overlap)
            row = {"quantile": qt, "spread": sp}
            for n, p in per.items():
                row[f"{n} classes"] = f"{p['classes/list']:.2f}"
                row[f"{n} top"] = p["top class"]
                row[f"{n} dist"] = f"{p['mean dist'] / base[n]['mean dist']:.1%}"
                row[f"{n} overlap"] = f"{p['overlap']:.3f}"
            row["passes"] = "yes" if ok else "no"
            rows.append(row)
    best = max(scores, key=scores.get) if scores else None
    return rows, best


def grid(c: Collection, n: int, k: int, path: Path) -> Path:
    """Similar, farthest and default-divergent lists of ``n`` test queries, as a PNG."""
    from pictext.data.images import load_image
    from pictext.rank.plot_grid import GridRow, retrieval_grid

    ix = c.index["exact"]
    rng = np.random.default_rng(0)
    rows = []
    for q in rng.choice(c.test, size=min(n, len(c.test)), replace=False):
        sim = [(h.id, h.distance) for h in ix.similar_to(int(q), 5)]
        for div in (Divergence("farthest"), Divergence()):
            far = [(h.id, h.distance) for h in ix.divergent_to(int(q), k, div)]
            rows.append(GridRow("head", ix.ids[int(q)], sim, far, div.describe()))
    return retrieval_grid(
        rows, lambda i: load_image(c.items[i]), lambda i: str(c.items[i].label), path
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="tuxpaint,openclipart")
    ap.add_argument("--backends", default="exact", help="exact and/or hnsw, ivf")
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--tune", action="store_true", help="the validation grid instead")
    ap.add_argument("--tune-queries", type=int, default=200)
    ap.add_argument("--quantiles", default="0.5,0.6,0.7,0.8,0.9")
    ap.add_argument("--spreads", default="0.2,0.35,0.5,0.65,0.8")
    ap.add_argument("--grid", type=Path, help="also write a retrieval grid PNG (first dataset)")
    ap.add_argument("--grid-queries", type=int, default=4)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    backends = [b for b in args.backends.split(",") if b]
    if args.tune and "exact" not in backends:
        backends.insert(0, "exact")
    with tempfile.TemporaryDirectory() as tmp:
        cols = [build(n, backends, Path(tmp)) for n in args.datasets.split(",") if n]
    print(f"k={args.k}; defaults: {Divergence().describe()}")
    if args.tune:
        rows, best = tune(
            cols,
            args.k,
            args.tune_queries,
            [float(x) for x in args.quantiles.split(",")],
            [float(x) for x in args.spreads.split(",")],
        )
        print(f"validation queries (at most {args.tune_queries} per dataset):")
        print(markdown_table(rows))
        print("picked (quantile, spread):", best)
        return 0
    print(markdown_table(table(cols, backends, args.k)))
    if args.grid:
        print("wrote", grid(cols[0], args.grid_queries, args.k, args.grid))
    return 0


if __name__ == "__main__":
    sys.exit(main())
