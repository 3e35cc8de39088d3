"""Keeping a large vector store healthy: compaction of small shards, the manifest, the figures.

An embedding run writes one shard per :data:`~pictext.core.defaults.SHARD_ROWS` images, so
16M images make ~31k shards; opening the store then means opening ~31k files.
:func:`compact` merges small shards into shards of about
:data:`~pictext.core.defaults.COMPACT_ROWS` rows, streamed through a memory map so memory
stays at one shard's worth however large the store; it can also rewrite the vectors in
float16 (half the bytes). :func:`store_info` gives what ``pictext store info`` prints.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pictext.core.atomic import atomic_save_npy, atomic_write_json
from pictext.store.cache import (
    CHECKSUM,
    KEY_DTYPE,
    Shard,
    VectorCache,
    cache_state_error,
    write_checksum,
)

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "pictext-vector-store"


@dataclass
class CompactReport:
    """What one compaction did."""

    shards_before: int  # whole shards before
    shards_after: int  # whole shards after
    rows: int  # distinct keys (unchanged by compaction)
    merged: int  # shards merged or rewritten


def _groups(shards: list[Shard], target_rows: int | None, dtype: np.dtype) -> list[list[Shard]]:
    """Runs of consecutive shards to merge: small ones up to ``target_rows``, and any shard in
    another dtype (rewritten alone when it is not small)."""
    if target_rows is None:
        return [shards] if len(shards) > 1 or any(s.vecs.dtype != dtype for s in shards) else []
    groups: list[list[Shard]] = []
    run: list[Shard] = []
    for shard in shards:
        if len(shard.keys) >= target_rows:
            if shard.vecs.dtype != dtype:
                groups.append([shard])
            continue
        run.append(shard)
        if sum(len(s.keys) for s in run) >= target_rows:
            groups.append(run)
            run = []
    if len(run) > 1 or (run and run[0].vecs.dtype != dtype):
        groups.append(run)
    return groups


def _merge(cache: VectorCache, group: list[Shard], dtype: np.dtype) -> None:
    """Write ``group`` as one new shard (each key once), then remove its shards."""
    keys = np.concatenate([s.keys for s in group])
    _, first = np.unique(keys, return_index=True)
    keep = np.zeros(len(keys), bool)
    keep[first] = True
    stem = f"{cache.next_id():06d}"
    vecs_path = cache.root / f"{stem}.vecs.npy"
    fd, tmp = tempfile.mkstemp(dir=cache.root, prefix=f".{vecs_path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        out = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=dtype, shape=(int(keep.sum()), cache.dim)
        )
        at, lo = 0, 0
        for shard in group:  # one shard in memory at a time
            sel = keep[lo : lo + len(shard.keys)]
            n = int(sel.sum())
            out[at : at + n] = shard.vecs[sel]
            at, lo = at + n, lo + len(shard.keys)
        out.flush()
        del out
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, vecs_path)
        write_checksum(vecs_path)
        atomic_save_npy(cache.root / f"{stem}.keys.npy", keys[keep])  # last: the shard is whole
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        vecs_path.unlink(missing_ok=True)
        (cache.root / f"{stem}{CHECKSUM}").unlink(missing_ok=True)
        raise
    # The merged shard is whole before an old one goes, and an old shard loses its keys file
    # before its vectors, so a reader never sees keys without vectors.
    for shard in group:
        for part in (".keys.npy", ".vecs.npy", CHECKSUM):
            (cache.root / f"{shard.name}{part}").unlink(missing_ok=True)


def compact(
    cache: VectorCache, *, target_rows: int | None = None, dtype: str | None = None
) -> CompactReport:
    """Merge small shards of ``cache`` (and rewrite those in another dtype); safe to interrupt.

    A kill leaves either the old shards or the merged one plus some old ones (their keys are
    then found twice, with the same vectors; the next compaction merges them away).

    Args:
        cache: the store of one encoder.
        target_rows: merge shards under this many rows into shards of about this many;
            None merges every shard into one.
        dtype: rewrite in this dtype (``float32`` or ``float16``); None keeps the cache's.

    Raises:
        StateError: the folder cannot be written.
    """
    want = np.dtype(dtype) if dtype is not None else cache.dtype
    try:
        with cache.lock():
            cache.reload()
            cache.check_all()  # a damaged shard is set aside, never merged into a sound one
            before = cache.shards
            groups = _groups(before, target_rows, want)
            for group in groups:
                _merge(cache, group, want)
            cache.reload()
            write_manifest(cache)
    except OSError as err:
        raise cache_state_error(cache.root, err, "compaction stopped; the store is whole") from err
    return CompactReport(len(before), len(cache.shards), len(np.unique(cache.sorted_keys)),
                         sum(len(g) for g in groups))  # fmt: skip


def write_manifest(cache: VectorCache, **extra: Any) -> Path:
    """Record the cache's whole shards in ``manifest.json`` (written atomically)."""
    shards = [
        {"name": s.name, "rows": len(s.keys), "dtype": s.vecs.dtype.name} for s in cache.shards
    ]
    path = cache.root / MANIFEST
    atomic_write_json(
        path,
        {"format": MANIFEST_FORMAT, "version": 1, "dim": cache.dim,
         "rows": sum(s["rows"] for s in shards), "shards": shards, **extra},
    )  # fmt: skip
    return path


def read_manifest(root: Path) -> dict[str, Any] | None:
    """The manifest of a cache folder, None when there is none (or it is unreadable)."""
    try:
        got = json.loads((root / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return got if isinstance(got, dict) and got.get("format") == MANIFEST_FORMAT else None


def store_info(cache: VectorCache, small_rows: int) -> dict[str, Any]:
    """Figures of one encoder's store: shards, rows, bytes, dtypes, small shards, manifest."""
    shards = cache.shards
    rows = [len(s.keys) for s in shards]
    files = [cache.root / f"{s.name}.{part}.npy" for s in shards for part in ("keys", "vecs")]
    size = sum(p.stat().st_size for p in files if p.exists())
    dtypes: dict[str, int] = {}
    for s in shards:
        dtypes[s.vecs.dtype.name] = dtypes.get(s.vecs.dtype.name, 0) + len(s.keys)
    manifest = read_manifest(cache.root)
    listed = {s["name"] for s in manifest["shards"]} if manifest else set()
    return {
        "folder": str(cache.root),
        "dim": cache.dim,
        "shards": len(shards),
        "rows": sum(rows),
        "distinct keys": len(np.unique(cache.sorted_keys)),
        "bytes": size,
        "bytes per row": size / sum(rows) if rows else 0.0,
        "rows by dtype": dtypes,
        f"small shards (< {small_rows} rows)": sum(r < small_rows for r in rows),
        "manifest": "none" if manifest is None else f"{len(listed)} shards listed",
        "shards not in the manifest": sum(s.name not in listed for s in shards),
        "damaged shards set aside": len(cache.set_aside),
        "key bytes per row": KEY_DTYPE.itemsize,
    }


def open_folder(folder: Path) -> VectorCache:
    """A store folder opened with the width its shards have (read from the first one)."""
    first = next(iter(sorted(folder.glob("[0-9]*.vecs.npy"))), None)
    dim = np.load(first, mmap_mode="r").shape[1] if first is not None else 0
    return VectorCache(folder, dim)
