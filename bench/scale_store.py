"""bench/scale.py's ``store`` section: a synthetic store of N rows, float32 against float16.

Each dtype runs in a child process of its own (``python bench/scale_store.py --child ...``)
so its peak RSS is its own. The child writes N rows in shards of ``SHARD_ROWS`` (as an
embedding run does), opens the store again, compacts it to ``COMPACT_ROWS``-row shards,
then reads: random look-ups and a full scan through the memory maps.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pictext.core.defaults import COMPACT_ROWS, SHARD_ROWS
from pictext.store.cache import KEY_DTYPE, VectorCache
from pictext.store.compact import compact

LOOKUPS = 100_000  # random keys read back


def _anon_mib() -> float:
    """Anonymous (not file-backed) resident memory now, MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(rows: int, dim: int, dtype: str, folder: Path) -> dict:
    """Write, reopen, compact and read one store; the figures as a dict."""
    rng = np.random.default_rng(0)
    cache = VectorCache(folder, dim, dtype)
    anon, start = 0.0, time.perf_counter()
    for lo in range(0, rows, SHARD_ROWS):
        n = min(SHARD_ROWS, rows - lo)
        keys = np.array([f"{i:020d}".encode() for i in range(lo, lo + n)], KEY_DTYPE)
        cache.put(keys, rng.standard_normal((n, dim), dtype=np.float32))
    write_s = time.perf_counter() - start
    anon = max(anon, _anon_mib())
    start = time.perf_counter()
    cache = VectorCache(folder, dim, dtype)
    open_small_s = time.perf_counter() - start
    size = sum(p.stat().st_size for p in folder.glob("[0-9]*.npy"))
    shards_before = len(cache.shards)
    start = time.perf_counter()
    done = compact(cache, target_rows=COMPACT_ROWS)
    compact_s = time.perf_counter() - start
    anon = max(anon, _anon_mib())
    start = time.perf_counter()
    cache = VectorCache(folder, dim, dtype)
    open_s = time.perf_counter() - start
    want = np.array([f"{i:020d}".encode() for i in rng.integers(0, rows, LOOKUPS)], KEY_DTYPE)
    start = time.perf_counter()
    _, found = cache.get(want)
    lookup_s = time.perf_counter() - start
    anon = max(anon, _anon_mib())
    start, total, scanned = time.perf_counter(), 0.0, 0
    for _, vecs in cache.iter_rows():
        total += float(vecs[:, 0].sum())
        scanned += len(vecs)
        anon = max(anon, _anon_mib())
    scan_s = time.perf_counter() - start
    return {
        "rows": rows, "dim": dim, "dtype": dtype, "bytes": size,
        "write rows/s": rows / write_s, "write MB/s": size / write_s / 1e6,
        "shards written": shards_before, "open s (small shards)": open_small_s,
        "compact s": compact_s, "shards after compaction": done.shards_after,
        "open s (compacted)": open_s, "lookups/s": LOOKUPS / lookup_s,
        "all found": bool(found.all()), "scan rows/s": scanned / scan_s,
        "peak RSS MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak anon MiB": anon,
    }  # fmt: skip


def measure(rows: int, dim: int) -> dict[str, dict]:
    """Run the child once per dtype (fresh folders); their figures by dtype."""
    out = {}
    for dtype in ("float32", "float16"):
        with tempfile.TemporaryDirectory(prefix="pictext-store-") as tmp:
            cmd = [sys.executable, __file__, "--child", "--rows", str(rows), "--dim", str(dim),
                   "--dtype", dtype, "--folder", tmp]  # fmt: skip
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            out[dtype] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def rows(args: argparse.Namespace) -> list[dict]:
    """The table rows of the store section."""
    got = measure(args.store_rows, args.store_dim)
    f32, f16 = got["float32"], got["float16"]
    n, dim = args.store_rows, args.store_dim
    tag = f"{n:,} x {dim}"
    out = [
        {"measure": f"{tag} written in {SHARD_ROWS}-row shards, fp32 / fp16",
         "value": f"{f32['write rows/s']:,.0f} / {f16['write rows/s']:,.0f} rows/s"},
        {"measure": "bytes per row on disk, fp32 / fp16 (vectors + 20-byte key)",
         "value": f"{f32['bytes'] / n:.1f} / {f16['bytes'] / n:.1f}"},
        {"measure": "store size fp16 / fp32", "value": f"{f16['bytes'] / f32['bytes']:.3f}",
         "target": "~0.5", "met": f16["bytes"] / f32["bytes"] < 0.55},
        {"measure": f"compaction to {COMPACT_ROWS:,}-row shards, fp32 / fp16",
         "value": f"{f32['shards written']} -> {f32['shards after compaction']} shards, "
                  f"{f32['compact s']:.1f} / {f16['compact s']:.1f} s"},
        {"measure": "open the store, small shards / compacted (fp32)",
         "value": f"{f32['open s (small shards)']:.2f} / {f32['open s (compacted)']:.2f} s"},
        {"measure": f"random look-ups ({LOOKUPS:,} keys), fp32 / fp16",
         "value": f"{f32['lookups/s']:,.0f} / {f16['lookups/s']:,.0f} rows/s",
         "target": "all found", "met": f32["all found"] and f16["all found"]},
        {"measure": "full scan through the memory maps, fp32 / fp16",
         "value": f"{f32['scan rows/s']:,.0f} / {f16['scan rows/s']:,.0f} rows/s"},
        {"measure": "peak RSS, fp32 / fp16 (file pages of the maps included)",
         "value": f"{f32['peak RSS MiB']:,.0f} / {f16['peak RSS MiB']:,.0f} MiB"},
        {"measure": "peak anonymous memory, fp32 / fp16",
         "value": f"{f32['peak anon MiB']:,.0f} / {f16['peak anon MiB']:,.0f} MiB",
         "target": "< store size", "met": f32["peak anon MiB"] * 2**20 < f32["bytes"]},
    ]  # fmt: skip
    return [{"section": "store", "target": "", "met": None, **r} for r in out]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--folder", default="")
    a = parser.parse_args()
    print(json.dumps(child(a.rows, a.dim, a.dtype, Path(a.folder))))
