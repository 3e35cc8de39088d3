""" "Did you mean" for a mistyped name (a dataset, an encoder, a label), with difflib."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_names(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The known names closest to ``name`` (case-insensitive; at most ``n``)."""
    names = list(known)
    lowered = {k.lower(): k for k in names}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[h] for h in hits]


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'tuxpaint'?"`` for a near miss, else ``""``.

    >>> did_you_mean("tuxpiant", ["tuxpaint", "openclipart"])
    "; did you mean 'tuxpaint'?"
    """
    hits = close_names(name, known)
    if not hits:
        return ""
    return "; did you mean " + " or ".join(repr(h) for h in hits) + "?"
