"""Workflows at 100k items and beyond: the audit, the index, browse and the map, timed.

Sections (``--only``, comma-separated; each prints rows of one table ``what | value``):

* ``audit``: ``audit_dataset`` on fashion-mnist (70k, real, cached efficientnet-lite0-int8
  embeddings: run ``pictext embed fashion-mnist`` first) with the k-NN graph the audit picks
  by size (FAISS IVF above :data:`pictext.audit.knn.EXACT_MAX`), label errors from neighbour
  votes; then on a ``--sample`` (20k) of it, agreement with the exact all-pairs functions
  (sklearn's brute-force radius and k-NN searches, what the audit ran before): recall of the
  duplicate pairs (same group, and joined by an edge), Spearman correlation of uniqueness,
  overlap of the flagged label errors; and the exact blockwise graph against IVF at that size.
* ``synth``: the audit's graph, duplicates, uniqueness and label votes on ``--synthetic`` rows
  (``bench/search.py``'s clustered generator, 256-d, 1% near-copies, 5% flipped labels).
* ``index``: the index ``SearchIndex.build`` picks by default at 70k and at ``--synthetic``:
  backend, build time, memory per row, similar and divergent latency and recall against exact.
* ``service``: ``/info`` and ``/browse`` p50/p99, ``/map`` payload, a box selection of
  50,000 points, server RSS (an in-process ASGI client).

The machine these figures come from is shared (2 cores, other jobs running): absolute times
are inflated; every run is niced and bounded. Example::

    nice -n 10 timeout 1800 python bench/scale_workflows.py --only audit,synth --synthetic 200000
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one BLAS / FAISS thread: paired timings
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

Row = tuple[str, str]


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fashion_features():
    """fashion-mnist and its cached image embeddings (no text: the collection has none)."""
    from pictext.core import defaults
    from pictext.data import load_dataset
    from pictext.store import embed_dataset

    ds = load_dataset("fashion-mnist")
    return ds, embed_dataset(ds, defaults.IMAGE_ENCODER, None, progress=False)


def _group_recall(a: np.ndarray, b: np.ndarray, group: np.ndarray) -> float:
    """Share of the pairs ``(a, b)`` whose two rows share a group."""
    if len(a) == 0:
        return float("nan")
    return float(np.mean((group[a] >= 0) & (group[a] == group[b])))


def _edge_recall(a: np.ndarray, b: np.ndarray, ga: np.ndarray, gb: np.ndarray) -> float:
    if len(a) == 0:
        return float("nan")
    want = set(zip(a.tolist(), b.tolist(), strict=True))
    got = set(zip(ga.tolist(), gb.tolist(), strict=True))
    return len(want & got) / len(want)


DUP_DISTANCES = (0.01, 0.05)  # the audit's threshold, and a looser one (more pairs)


def audit_rows(sample: int, crossover: tuple[int, ...] = (10_000, 20_000, 40_000)) -> list[Row]:
    """The audit on fashion-mnist, then agreement with all pairs on a sample."""
    from scipy.stats import spearmanr

    from pictext.audit import AuditConfig, audit_dataset
    from pictext.audit import duplicates as dup
    from pictext.audit.knn import knn_graph
    from pictext.audit.labels import find_label_issues
    from pictext.audit.outliers import uniqueness

    ds, feats = fashion_features()
    rows: list[Row] = []
    t = time.perf_counter()
    res = audit_dataset(ds, AuditConfig(text_encoder="none"), features=feats)
    wall = time.perf_counter() - t
    s = res.summary()
    rows += [
        (f"fashion-mnist {len(ds)}: audit wall (embeddings cached)", f"{wall:.1f} s"),
        ("  steps", ", ".join(f"{k} {v:.1f}s" for k, v in s["seconds"].items())),
        ("  methods", ", ".join(f"{k} {v}" for k, v in s["methods"].items())),
        ("  suspected label errors / checked", f"{s['suspected_errors']} / {s['checked']}"),
        ("  neighbour-vote accuracy", f"{s['oof_accuracy']:.3f}"),
        ("  duplicate groups (bytes / phash / embedding)",
         " / ".join(str(s["duplicates"][k]["groups"]) for k in ("bytes", "phash", "embedding"))),
        ("  peak RSS of the process", f"{_peak_mb():.0f} MiB"),
    ]  # fmt: skip

    rng = np.random.default_rng(0)
    for size in crossover:
        pick = np.sort(rng.choice(len(ds), size=min(size, len(ds)), replace=False))
        x = feats.image[pick]
        te = knn_graph(x, None, 10, method="exact").seconds
        ti = knn_graph(x, None, 10, method="ivf").seconds
        rows.append((f"graph k=10 on {len(pick)} rows: exact / ivf", f"{te:.1f} / {ti:.1f} s"))

    pick = np.sort(rng.choice(len(ds), size=min(sample, len(ds)), replace=False))
    x, ok = feats.image[pick], feats.image_mask[pick]
    t = time.perf_counter()
    all_pairs = {d: dup.embedding_pairs(x, ok, d) for d in DUP_DISTANCES}
    u_exact = uniqueness(x, ok, 5)
    t_all = time.perf_counter() - t
    exact = knn_graph(x, ok, 10, method="exact")
    ivf = knn_graph(x, ok, 10, method="ivf")
    labels = [ds.items[i].label for i in pick]
    classes = sorted(set(labels))
    y = np.array([classes.index(lab) for lab in labels])
    rows.append((f"sample {len(pick)}: all pairs (sklearn brute force, before)", f"{t_all:.1f} s"))
    flag_exact = set(find_label_issues(y, exact.vote_probs(y, len(classes))).ranked.tolist())
    for g in (exact, ivf):
        nb = g.recall(exact)
        rows += [
            (f"  {g.method} graph k=10: build + search", f"{g.seconds:.1f} s"),
            (f"  {g.method}: neighbours recall@10 vs exact", f"{nb:.4f}"),
        ]
        for d, (ea, eb) in all_pairs.items():
            ga, gb = g.pairs_within(d)
            group = dup.groups_from_pairs("e", len(pick), ga, gb, labels).group
            rows.append((
                f"  {g.method}: pairs within {d} ({len(ea)} all-pairs): same group / edge",
                f"{_group_recall(ea, eb, group):.4f} / {_edge_recall(ea, eb, ga, gb):.4f}",
            ))  # fmt: skip
        rho = spearmanr(g.mean_distance(5), u_exact, nan_policy="omit").statistic
        flags = set(find_label_issues(y, g.vote_probs(y, len(classes))).ranked.tolist())
        jac = len(flags & flag_exact) / max(1, len(flags | flag_exact))
        rows += [
            (f"  {g.method}: Spearman of uniqueness vs all pairs", f"{rho:.4f}"),
            (f"  {g.method}: label flags, Jaccard vs exact graph", f"{jac:.3f} ({len(flags)})"),
        ]
    return rows


def synthetic_collection(
    n: int, dim: int = 256, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clustered non-negative vectors as ``bench/search.py`` draws them (``|c + 0.6 N(0, 1)|``
    around 1000 centres), 1% near-copies of other rows, label = centre mod 10, 5% flipped:
    ``(x, y, flipped)``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(1000, dim)).astype(np.float32)
    cid = rng.integers(0, 1000, n)
    x = np.empty((n, dim), np.float32)
    for s in range(0, n, 100_000):
        m = min(100_000, n - s)
        x[s : s + m] = np.abs(centres[cid[s : s + m]] + 0.6 * rng.normal(size=(m, dim)))
    copies = rng.choice(n, size=n // 100, replace=False)
    src = rng.choice(n, size=len(copies))
    x[copies] = x[src] + 1e-3 * rng.normal(size=(len(copies), dim))
    cid[copies] = cid[src]
    y = cid % 10
    flip = rng.random(n) < 0.05
    y[flip] = (y[flip] + rng.integers(1, 10, flip.sum())) % 10
    return x, y, flip


def synth_rows(n: int) -> list[Row]:
    """The audit's graph and checks over ``n`` synthetic rows."""
    from pictext.audit import duplicates as dup
    from pictext.audit.knn import knn_graph
    from pictext.audit.labels import find_label_issues

    x, y, flip = synthetic_collection(n)
    rss0 = _rss_mb()
    t = time.perf_counter()
    g = knn_graph(x, None, 10)
    t_graph = time.perf_counter() - t
    t = time.perf_counter()
    a, b = g.pairs_within(0.01)
    groups = dup.groups_from_pairs("e", n, a, b, [None] * n)
    u = g.mean_distance(5)
    found = find_label_issues(y, g.vote_probs(y, 10))
    t_rest = time.perf_counter() - t
    hit = flip[found.ranked].sum()
    return [
        (f"synthetic {n}x{x.shape[1]}: k-NN graph ({g.method}, k=10)", f"{t_graph:.1f} s"),
        ("  duplicates + uniqueness + label votes + cleanlab", f"{t_rest:.1f} s"),
        ("  duplicate groups / label flags", f"{groups.n_groups} / {len(found.ranked)}"),
        ("  label flags: precision / recall of the 5% flipped",
         f"{hit / max(1, len(found.ranked)):.3f} / {hit / max(1, flip.sum()):.3f}"),
        ("  uniqueness finite", f"{np.isfinite(u).mean():.3f}"),
        ("  RSS before / after (vectors included)", f"{rss0:.0f} / {_rss_mb():.0f} MiB"),
    ]  # fmt: skip


def index_rows(n_synth: int) -> list[Row]:
    """The default index at 70k (real) and ``n_synth`` (synthetic): build, memory, recall."""
    from pictext.rank.index import SearchIndex
    from pictext.store.features import Features

    ds, feats = fashion_features()
    labels = [it.label for it in ds.items]
    x, y, _ = synthetic_collection(n_synth)
    ids = [str(i) for i in range(n_synth)]
    synth = Features(ids, x, np.ones(n_synth, bool), image_encoder="synth@1")
    out: list[Row] = []
    for name, f, labs in (("fashion-mnist", feats, labels), ("synthetic", synth, list(y))):
        rss = _rss_mb()
        t = time.perf_counter()
        ix = SearchIndex.build(f, labels=labs, dataset=name, with_text=False)
        build = time.perf_counter() - t
        m = ix.manifest.measured
        out += [
            (f"{name} {len(ix)}x{ix.vectors.shape[1]}: default backend, build",
             f"{ix.manifest.backend}, {build:.1f} s"),
            ("  RSS added by the index (vectors, unit rows, FAISS, rim pool)",
             f"{_rss_mb() - rss:.0f} MiB ({1024 * 1024 * (_rss_mb() - rss) / len(ix):.0f} B/row)"),
        ]  # fmt: skip
        if m is not None:
            out += [
                ("  similar recall@10 vs exact, p50 / p99",
                 f"{m['similar_recall']:.3f}, {m['similar_p50_ms']} / {m['similar_p99_ms']} ms"),
                (f"  divergent ({m['divergent_mode']}) distance / classes vs exact, p50 / p99",
                 f"{m['divergent_distance_ratio']:.3f} / {m['divergent_classes_ratio']:.3f}, "
                 f"{m['divergent_p50_ms']} / {m['divergent_p99_ms']} ms"),
            ]  # fmt: skip
        rows = np.random.default_rng(1).choice(len(ix), 50, replace=False)
        ms = []
        for r in rows:
            t = time.perf_counter()
            ix.search(ix.vectors[r : r + 1], 10, exact=True)
            ms.append(1000 * (time.perf_counter() - t))
        out.append(("  exact scan of the same index, p50 / p99",
                    f"{np.percentile(ms, 50):.1f} / {np.percentile(ms, 99):.1f} ms"))  # fmt: skip
        del ix
    return out


def _pct(ms: list[float]) -> str:
    return f"{np.percentile(ms, 50):.1f} / {np.percentile(ms, 99):.1f} ms"


BROWSE_QUERIES = [
    {}, {"sort": "uniqueness"}, {"sort": "error"}, {"label": "Bag"},
    {"label": "Bag", "sort": "error"}, {"has_text": "no", "sort": "uniqueness", "page": 30},
    {"page": 900},
]  # fmt: skip


def fashion_bundle(root: Path) -> Path:
    """A serve bundle of fashion-mnist: its default index and its audit (built once)."""
    import json

    from pictext.audit import AuditConfig, audit_dataset
    from pictext.rank.index import SearchIndex

    if (root / "audit").exists() and (root / "index").exists():
        return root
    ds, feats = fashion_features()
    root.mkdir(parents=True, exist_ok=True)
    (root / "bundle.json").write_text(json.dumps({"dataset": "fashion-mnist"}))
    labels = [it.label for it in ds.items]
    SearchIndex.build(feats, labels=labels, dataset="fashion-mnist", with_text=False).save(
        root / "index"
    )
    audit_dataset(ds, AuditConfig(text_encoder="none"), features=feats).save(root / "audit")
    return root


def service_rows(n_synth: int, bundle_dir: Path, browser: bool) -> list[Row]:
    """/info, /browse, /map and a box selection at 70k over HTTP (in-process client); the
    same views and map as library calls at ``n_synth`` items; the page in Chromium."""

    from fastapi.testclient import TestClient

    from pictext.service.app import create_app
    from pictext.service.config import ServiceConfig

    out: list[Row] = []
    root = fashion_bundle(bundle_dir)
    rss0 = _rss_mb()
    t = time.perf_counter()
    app = create_app(root, ServiceConfig())
    out += [
        ("fashion-mnist 70k bundle (index + audit): server start",
         f"{time.perf_counter() - t:.1f} s"),
        ("  server RSS before / after start (this process)", f"{rss0:.0f} / {_rss_mb():.0f} MiB"),
    ]  # fmt: skip
    with TestClient(app) as client:
        info, browse = [], []
        for _ in range(100):
            t = time.perf_counter()
            client.get("/info").raise_for_status()
            info.append(1000 * (time.perf_counter() - t))
        for _ in range(30):
            for q in BROWSE_QUERIES:
                t = time.perf_counter()
                client.post("/browse", data=q).raise_for_status()
                browse.append(1000 * (time.perf_counter() - t))
        body = client.get("/map")
        t = time.perf_counter()
        sel = client.post("/browse", data={"box": "-1,-1,2,2", "per_page": 48}).json()
        t_box = 1000 * (time.perf_counter() - t)
        zoom = client.get("/map", params={"x0": 0.4, "y0": 0.4, "x1": 0.6, "y1": 0.6}).json()
        out += [
            ("  /info p50 / p99 (100 calls)", _pct(info)),
            (f"  /browse p50 / p99 ({len(browse)} calls, filters and sorts)", _pct(browse)),
            ("  /map payload (whole map: sample / all)",
             f"{len(body.content) / 1e6:.2f} MB ({len(body.json()['points'])} of "
             f"{body.json()['total']} points, {body.json()['method']})"),
            ("  /map zoomed to 0.4..0.6: points / in view",
             f"{len(zoom['points'])} / {zoom['in_view']}"),
            ("  POST /browse with a box over the whole map",
             f"{sel['total']} items, {t_box:.0f} ms"),
            ("  server RSS after the requests", f"{_rss_mb():.0f} MiB"),
        ]  # fmt: skip
        if browser:
            from page_timing import page_rows

            out += page_rows(app)
    out += synthetic_service_rows(n_synth)
    return out


def synthetic_service_rows(n: int) -> list[Row]:
    """The browse views and the map of ``n`` synthetic items, as library calls (no HTTP)."""
    import json
    from types import SimpleNamespace

    from pictext.audit.browse import BrowseQuery
    from pictext.audit.mapview import MapView
    from pictext.audit.views import BrowseViews
    from pictext.data.item import Item

    rng = np.random.default_rng(0)
    rss0 = _rss_mb()
    labels = [f"c{c}" for c in rng.integers(0, 10, n)]
    items = [Item(f"s{r:07d}", label=labels[r]) for r in range(n)]
    audit = SimpleNamespace(
        ids=[it.id for it in items], uniqueness=rng.random(n), error_score=rng.random(n)
    )
    t = time.perf_counter()
    views = BrowseViews(items, audit)
    t_views = time.perf_counter() - t
    xy = rng.random((n, 2))
    t = time.perf_counter()
    mv = MapView([it.id for it in items], xy, labels, "pca")
    t_map = time.perf_counter() - t
    rss1 = _rss_mb()
    ms = []
    for _ in range(30):
        for q in BROWSE_QUERIES:
            q = {k: ("c3" if k == "label" else v) for k, v in q.items()}
            q["has_text"] = {"no": False}.get(q.get("has_text"))
            t = time.perf_counter()
            views.page(BrowseQuery(**q))
            ms.append(1000 * (time.perf_counter() - t))
    t = time.perf_counter()
    payload = json.dumps(mv.points())
    t_payload = 1000 * (time.perf_counter() - t)
    t = time.perf_counter()
    rows = mv.select((0.1, 0.1, 0.9, 0.9))
    t_sel = 1000 * (time.perf_counter() - t)
    t = time.perf_counter()
    page = views.page(BrowseQuery(sort="error"), rows=rows)
    t_page = 1000 * (time.perf_counter() - t)
    return [
        (f"synthetic {n:,} items: browse views / map index built",
         f"{t_views:.1f} / {t_map:.1f} s"),
        ("  RSS of items + views + map", f"{rss1 - rss0:.0f} MiB"),
        (f"  browse page p50 / p99 ({len(ms)} calls, library)", _pct(ms)),
        ("  /map payload (whole map) and its JSON encoding",
         f"{len(payload) / 1e6:.2f} MB, {t_payload:.0f} ms"),
        ("  box over 64% of the map: select + first page sorted by error",
         f"{len(rows):,} items ({page.total:,}), {t_sel:.0f} + {t_page:.0f} ms"),
    ]  # fmt: skip


SECTIONS = {
    "audit": "audit_rows", "synth": "synth_rows", "index": "index_rows", "service": "service_rows",
}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="audit,synth", help="sections: audit, synth")
    ap.add_argument("--sample", type=int, default=20_000, help="agreement sample (audit)")
    ap.add_argument("--synthetic", type=int, default=200_000, help="synthetic rows")
    ap.add_argument(
        "--bundle",
        default="/tmp/pictext-bench/fashion-bundle",
        help="where the fashion-mnist bundle is built (service)",
    )
    ap.add_argument("--no-browser", action="store_true", help="skip the Chromium timings")
    args = ap.parse_args()
    out: list[Row] = []
    for name in args.only.split(","):
        t = time.perf_counter()
        if name == "audit":
            out += audit_rows(args.sample)
        elif name == "synth":
            out += synth_rows(args.synthetic)
        elif name == "index":
            out += index_rows(args.synthetic)
        elif name == "service":
            out += service_rows(args.synthetic, Path(args.bundle), not args.no_browser)
        else:
            raise SystemExit(f"unknown section {name!r}; use {', '.join(SECTIONS)}")
        print(f"[{name} done in {time.perf_counter() - t:.0f} s]", file=sys.stderr, flush=True)
    width = max(len(w) for w, _ in out)
    print(f"| {'what':<{width}} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for what, value in out:
        print(f"| {what:<{width}} | {value} |")


if __name__ == "__main__":
    main()
