"""Search benchmark: exact vs FAISS (HNSW, IVF) for similar and divergent queries.

Per backend: build time, index memory, single-query latency p50 / p99, and recall@10
against exact search, for nearest (similar) and farthest (divergent, nearest to -q)
queries on L2-normalised vectors. ``rim`` rows: divergent queries scanning the rim pool
(:func:`pictext.rank.ann.rim_pool`); their memory column is the pool's copy.

    python bench/search.py --dataset fashion-mnist           # real cached embeddings
    python bench/search.py --dataset fashion-mnist --head runs/fm/head
    python bench/search.py --synthetic 1000000 --dim 128      # clustered synthetic vectors

Queries are held out from the collection. Set OMP/BLAS threads before starting
(e.g. ``OMP_NUM_THREADS=1``); ``--threads`` sets FAISS's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from pictext.rank.ann import (
    AnnParams,
    augment_queries,
    augment_rows,
    rim_candidates,
    search_ann,
    set_search_params,
    top_k_inner,
)
from pictext.rank.build import build_ann


@dataclass
class Row:
    backend: str
    setting: str
    build_s: float
    memory_mb: float
    direction: str
    p50_ms: float
    p99_ms: float
    recall: float


def synthetic(n: int, dim: int, noise: float = 0.6, seed: int = 0) -> np.ndarray:
    """Clustered, non-negative vectors (like pooled CNN features): ``|c + noise * N(0, 1)|``
    around 1000 standard-normal centres ``c``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(1000, dim)).astype(np.float32)
    out = np.empty((n, dim), np.float32)
    step = 100_000
    for s in range(0, n, step):
        m = min(step, n - s)
        out[s : s + m] = np.abs(
            centres[rng.integers(0, 1000, m)] + noise * rng.normal(size=(m, dim))
        )
    return out


def real(dataset: str, head_dir: str | None) -> np.ndarray:
    from pictext.data import load_dataset
    from pictext.store import embed_dataset

    ds = load_dataset(dataset)
    feats = embed_dataset(ds, "efficientnet-lite0", None, progress=False)
    keep = feats.image_mask if feats.image_mask is not None else np.ones(feats.n, bool)
    if head_dir is None:
        return np.asarray(feats.image[keep], np.float32)
    from pictext.rank.head import RankingHead
    from pictext.rank.space import span_basis

    head = RankingHead.load(head_dir)
    z = head.transform(feats.subset(np.flatnonzero(keep)))
    basis = span_basis(head)
    return z @ basis if basis is not None else z


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _latencies(fn, queries: np.ndarray) -> tuple[np.ndarray, list[float]]:
    out, times = [], []
    for q in queries:
        t = time.perf_counter()
        out.append(fn(q[None]))
        times.append(1000 * (time.perf_counter() - t))
    return np.concatenate(out), times


def _recall(got: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(g) & set(t)) / len(t) for g, t in zip(got, truth, strict=True)]))


def _measure(
    backend: str,
    setting: str,
    build: float,
    memory: float,
    direction: str,
    fn: Callable[[np.ndarray], np.ndarray],
    queries: np.ndarray,
    truth: np.ndarray,
) -> Row:
    """Time ``fn`` query by query and score its answers against ``truth``."""
    got, times = _latencies(fn, queries)
    p50, p99 = np.percentile(times, [50, 99])
    return Row(
        backend, setting, build, memory, direction, float(p50), float(p99), _recall(got, truth)
    )


def _rim_rows(
    x_coll: np.ndarray,
    rows: np.ndarray,
    q: np.ndarray,
    truth: np.ndarray,
    k: int,
    rim: list[tuple[int, int]],
    seed: int,
) -> list[Row]:
    out = []
    for n_dirs in sorted({d for d, _ in rim}):
        ms = sorted(m for d, m in rim if d == n_dirs)
        t = time.perf_counter()
        cands = rim_candidates(x_coll, "cosine", n_dirs, ms[-1], seed)
        build = time.perf_counter() - t
        for m in ms:
            pool = np.unique(cands[:, :m])
            pool_rows = rows[pool]
            fn = lambda v, r=pool_rows, p=pool: p[top_k_inner(r, v, k)[0]]  # noqa: E731
            out.append(
                _measure(
                    "rim",
                    f"dirs{n_dirs} m{m} pool{len(pool)}",
                    build,
                    pool_rows.nbytes / 2**20,
                    "divergent",
                    fn,
                    q,
                    truth,
                )
            )
            print_rows(out[-1:], header=False)
    return out


def _ann_rows(
    rows: np.ndarray,
    queries: dict[str, np.ndarray],
    truth: dict[str, np.ndarray],
    k: int,
    backend: str,
    params: AnnParams,
    knobs: list[AnnParams],
    seed: int,
) -> list[Row]:
    out = []
    before = _rss_mb()
    t = time.perf_counter()
    index = build_ann(rows, backend, params, seed)
    build = time.perf_counter() - t
    memory = _rss_mb() - before
    for knob in knobs:
        set_search_params(index, knob)
        label = (
            f"M{params.hnsw_m} efC{params.ef_construction} ef{knob.ef_search}"
            if backend == "hnsw"
            else f"nlist{index.nlist} nprobe{knob.nprobe}"
        )
        for direction, q in queries.items():
            fn = lambda v, ix=index: search_ann(ix, v, k)[0]  # noqa: E731
            out.append(_measure(backend, label, build, memory, direction, fn, q, truth[direction]))
        print_rows(out[-2:], header=False)
    return out


def run(
    x: np.ndarray,
    n_queries: int,
    k: int,
    builds: list[tuple[str, AnnParams, list[AnnParams]]],
    rim: list[tuple[int, int]],
    seed: int = 0,
) -> list[Row]:
    """Exact first, then the rim pools, then each FAISS build with its query-time settings."""
    rng = np.random.default_rng(seed)
    held = rng.choice(len(x), size=n_queries, replace=False)
    mask = np.ones(len(x), bool)
    mask[held] = False
    x_coll = x[mask]
    rows = augment_rows(x_coll, "cosine")
    queries = {
        d: augment_queries(x[held], "cosine", d == "divergent") for d in ("similar", "divergent")
    }
    truth = {d: top_k_inner(rows, q, k)[0] for d, q in queries.items()}
    out = [
        _measure(
            "exact",
            "numpy",
            0.0,
            rows.nbytes / 2**20,
            d,
            lambda v: top_k_inner(rows, v, k)[0],
            q,
            truth[d],
        )
        for d, q in queries.items()
    ]
    print_rows(out)
    out += _rim_rows(x_coll, rows, queries["divergent"], truth["divergent"], k, rim, seed)
    for backend, params, knobs in builds:
        out += _ann_rows(rows, queries, truth, k, backend, params, knobs, seed)
    return out


def print_rows(rows: list[Row], header: bool = True) -> None:
    if header:
        print(
            f"{'backend':8s} {'setting':22s} {'build_s':>8s} {'mem_MB':>8s} {'query':10s} "
            f"{'p50_ms':>8s} {'p99_ms':>8s} {'recall@10':>9s}"
        )
    for r in rows:
        print(
            f"{r.backend:8s} {r.setting:22s} {r.build_s:8.1f} {r.memory_mb:8.0f} {r.direction:10s} "
            f"{r.p50_ms:8.3f} {r.p99_ms:8.3f} {r.recall:9.4f}"
        )
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", help="dataset whose cached image embeddings to index")
    ap.add_argument("--head", help="ranking head dir: index the head space instead of raw")
    ap.add_argument("--synthetic", type=int, default=0, help="N synthetic vectors instead")
    ap.add_argument("--dim", type=int, default=128, help="synthetic width")
    ap.add_argument("--noise", type=float, default=0.6, help="synthetic within-cluster spread")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1, help="FAISS threads")
    ap.add_argument("--hnsw-m", type=int, default=32)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--ef-search", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--nprobe", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--rim-dirs", type=int, nargs="+", default=[1024])
    ap.add_argument("--rim-m", type=int, nargs="+", default=[100])
    ap.add_argument("--skip", nargs="*", default=[], help="backends to skip: hnsw ivf")
    args = ap.parse_args()
    if args.synthetic:
        x = synthetic(args.synthetic, args.dim, args.noise)
        what = f"synthetic {args.synthetic}x{args.dim} noise {args.noise}"
    elif args.dataset:
        x = real(args.dataset, args.head)
        what = f"{args.dataset} {'head' if args.head else 'raw'} {x.shape[0]}x{x.shape[1]}"
    else:
        ap.error("give --dataset or --synthetic")
    print(f"# {what}, {args.queries} held-out queries, k={args.k}, threads={args.threads}")
    builds = []
    if "hnsw" not in args.skip:
        p = AnnParams(
            hnsw_m=args.hnsw_m, ef_construction=args.ef_construction, threads=args.threads
        )
        builds.append(("hnsw", p, [replace(p, ef_search=ef) for ef in args.ef_search]))
    if "ivf" not in args.skip:
        p = AnnParams(threads=args.threads)
        builds.append(("ivf", p, [replace(p, nprobe=n) for n in args.nprobe]))
    rim = [(d, m) for d in args.rim_dirs for m in args.rim_m]
    rows = run(x, args.queries, args.k, builds, rim)
    print("\n# summary")
    print_rows(rows)


if __name__ == "__main__":
    main()
