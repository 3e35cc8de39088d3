"""An append-only, crash-safe vector cache keyed by content hash.

Layout of one cache (one encoder name + version)::

    <root>/<NNNNNN>.vecs.npy   float32 or float16 [n, D] (read back as float32)
    <root>/<NNNNNN>.vecs.crc32 the CRC-32 of the vectors file, as 8 hex digits
    <root>/<NNNNNN>.keys.npy   |S20    [n]     (written last: a shard without keys is ignored)
    <root>/damaged/            shards found damaged, set aside (never deleted)
    <root>/manifest.json       the shards at the end of the last Ray run or compaction
                               (a record for ``pictext store info``; reads never need it)

Every file is written to a temporary name and renamed, so a killed run leaves either a
whole shard or nothing; a later run embeds only what no whole shard holds.

What can go wrong on disk, and what the cache does:

- a **damaged shard** (truncated vectors, an empty or corrupt keys file, wrong shapes): a
  warning names the file and the problem, the shard is moved to ``damaged/`` and its items
  are simply not found, so the caller computes them again; never fatal;
- **damaged vectors** (bytes changed inside a vectors file, its size unchanged): the first
  time a shard's vectors are wanted, its file is checked against its CRC-32 and every
  vector against NaN and inf; a shard that fails is set aside the same way, never served.
  Shards written before checksums existed get the NaN/inf check only;
- a **read-only** cache folder: :class:`~pictext.core.errors.StateError` naming the folder
  when the cache is opened, before any work;
- a **full** disk: a free-space check before a run's work (:meth:`VectorCache.reserve`),
  and ``ENOSPC`` on a write becomes the same one-line error; the shard being written is
  removed, finished shards stay;
- **stale files** of killed runs (temporary files, vectors without keys) are removed when
  the cache is opened.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from pictext.core.atomic import remove_stale_temporaries
from pictext.core.errors import StateError
from pictext.store.keyindex import KEY_DTYPE, KeyIndex

DAMAGED = "damaged"  # sub-folder where damaged shards are set aside
CHECKSUM = ".vecs.crc32"  # suffix of a shard's checksum file, beside ``.vecs.npy``

log = logging.getLogger("pictext.store")

_FULL = {errno.ENOSPC, errno.EDQUOT}
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


def cache_state_error(root: Path, err: OSError, doing: str) -> StateError:
    """The one-line error for a cache folder that cannot be written (read-only, full, ...)."""
    if err.errno in _FULL:
        what, hint = "is full", "free some space or set PICTEXT_CACHE to another folder"
    elif err.errno in _READ_ONLY:
        what, hint = "is not writable", "set PICTEXT_CACHE to a writable folder"
    else:
        what, hint = "cannot be written", "set PICTEXT_CACHE to a writable folder"
    reason = err.strerror or type(err).__name__
    return StateError(f"cache folder {root} {what} ({reason}); {doing}", item=str(root), hint=hint)


class _DamagedShardError(Exception):
    """A shard file that cannot be used: the file at fault and the problem."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(problem)
        self.path, self.problem = path, problem


VECTOR_DTYPES = ("float32", "float16")  # what a shard's vectors may be stored as


@dataclass
class Shard:
    """One whole shard on disk."""

    name: str  # the shard's stem, e.g. "000012"
    keys: np.ndarray  # |S20 [n]
    vecs: np.ndarray  # float32 or float16 [n, D], memory-mapped
    root: Path | None = None  # the folder it lives in (None: not checked against a file)


class VectorCache:
    """Vectors of one encoder, stored in shards and read back as memory maps.

    Opening the cache checks that its folder can be written, removes temporary files left
    by killed runs and sets damaged shards aside (see the module docstring). A read-only
    folder still serves the vectors it holds; :meth:`reserve` refuses, before the work, to
    add any (:class:`~pictext.core.errors.StateError`).

    Args:
        root: the folder of one encoder's shards.
        dim: the vectors' width.
        dtype: how :meth:`put` stores vectors (``float32`` or ``float16``); shards of either
            are read back as float32.
        read: read the shards' keys now (False: a writer that never looks up).

    Example:
        >>> import tempfile
        >>> cache = VectorCache(tempfile.mkdtemp(), dim=2)
        >>> cache.put(np.array([b"k" * 20], dtype="S20"), np.ones((1, 2), np.float32))
        >>> vecs, found = cache.get(np.array([b"k" * 20, b"x" * 20], dtype="S20"))
        >>> found.tolist(), vecs[0].tolist()
        ([True, False], [1.0, 1.0])
    """

    def __init__(
        self, root: str | Path, dim: int, dtype: str = "float32", *, read: bool = True
    ) -> None:
        if dtype not in VECTOR_DTYPES:
            raise ValueError(f"store dtype must be one of {', '.join(VECTOR_DTYPES)}, not {dtype}")
        self.root = Path(root)
        self.dim = dim
        self.dtype = np.dtype(dtype)  # what put() writes; shards of either dtype are read
        self.set_aside: list[str] = []  # one line per damaged shard set aside by this object
        self._shards: list[Shard] = []
        self._index = KeyIndex()  # key -> (shard, row), kept current as shards are added
        self._read_only: StateError | None = None  # why the folder takes no new files
        self._checked: set[str] = set()  # shards whose vectors passed the check
        self._open_for_writing()
        if read:  # a writer that never looks up (a Ray encoder actor) skips every keys file
            self.reload()

    def _open_for_writing(self) -> None:
        """Probe that the folder takes new files, and remove stale temporary files."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with self.lock():
                fd, probe = tempfile.mkstemp(dir=self.root, prefix=".probe.", suffix=".tmp")
                os.close(fd)
                os.unlink(probe)
                # Every writer writes under this lock: temporary files here now, and vectors
                # whose keys file never came, belong to runs that were killed.
                for path in self.root.glob(".*.tmp"):
                    path.unlink(missing_ok=True)
                # Parts are written outside the lock: only old ones are a killed writer's.
                remove_stale_temporaries(self.root, pattern=f".*{PART}")
                for path in [*self.root.glob("[0-9]*.vecs.npy"), *self.root.glob(f"*{CHECKSUM}")]:
                    stem = path.name.split(".")[0]
                    if not (self.root / f"{stem}.keys.npy").exists():
                        path.unlink(missing_ok=True)
        except OSError as err:
            if err.errno not in _READ_ONLY:
                raise cache_state_error(self.root, err, "nothing was embedded") from err
            # A shared read-only cache still answers for what it holds; the refusal comes
            # from reserve(), before any work, only when something would have to be added.
            self._read_only = cache_state_error(self.root, err, "nothing was embedded")

    def reload(self) -> None:
        """Re-read the shard list from disk (whole shards only; damaged ones set aside)."""
        shards = []
        for keys_path in sorted(self.root.glob("*.keys.npy")):
            vecs_path = keys_path.with_name(keys_path.name.replace(".keys.", ".vecs."))
            try:
                shard = self._read_shard(keys_path, vecs_path)
            except _DamagedShardError as bad:
                self._set_aside(keys_path, vecs_path, bad)
                continue
            if shard is not None:
                shards.append(shard)
        self._shards = shards
        self._reindex()

    def _read_shard(self, keys_path: Path, vecs_path: Path) -> Shard | None:
        """One whole shard; None when another process is compacting it away."""
        try:
            keys = np.load(keys_path, allow_pickle=False)
        except FileNotFoundError:
            return None  # compacted away since the listing
        except PermissionError as err:
            raise StateError(
                f"cannot read cache shard {keys_path}: {err.strerror}", item=str(keys_path)
            ) from err
        except (ValueError, EOFError, OSError) as err:
            raise _DamagedShardError(keys_path, f"unreadable keys file ({_reason(err)})") from None
        if keys.ndim != 1 or keys.dtype != KEY_DTYPE:
            problem = f"keys file holds {keys.dtype} {keys.shape}, expected {KEY_DTYPE} [n]"
            raise _DamagedShardError(keys_path, problem)
        try:
            vecs = np.load(vecs_path, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            if keys_path.exists():  # compaction removes the keys file first: this is damage
                raise _DamagedShardError(vecs_path, "vectors file is missing") from None
            return None
        except PermissionError as err:
            raise StateError(
                f"cannot read cache shard {vecs_path}: {err.strerror}", item=str(vecs_path)
            ) from err
        except (ValueError, EOFError, OSError) as err:
            raise _DamagedShardError(
                vecs_path, f"unreadable vectors file ({_reason(err)})"
            ) from None
        if vecs.shape != (len(keys), self.dim) or vecs.dtype.name not in VECTOR_DTYPES:
            expected = vecs.dtype.name if vecs.dtype.name in VECTOR_DTYPES else "float32"
            problem = (
                f"vectors file holds {vecs.dtype} {vecs.shape}, "
                f"expected {expected} ({len(keys)}, {self.dim})"
            )
            raise _DamagedShardError(vecs_path, problem)
        return Shard(keys_path.name.split(".")[0], keys, vecs, self.root)

    def _set_aside(self, keys_path: Path, vecs_path: Path, bad: _DamagedShardError) -> None:
        """Move a damaged shard to ``damaged/`` (keys first: it stops being whole) and warn."""
        dest = self.root / DAMAGED
        stamp = time.strftime("%Y%m%d-%H%M%S")
        try:
            dest.mkdir(exist_ok=True)
            crc_path = vecs_path.with_name(vecs_path.name.replace(".vecs.npy", CHECKSUM))
            for path in (keys_path, vecs_path, crc_path):
                with suppress(FileNotFoundError):  # set aside by another process already
                    os.replace(path, _unused(dest / f"{path.name}.{stamp}"))
        except OSError as err:
            raise cache_state_error(self.root, err, f"cannot set aside {bad.path}") from err
        line = (
            f"warning: damaged cache shard {bad.path}: {bad.problem}; "
            f"moved to {dest}, its items will be embedded again"
        )
        log.warning(line)
        self.set_aside.append(line)

    def _reindex(self) -> None:
        """Mark the key -> (shard, row) lookup stale; it is rebuilt on the next look-up."""
        self._index.reset()

    def _keys(self) -> list[np.ndarray]:
        return [s.keys for s in self._shards]

    def __len__(self) -> int:
        return self._index.count(self._keys())

    @property
    def shards(self) -> list[Shard]:
        """The whole shards, in name order; their vectors are read-only memory maps."""
        return list(self._shards)

    @property
    def sorted_keys(self) -> np.ndarray:
        """Every cached key, sorted (a snapshot to test membership with ``searchsorted``)."""
        return self._index.sorted_keys(self._keys())

    def iter_rows(self, rows: int = 65_536) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(keys, float32 vectors)`` in blocks of at most ``rows``, shard by shard.

        Memory stays at one block however large the store: the vectors are read from the
        memory maps block by block.
        """
        self.check_all()
        for shard in self._shards:
            for lo in range(0, len(shard.keys), rows):
                yield shard.keys[lo : lo + rows], np.asarray(shard.vecs[lo : lo + rows], np.float32)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Bool mask: which keys have a vector (in a shard that passed its check)."""
        return self._locate(keys)[1]

    def _locate(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(shard, row) of each key (meaningless where not found) and the found mask; the
        shards holding them are checked first, and damaged ones set aside."""
        while True:
            where, found = self._index.locate(self._keys(), keys)
            ids = np.unique(where[found][:, 0]) if found.any() else []
            bad = {int(i): p for i in ids if (p := self._check(self._shards[int(i)])) is not None}
            if not bad:
                return where, found
            self._drop(bad)

    def _check(self, shard: Shard) -> str | None:
        """The problem with a shard's vectors (None: sound), checked once per cache object."""
        if shard.root is None or shard.name in self._checked:
            return None
        problem = shard_problem(shard)
        if problem is None:
            self._checked.add(shard.name)
        return problem

    def _drop(self, bad: dict[int, str]) -> None:
        """Set aside the shards at these positions (with their problem) and forget them."""
        for i, problem in bad.items():
            vecs_path = self.root / f"{self._shards[i].name}.vecs.npy"
            keys_path = self.root / f"{self._shards[i].name}.keys.npy"
            self._set_aside(keys_path, vecs_path, _DamagedShardError(vecs_path, problem))
        self._shards = [s for i, s in enumerate(self._shards) if i not in bad]
        self._reindex()

    def verify(self) -> tuple[int, int, list[str]]:
        """Check every shard now: ``(shards checked, of them without a checksum, problems)``;
        damaged shards are set aside (one line each in the problems)."""
        self.reload()
        unchecked = sum(not _crc_path(s).exists() for s in self._shards if s.root is not None)
        total = len(self._shards) + len(self.set_aside)
        self.check_all()
        return total, unchecked, list(self.set_aside)

    def check_all(self) -> None:
        """Check every shard not checked yet; set aside the damaged ones."""
        bad = {i: p for i, s in enumerate(self._shards) if (p := self._check(s)) is not None}
        if bad:
            self._drop(bad)

    def get(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectors for ``keys`` (zeros where absent) and the mask of those found."""
        where, found = self._locate(keys)
        out = np.zeros((len(where), self.dim), np.float32)
        where = where[found]
        dest = np.flatnonzero(found)
        for shard_id in np.unique(where[:, 0]):
            sel = where[:, 0] == shard_id
            rows = where[sel, 1]
            order = np.argsort(rows)  # sequential reads from the memory map
            out[dest[sel][order]] = self._shards[shard_id].vecs[rows[order]]
        return out, found

    def reserve(self, n: int) -> None:
        """Refuse, before the work, when the disk cannot hold ``n`` more vectors.

        Raises:
            StateError: less free space than ``n`` vectors and their keys take.
        """
        if n and self._read_only is not None:
            raise self._read_only
        need = n * (self.dim * self.dtype.itemsize + KEY_DTYPE.itemsize) + 1024
        try:
            free = shutil.disk_usage(self.root).free
        except OSError:
            return  # no figure to check against; a failed write still says so
        if n and free < need:
            raise StateError(
                f"cache folder {self.root} is full: {n} vectors need {_size(need)}, "
                f"{_size(free)} free; nothing was embedded",
                item=str(self.root),
                hint="free some space or set PICTEXT_CACHE to another folder",
            )

    def put(self, keys: np.ndarray, vecs: np.ndarray) -> str | None:
        """Append one shard (atomically), in the cache's dtype, and make it visible.

        Returns:
            the new shard's name (None when there was nothing to write).

        Raises:
            StateError: the folder cannot be written (full, read-only); the shard is not
                left half-written.
        """
        keys = np.asarray(keys, dtype=KEY_DTYPE)
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if vecs.shape != (len(keys), self.dim):
            raise ValueError(f"vectors {vecs.shape} do not match {len(keys)} keys x dim {self.dim}")
        if not np.isfinite(vecs).all():
            raise ValueError("refusing to cache non-finite vectors")
        stored = vecs.astype(self.dtype, copy=False)
        if not np.isfinite(stored).all():
            raise ValueError(f"refusing to cache vectors beyond the range of {self.dtype}")
        if len(keys) == 0:
            return None
        parts: list[Path] = []
        try:
            # Written and synced outside the lock, so writers on many cores (or nodes) only
            # queue for the name and two renames.
            for array in (stored, keys):
                parts.append(_write_part(self.root, array))
            parts.append(_write_checksum_part(self.root, file_crc(parts[0])))
            with self.lock():
                stem = f"{self.next_id():06d}"
                vecs_path = self.root / f"{stem}.vecs.npy"
                crc_path = self.root / f"{stem}{CHECKSUM}"
                try:
                    os.replace(parts[0], vecs_path)
                    os.replace(parts[2], crc_path)
                    os.replace(parts[1], self.root / f"{stem}.keys.npy")  # last: shard whole
                except BaseException:
                    with suppress(OSError):  # no vectors without their keys left behind
                        vecs_path.unlink(missing_ok=True)
                        crc_path.unlink(missing_ok=True)
                    raise
                # Only this shard is new to us: no need to re-read every shard from disk.
                mapped = np.load(vecs_path, mmap_mode="r", allow_pickle=False)
        except OSError as err:
            doing = f"the {len(keys)} vectors being written were not kept"
            raise cache_state_error(self.root, err, doing) from err
        finally:
            for part in parts:
                with suppress(OSError):
                    part.unlink(missing_ok=True)
        self._shards.append(Shard(stem, keys, mapped, self.root))  # indexed on the next look-up
        self._checked.add(stem)  # written from finite vectors just now
        return stem

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder's writer lock: picking a shard name and writing it, compaction.

        Two processes embedding into one cache must not pick the same shard number.
        """
        with open(self.root / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def next_id(self) -> int:
        """The number of the next shard (call under :meth:`lock`)."""
        ids = [int(p.name.split(".")[0]) for p in self.root.glob("*.npy") if p.name[0].isdigit()]
        return max(ids, default=-1) + 1


PART = ".npy.part"  # suffix of a shard file being written, before its rename


def _write_part(root: Path, array: np.ndarray) -> Path:
    """``array`` saved and synced under a hidden name no reader or cleaner of ``*.tmp`` files
    takes for a shard file."""
    return _synced_part(root, lambda fh: np.save(fh, array, allow_pickle=False))


def _synced_part(root: Path, write: Callable[[BinaryIO], object]) -> Path:
    """A new hidden ``PART`` file in ``root`` that ``write`` fills, flushed and synced; on any
    failure the partial file is removed."""
    path = root / f".{uuid.uuid4().hex}{PART}"
    try:
        with open(path, "xb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def file_crc(path: Path) -> int:
    """The CRC-32 of a file's bytes, read in 1 MiB blocks."""
    crc = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            crc = zlib.crc32(block, crc)
    return crc


def write_checksum(vecs_path: Path) -> None:
    """Write (atomically) the checksum file of a vectors file, before its keys file."""
    part = _write_checksum_part(vecs_path.parent, file_crc(vecs_path))
    os.replace(part, vecs_path.with_name(vecs_path.name.replace(".vecs.npy", CHECKSUM)))


def _write_checksum_part(root: Path, crc: int) -> Path:
    return _synced_part(root, lambda fh: fh.write(f"{crc:08x}\n".encode("ascii")))


def _crc_path(shard: Shard) -> Path:
    return Path(shard.root or ".") / f"{shard.name}{CHECKSUM}"


def shard_problem(shard: Shard, rows: int = 65_536) -> str | None:
    """What is wrong with a shard's vectors: a checksum that does not match its file, or a
    NaN/inf value (None: sound). Shards without a checksum file get the value check only."""
    vecs_path = Path(shard.root or ".") / f"{shard.name}.vecs.npy"
    try:
        want = _crc_path(shard).read_text().strip()
        crc: int | None = int(want, 16)
    except FileNotFoundError:
        crc = None
    except (OSError, ValueError):
        return "unreadable checksum file"
    try:
        if crc is not None and file_crc(vecs_path) != crc:
            return "checksum mismatch (bytes changed inside the vectors file)"
    except OSError as err:
        return f"unreadable vectors file ({_reason(err)})"
    for lo in range(0, len(shard.keys), rows):
        block = np.asarray(shard.vecs[lo : lo + rows], np.float32)
        if not np.isfinite(block).all():
            row = lo + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
            return f"non-finite vector (NaN or inf) at row {row}"
    return None


def _reason(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _unused(path: Path) -> Path:
    """``path``, or ``path`` with a counter when that name is taken."""
    candidate, n = path, 1
    while candidate.exists():
        candidate, n = path.with_name(f"{path.name}.{n}"), n + 1
    return candidate


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
