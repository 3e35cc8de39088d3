"""An append-only, crash-safe vector cache keyed by content hash.

Layout of one cache (one encoder name + version)::

    <root>/<NNNNNN>.vecs.npy   float32 [n, D]
    <root>/<NNNNNN>.keys.npy   |S20    [n]     (written last: a shard without keys is ignored)

Every file is written to a temporary name and renamed, so a killed run leaves either a
whole shard or nothing; a later run embeds only what no whole shard holds.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pictext.core.atomic import atomic_save_npy

KEY_DTYPE = np.dtype("S20")


@dataclass
class _Shard:
    keys: np.ndarray  # |S20 [n]
    vecs: np.ndarray  # float32 [n, D], memory-mapped


class VectorCache:
    """Vectors of one encoder, stored in shards and read back as memory maps.

    Example:
        >>> import tempfile
        >>> cache = VectorCache(tempfile.mkdtemp(), dim=2)
        >>> cache.put(np.array([b"k" * 20], dtype="S20"), np.ones((1, 2), np.float32))
        >>> vecs, found = cache.get(np.array([b"k" * 20, b"x" * 20], dtype="S20"))
        >>> found.tolist(), vecs[0].tolist()
        ([True, False], [1.0, 1.0])
    """

    def __init__(self, root: str | Path, dim: int) -> None:
        self.root = Path(root)
        self.dim = dim
        self.root.mkdir(parents=True, exist_ok=True)
        self._shards: list[_Shard] = []
        self._sorted_keys = np.empty(0, KEY_DTYPE)
        self._where = np.empty((0, 2), np.int64)  # (shard, row) per sorted key
        self.reload()

    def reload(self) -> None:
        """Re-read the shard list from disk (whole shards only)."""
        shards = []
        for keys_path in sorted(self.root.glob("*.keys.npy")):
            vecs_path = keys_path.with_name(keys_path.name.replace(".keys.", ".vecs."))
            try:
                keys = np.load(keys_path, allow_pickle=False)
                vecs = np.load(vecs_path, mmap_mode="r", allow_pickle=False)
            except FileNotFoundError:
                continue  # another process is compacting this shard away

            if vecs.shape != (len(keys), self.dim) or keys.dtype != KEY_DTYPE:
                raise ValueError(
                    f"cache shard {vecs_path} has shape {vecs.shape} and keys {keys.dtype}; "
                    f"expected ({len(keys)}, {self.dim}) and {KEY_DTYPE}. Delete the folder "
                    f"{self.root} to rebuild this cache."
                )
            shards.append(_Shard(keys, vecs))
        self._shards = shards
        self._reindex()

    def _reindex(self) -> None:
        """Rebuild the sorted key -> (shard, row) lookup from the shards in memory."""
        shards = self._shards
        if not shards:
            self._sorted_keys = np.empty(0, KEY_DTYPE)
            self._where = np.empty((0, 2), np.int64)
            return
        keys = np.concatenate([s.keys for s in shards])
        where = np.concatenate(
            [
                np.stack([np.full(len(s.keys), i), np.arange(len(s.keys))], 1)
                for i, s in enumerate(shards)
            ]
        )
        order = np.argsort(keys, kind="stable")
        self._sorted_keys, self._where = keys[order], where[order]

    def __len__(self) -> int:
        return len(self._sorted_keys)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Bool mask: which keys have a vector."""
        return self._locate(keys)[1]

    def _locate(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keys = np.asarray(keys, dtype=KEY_DTYPE)
        if len(self._sorted_keys) == 0:
            return np.zeros(len(keys), np.int64), np.zeros(len(keys), bool)
        pos = np.searchsorted(self._sorted_keys, keys)
        pos = np.minimum(pos, len(self._sorted_keys) - 1)
        return pos, self._sorted_keys[pos] == keys

    def get(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectors for ``keys`` (zeros where absent) and the mask of those found."""
        pos, found = self._locate(keys)
        out = np.zeros((len(pos), self.dim), np.float32)
        where = self._where[pos[found]] if found.any() else np.empty((0, 2), np.int64)
        dest = np.flatnonzero(found)
        for shard_id in np.unique(where[:, 0]):
            sel = where[:, 0] == shard_id
            rows = where[sel, 1]
            order = np.argsort(rows)  # sequential reads from the memory map
            out[dest[sel][order]] = self._shards[shard_id].vecs[rows[order]]
        return out, found

    def put(self, keys: np.ndarray, vecs: np.ndarray) -> None:
        """Append one shard (atomically) and make it visible."""
        keys = np.asarray(keys, dtype=KEY_DTYPE)
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if vecs.shape != (len(keys), self.dim):
            raise ValueError(f"vectors {vecs.shape} do not match {len(keys)} keys x dim {self.dim}")
        if not np.isfinite(vecs).all():
            raise ValueError("refusing to cache non-finite vectors")
        if len(keys) == 0:
            return
        with self._lock():
            stem = f"{self._next_id():06d}"
            atomic_save_npy(self.root / f"{stem}.vecs.npy", vecs)
            atomic_save_npy(self.root / f"{stem}.keys.npy", keys)  # last: it makes the shard whole
            # Only this shard is new to us: no need to re-read every shard from disk.
            mapped = np.load(self.root / f"{stem}.vecs.npy", mmap_mode="r", allow_pickle=False)
        self._shards.append(_Shard(keys, mapped))
        self._reindex()

    @contextmanager
    def _lock(self) -> Iterator[None]:
        # Two processes embedding into one cache must not pick the same shard number.
        with open(self.root / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _next_id(self) -> int:
        ids = [int(p.name.split(".")[0]) for p in self.root.glob("*.npy") if p.name[0].isdigit()]
        return max(ids, default=-1) + 1

    def compact(self) -> None:
        """Merge all shards into one (fewer files to open); safe to interrupt."""
        with self._lock():
            self.reload()
            if len(self._shards) <= 1:
                return
            old = sorted(self.root.glob("[0-9]*.npy"))
            keys = np.unique(self._sorted_keys)
            vecs, _ = self.get(keys)
            stem = f"{self._next_id():06d}"
            atomic_save_npy(self.root / f"{stem}.vecs.npy", vecs)
            atomic_save_npy(self.root / f"{stem}.keys.npy", keys)
            # The merged shard is whole before an old one goes, and an old shard loses its
            # keys file before its vectors, so a reader never sees keys without vectors.
            for path in sorted(old, key=lambda p: ".keys." not in p.name):
                path.unlink()
        self.reload()
