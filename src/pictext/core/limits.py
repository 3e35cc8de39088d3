"""Checks of request sizes against the limits of :mod:`pictext.core.defaults`, made before
any work: the library calls them, so the CLI and the service refuse the same requests."""

from __future__ import annotations

from numbers import Integral
from pathlib import Path

from pictext.core.defaults import MAX_K
from pictext.core.errors import BudgetError, UsageError


class FileTooLargeError(BudgetError, OSError):
    """A file over its byte budget, found by ``stat`` before reading it."""

    def __init__(self, path: Path, size: int, limit: int, what: str) -> None:
        self.size, self.limit = size, limit
        self.problem = f"is {size:,} bytes; the limit for {what} is {limit:,}"
        super().__init__(f"{path}: {what} {self.problem}", item=str(path))


def read_bounded(path: str | Path, limit: int, what: str = "this file") -> bytes:
    """A file's bytes, its size checked with ``stat`` first: nothing over ``limit`` is read.

    A file that grows while read (or a special file with no size) is cut at ``limit + 1``
    bytes and refused the same way.

    Raises:
        FileTooLargeError: over ``limit`` bytes (an :class:`OSError` and a
            :class:`~pictext.core.errors.BudgetError`).
        OSError: it cannot be read (missing, a folder, no permission).
    """
    path = Path(path)
    size = path.stat().st_size
    if size > limit:
        raise FileTooLargeError(path, size, limit, what)
    with path.open("rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise FileTooLargeError(path, len(data), limit, what)
    return data


def check_k(k: int, *, limit: int = MAX_K, name: str = "k") -> int:
    """``k`` when it is a result count between 1 and ``limit``; else a :class:`UsageError`.

    Args:
        k: results asked for.
        limit: the most results one query may ask for.
        name: how the caller spells it (``-k`` on the command line).

    Example:
        >>> check_k(5)
        5
        >>> check_k(0, name="-k")
        Traceback (most recent call last):
        ...
        pictext.core.errors.UsageError: -k must be between 1 and 100, got 0
    """
    if isinstance(k, bool) or not isinstance(k, Integral) or not 1 <= k <= limit:
        raise UsageError(f"{name} must be between 1 and {limit}, got {k!r}", item=name)
    return int(k)
