"""The index and the heads at scale: 1M x 256-d vectors shaped like real embeddings.

Index section, on one thread (FAISS and BLAS), with held-out queries scored against exact
search (recall@10):

* the IVF index (``flat`` codes by default; ``--encodings flat sq8`` adds SQ8) built by
  :func:`pictext.rank.build.build_ivf` from a memory-mapped ``.npy``, trained on a sample:
  build time, the index's bytes per 1M vectors, the build's peak extra RSS;
* similar queries: ``nprobe`` tuned (:func:`pictext.rank.tune.tune`) on validation queries
  for recall 0.95, then measured on other (test) queries: recall, p50, p99;
* divergent queries (farthest by cosine), three routes: the exact branch and bound over
  the IVF cells (:func:`pictext.rank.bound.bnb_search`), the same with a cell budget tuned
  on validation, and the rim pool (:func:`pictext.rank.ann.rim_candidates`) with its size
  tuned on validation; each measured on the test queries.

Head section: a fusion head (image input) trained from the memory-mapped file in streamed
minibatches, in a child process whose peak RSS (``VmHWM``) is the figure; accuracy on
held-out rows against chance.

The vectors: the cached efficientnet-lite0 embeddings of tuxpaint and openclipart
(``pictext embed`` fills the cache) in their top-``dim`` principal axes (uncentred, so
cosines keep the embeddings' geometry); each row is a random point on the segment between
a real embedding and one of its 8 nearest real neighbours, plus Gaussian noise of 0.05 times
each axis's spread. Without cached embeddings: ``bench/search.py``'s clustered generator.

    OMP_NUM_THREADS=1 python bench/scale_index.py                 # 1M x 256
    OMP_NUM_THREADS=1 python bench/scale_index.py --n 50000 --dim 64

``rows(args)`` returns the table's rows (``bench/scale.py`` prints them in its table).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from pictext.core.vectors import unit_rows
from pictext.rank.ann import AnnParams, rim_candidates, top_k_inner
from pictext.rank.bound import bnb_search
from pictext.rank.build import build_ivf
from pictext.rank.tune import Measured, doubling, measure, tune

K = 10
CHUNK = 65_536


# ---- vectors ---------------------------------------------------------------------------------
def _real_embeddings() -> np.ndarray | None:
    """The cached image embeddings of the demo datasets, or None when none are cached."""
    from pictext.data import load_dataset
    from pictext.store import embed_dataset

    parts = []
    for name in ("tuxpaint", "openclipart"):
        try:
            feats = embed_dataset(load_dataset(name), "efficientnet-lite0", None, progress=False)
        except (OSError, ValueError, ImportError):
            continue
        keep = feats.image_mask if feats.image_mask is not None else np.ones(feats.n, bool)
        parts.append(np.asarray(feats.image[keep], np.float32))
    return np.concatenate(parts) if parts else None


def write_vectors(path: Path, n: int, dim: int, seed: int = 0) -> tuple[str, np.ndarray]:
    """Write ``n`` unit rows to ``path`` (.npy) chunk by chunk; ``(what, labels)``."""
    rng = np.random.default_rng(seed)
    real = _real_embeddings()
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, dim))
    labels = np.empty(n, np.int64)
    if real is not None and len(real) > dim:
        mean = real.mean(axis=0)
        axes = np.linalg.svd(real - mean, full_matrices=False)[2][:dim]
        z = real @ axes.T  # uncentred coordinates: cosines as the real embeddings'
        spread = ((real - mean) @ axes.T).std(axis=0)
        near, _ = top_k_inner(unit_rows(z), unit_rows(z), 9)
        group = _kmeans_labels(unit_rows(z), 10, rng)
        what = f"real-like ({len(real)} cached embeddings, PCA {dim}, neighbour mixes + noise)"
        for s in range(0, n, CHUNK):
            m = min(CHUNK, n - s)
            i = rng.integers(0, len(z), m)
            j = near[i, rng.integers(1, 9, m)]
            t = rng.uniform(0, 1, (m, 1))
            rows = (1 - t) * z[i] + t * z[j] + 0.05 * spread * rng.normal(size=(m, dim))
            out[s : s + m] = unit_rows(rows)
            labels[s : s + m] = group[i]
    else:
        from search import synthetic  # bench/search.py

        what = "clustered synthetic (no cached embeddings)"
        for s in range(0, n, CHUNK):
            m = min(CHUNK, n - s)
            out[s : s + m] = unit_rows(synthetic(m, dim, seed=seed + s))
        labels[:] = 0
    out.flush()
    del out
    return what, labels


def _kmeans_labels(z: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(k, n_init=1, random_state=int(rng.integers(1 << 31))).fit_predict(z)


# ---- index -----------------------------------------------------------------------------------
def _index_bytes(index: Any) -> int:
    """Bytes the IVF index holds: its codes and ids per list, and the centroids."""
    import faiss

    ivf = faiss.extract_index_ivf(index)
    lists = ivf.invlists
    total = sum(lists.list_size(j) for j in range(ivf.nlist))
    return total * (lists.code_size + 8) + ivf.nlist * ivf.d * 4


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ``ru_maxrss``: after fork and exec that still
    counts the parent's resident pages at the fork."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _rss_anon_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _row(section: str, measure_: str, value: Any, target: str = "", met: bool | None = None):
    return {"section": section, "measure": measure_, "value": value, "target": target, "met": met}


def _search_rows(label: str, m: Measured, p99_target: float, extra: str = "") -> list[dict]:
    ok = m.recall >= 0.95 and m.p99_ms < p99_target
    setting = f" ({extra})" if extra else ""
    return [
        _row(
            "index", f"{label} recall@10{setting}", round(m.recall, 4), ">= 0.95", m.recall >= 0.95
        ),
        _row("index", f"{label} p50 ms", round(m.p50_ms, 3)),
        _row("index", f"{label} p99 ms", round(m.p99_ms, 3), f"< {p99_target:g}", ok),
    ]


def index_rows(args: argparse.Namespace, path: Path) -> list[dict]:
    """Build, tune and measure the IVF index over the vectors at ``path``."""
    x = np.load(path, mmap_mode="r")
    q_all = np.load(path.with_name("queries.npy"))
    n_val = args.queries // 3
    val, test = slice(0, n_val), slice(n_val, args.queries)
    out: list[dict] = []
    t = time.perf_counter()
    truth = {
        "similar": top_k_inner(x, q_all, K)[0],
        "divergent": top_k_inner(x, -q_all, K)[0],
    }
    print(f"# exact answers for {len(q_all)} queries x 2: {time.perf_counter() - t:.1f}s")
    for encoding in args.encodings:
        out += encoding_rows(args, x, q_all, truth, encoding)
    out += rim_rows(x, -q_all, truth["divergent"], val, test, args.rim_dirs, args.repeats)
    return out


def encoding_rows(
    args: argparse.Namespace,
    x: np.ndarray,
    q_all: np.ndarray,
    truth: dict[str, np.ndarray],
    encoding: str,
) -> list[dict]:
    """Build one IVF index (``encoding`` codes), tune and measure its searches."""
    n_val = args.queries // 3
    val, test = slice(0, n_val), slice(n_val, args.queries)
    out: list[dict] = []
    params = AnnParams(nlist=args.nlist, encoding=encoding, threads=1)
    before = _rss_anon_mb()
    t, cpu = time.perf_counter(), time.process_time()
    index, bounds = build_ivf(x, "cosine", params)
    build_s, build_cpu = time.perf_counter() - t, time.process_time() - cpu
    grew = _rss_anon_mb() - before
    per_million = _index_bytes(index) / 2**20 * 1e6 / len(x)
    tag = f"ivf-{encoding} nlist {index.nlist}"
    out += [
        _row("index", f"{tag}: build s, wall", round(build_s, 1)),
        _row("index", f"{tag}: build s, CPU (one thread)", round(build_cpu, 1)),
        _row("index", f"{tag}: index MiB per 1M vectors", round(per_million, 1)),
        _row("index", f"{tag}: RSS growth MiB (index + build)", round(grew, 1)),
    ]  # fmt: skip
    print(out[-4:])

    def at(nprobe: int):
        index.nprobe = nprobe
        return lambda v: index.search(v, K)[1]

    q = q_all
    r = args.repeats
    tuned = tune("nprobe", at, doubling(index.nlist), q[val], truth["similar"][val], 0.95, 5.0, r)
    m = measure(at(tuned.chosen.value), q[test], truth["similar"][test], tuned.chosen.value, r)
    out += _search_rows(f"{tag}: similar", m, 5.0, f"nprobe {m.value}, tuned on validation")
    print(out[-3:])
    if encoding != "flat" or args.skip_bound:
        return out
    p = -q_all
    n_exact = min(args.exact_queries, test.stop - test.start)
    exact_q = slice(test.start, test.start + n_exact)
    bnb = lambda v: bnb_search(index, bounds, v, K)[0]  # noqa: E731
    m = measure(bnb, p[exact_q], truth["divergent"][exact_q], repeats=r)
    out += _search_rows(f"{tag}: divergent branch-and-bound exact", m, 10.0,
                        f"{n_exact} test queries")  # fmt: skip
    print(out[-3:])

    def capped(cells: int):
        return lambda v: bnb_search(index, bounds, v, K, max_cells=cells)[0]

    tuned = tune("divergent_cells", capped, doubling(index.nlist, 8), p[val],
                 truth["divergent"][val], 0.95, 10.0, r)  # fmt: skip
    m = measure(capped(tuned.chosen.value), p[test], truth["divergent"][test],
                tuned.chosen.value, r)  # fmt: skip
    out += _search_rows(f"{tag}: divergent branch-and-bound, budget", m, 10.0,
                        f"{m.value} cells, tuned on validation")  # fmt: skip
    print(out[-3:])
    return out


def rim_rows(
    x: np.ndarray,
    p: np.ndarray,
    truth: np.ndarray,
    val: slice,
    test: slice,
    dirs: int,
    repeats: int = 1,
) -> list[dict]:
    """The rim pool: its size tuned on validation queries, measured on the test queries."""
    t, cpu = time.perf_counter(), time.process_time()
    cands = rim_candidates(x, "cosine", dirs, 400, seed=1)
    build_s, build_cpu = time.perf_counter() - t, time.process_time() - cpu

    def pool_at(m: int):
        pool = np.unique(cands[:, :m])
        rows = np.asarray(x[pool])
        return lambda v: pool[top_k_inner(rows, v, K)[0]]

    sizes = [12, 25, 50, 100, 200, 400]
    tuned = tune("rim_m", pool_at, sizes, p[val], truth[val], 0.95, 10.0, repeats)
    m = measure(pool_at(tuned.chosen.value), p[test], truth[test], tuned.chosen.value, repeats)
    size = len(np.unique(cands[:, : m.value]))
    return [
        _row("index", f"rim pool ({dirs} dirs, m up to 400): build s, wall", round(build_s, 1)),
        _row("index", "rim pool: build s, CPU (one thread)", round(build_cpu, 1)),
        _row("index", "rim pool rows", size),
        *_search_rows("rim pool: divergent", m, 10.0, f"m {m.value}, tuned on validation"),
    ]


# ---- head ------------------------------------------------------------------------------------
def head_child(path: Path, epochs: int) -> dict[str, Any]:
    """Train a fusion head from the memory-mapped rows (run in its own process)."""
    import torch

    from pictext.classify.fusion import FusionClassifier
    from pictext.store.features import Features

    torch.set_num_threads(1)
    x = np.load(path, mmap_mode="r")
    y = np.load(path.with_name("labels.npy"))
    n = len(x)
    train, val, test = slice(0, n - n // 10), slice(n - n // 10, n - n // 20), slice(n - n // 20, n)

    def feats(s: slice) -> Features:
        return Features([str(i) for i in range(s.start, s.stop)], image=x[s], image_encoder="e@1")

    classes = [str(c) for c in range(int(y.max()) + 1)]
    t = time.perf_counter()
    clf = FusionClassifier(inputs=("image",), epochs=epochs, batch_size=1024, patience=epochs)
    clf.fit(feats(train), y[train], feats(val), y[val], classes=classes)
    seconds = time.perf_counter() - t
    acc = float((clf.predict(feats(test)) == y[test]).mean())
    chance = float(np.bincount(y[train]).max() / (train.stop - train.start))
    peak = _peak_rss_mb()
    return {"rows": train.stop, "seconds": seconds, "accuracy": acc, "chance": chance,
            "peak_rss_mb": peak, "file_mb": os.path.getsize(path) / 2**20}  # fmt: skip


def head_rows(path: Path, epochs: int) -> list[dict]:
    """Run :func:`head_child` in a child process and turn its record into rows."""
    cmd = [sys.executable, __file__, "--head-child", str(path), "--head-epochs", str(epochs)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    return [
        _row("head", f"streamed fusion head: rows ({r['file_mb']:.0f} MiB memmap)", r["rows"]),
        _row("head", "streamed fusion head: peak RSS MiB", round(r["peak_rss_mb"]), "< 2048",
             r["peak_rss_mb"] < 2048),
        _row("head", f"streamed fusion head: train s ({epochs} epochs)", round(r["seconds"], 1)),
        _row("head", "streamed fusion head: test accuracy", round(r["accuracy"], 4),
             f"> chance {r['chance']:.3f}", r["accuracy"] > r["chance"]),
    ]  # fmt: skip


# ---- the table -------------------------------------------------------------------------------
def rows(args: argparse.Namespace) -> list[dict]:
    """Every row of the table (see the module docstring); writes only in a temporary folder."""
    args = replace_defaults(args)
    with tempfile.TemporaryDirectory(prefix="pictext-scale-") as tmp:
        path = Path(tmp) / "rows.npy"
        t = time.perf_counter()
        what, labels = write_vectors(path, args.n + args.queries, args.dim)
        _split_queries(path, args.queries, labels)
        print(f"# {what}: {args.n} x {args.dim} written in {time.perf_counter() - t:.1f}s")
        out = [
            _row("index", f"vectors: {what}", f"{args.n} x {args.dim}"),
            _row("index", f"latency: one thread, fastest of {args.repeats} runs per query", ""),
            _row("index", "machine load (1-min average) at the start", os.getloadavg()[0]),
        ]
        if not args.skip_index:
            out += index_rows(args, Path(tmp) / "coll.npy")
        if not args.skip_head:
            out += head_rows(Path(tmp) / "coll.npy", args.head_epochs)
    out.append(_row("index", "machine load (1-min average) at the end", os.getloadavg()[0]))
    return out


def _split_queries(path: Path, n_queries: int, labels: np.ndarray) -> None:
    """The last ``n_queries`` rows become queries.npy; the others coll.npy (chunk by chunk)."""
    x = np.load(path, mmap_mode="r")
    n = len(x) - n_queries
    np.save(path.with_name("queries.npy"), np.asarray(x[n:]))
    coll = np.lib.format.open_memmap(path.with_name("coll.npy"), "w+", np.float32, (n, x.shape[1]))
    for s in range(0, n, CHUNK):
        coll[s : s + CHUNK] = x[s : min(n, s + CHUNK)]
    coll.flush()
    del coll, x
    np.save(path.with_name("labels.npy"), labels[:n])
    path.unlink()


def replace_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with every option :func:`parser` defines (callers may pass a few)."""
    full = vars(parser().parse_args([]))
    return argparse.Namespace(**(full | vars(args)))


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="collection rows")
    ap.add_argument("--dim", type=int, default=256, help="vector width")
    ap.add_argument("--queries", type=int, default=450, help="held-out queries (1/3 validation)")
    ap.add_argument("--exact-queries", type=int, default=50, help="test queries, exact b&b")
    ap.add_argument("--nlist", type=int, default=0, help="IVF cells (0: 4 sqrt(n))")
    ap.add_argument("--encodings", nargs="+", default=["flat"], help="flat sq8 sq4 pq<M>")
    ap.add_argument("--rim-dirs", type=int, default=1024, help="rim pool: sampled rows")
    ap.add_argument("--repeats", type=int, default=3, help="runs per query, fastest timed")
    ap.add_argument("--head-epochs", type=int, default=2)
    ap.add_argument("--skip-index", action="store_true")
    ap.add_argument("--skip-head", action="store_true")
    ap.add_argument("--skip-bound", action="store_true", help="no branch-and-bound rows")
    ap.add_argument("--head-child", type=Path, help=argparse.SUPPRESS)
    return ap


def print_table(table: list[dict]) -> None:
    print(f"{'section':7s} {'measure':78s} {'value':>14s} {'target':>14s} met")
    for r in table:
        met = "" if r["met"] is None else ("yes" if r["met"] else "NO")
        print(f"{r['section']:7s} {r['measure']:78s} {r['value']!s:>14s} {r['target']:>14s} {met}")


def main() -> None:
    args = parser().parse_args()
    if args.head_child:
        print(json.dumps(head_child(args.head_child, args.head_epochs)))
        return
    table = rows(args)
    print()
    print_table(table)


if __name__ == "__main__":
    main()
