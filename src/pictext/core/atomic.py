"""Writing files and folders so that a crash leaves the old one or the new one, never half.

File-level helpers (:func:`atomic_write` and its text, JSON and ``.npy`` forms) write a
temporary file beside the target and rename it over. :func:`atomic_folder` does the same for
a whole folder (every saved model, index and captioner, see :mod:`pictext.core.artifacts`).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from pictext.core.defaults import STALE_TMP_SECONDS


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _file_mode() -> int:
    # mkstemp creates 0600 files; a finished file gets the mode open() would have given it.
    return 0o666 & ~_umask()


def atomic_write(path: str | Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it onto ``path``.

    The parent folder is created. On any error the temporary file is removed and ``path``
    keeps its old content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(
    folder: str | Path,
    *,
    pattern: str = "*.tmp",
    max_age_s: float = STALE_TMP_SECONDS,
    recursive: bool = False,
) -> list[Path]:
    """Remove the temporary files a killed writer left in ``folder``; returns them.

    Only files matching ``pattern`` (the ``.tmp`` files :func:`atomic_write` makes) whose
    last change is older than ``max_age_s`` are removed: a writer running now is younger.
    A file that vanishes meanwhile (another process cleaning) is skipped.
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    cutoff = time.time() - max_age_s
    removed = []
    for path in root.rglob(pattern) if recursive else root.glob(pattern):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:
            continue
    return removed


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    atomic_write(path, write)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple | set | frozenset):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON (NumPy scalars and arrays allowed) atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, default=_jsonable) + "\n")


def atomic_save_npy(path: str | Path, array: np.ndarray) -> None:
    """Save one array as ``.npy`` atomically (no pickles)."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())

    atomic_write(path, write)


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Write a folder so that a crash leaves the old folder or the new one, never half of one.

    Yields an empty temporary folder beside ``path`` to write into. When the block ends
    without error, every file in it is fsynced and it takes the place of ``path``: swapped in
    one atomic exchange where the OS has one (Linux ``renameat2``), else the old folder is
    moved aside and the new one renamed in; then the old folder is removed. On any error the
    temporary folder is removed and ``path`` keeps its old content.

    Raises:
        FileExistsError: ``path`` exists and is not a folder.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> with atomic_folder(root / "model") as tmp:
        ...     _ = (tmp / "config.json").write_text("{}")
        >>> sorted(p.name for p in root.iterdir())
        ['model']
    """
    final = Path(path)
    if final.exists() and not final.is_dir():
        raise FileExistsError(f"{final}: exists and is not a folder; cannot write a folder there")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        yield tmp
        _fsync_tree(tmp)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 folders
        _swap_in(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_in(new: Path, final: Path) -> None:
    """Put folder ``new`` at ``final``; an old ``final`` is removed once it is out of the way."""
    if not final.exists():
        os.rename(new, final)
    elif _exchange(new, final):
        shutil.rmtree(new)  # ``new`` now holds the old folder
    else:
        old = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".old"))
        os.rename(final, old)  # onto the empty folder just made: a unique name, no race
        try:
            os.rename(new, final)
        except OSError:
            os.rename(old, final)
            raise
        shutil.rmtree(old)
    _fsync_dir(final.parent)


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # not glibc >= 2.28, or not Linux
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # the file system cannot swap
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` to disk, so a rename exposes whole files."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":  # folders cannot be opened for fsync elsewhere
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
