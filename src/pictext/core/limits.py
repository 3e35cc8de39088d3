"""Checks of request sizes against the limits of :mod:`pictext.core.defaults`, made before
any work: the library calls them, so the CLI and the service refuse the same requests."""

from __future__ import annotations

from numbers import Integral

from pictext.core.defaults import MAX_K
from pictext.core.errors import UsageError


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
