"""Key -> (shard, row) look-up over a store's shards, kept current as shards are added.

A main sorted index covers the shards seen at the last full build; shards added since go to
a small second index, merged into the main one once it passes an eighth of it. A writer
that looks up between shards (an embedding run checking what is cached) then sorts only the
recent keys, not the whole store, each time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

KEY_DTYPE = np.dtype("S20")
MERGE_SHARE = 8  # the recent index is merged into the main one past 1/8 of its size


def in_sorted(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(pos, hit)``: where each key would sit in ``sorted_keys``, and whether it is there."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), np.int64), np.zeros(len(keys), bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return pos, sorted_keys[pos] == keys


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0, KEY_DTYPE), np.empty((0, 2), np.int64)


def _sorted(shards: Sequence[np.ndarray], first: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted keys of ``shards`` and their (shard number, row), shard numbers from ``first``."""
    if not shards:
        return _empty()
    keys = np.concatenate(list(shards))
    where = np.concatenate(
        [np.stack([np.full(len(k), first + i), np.arange(len(k))], 1) for i, k in enumerate(shards)]
    )
    order = np.argsort(keys, kind="stable")
    return keys[order], where[order]


class KeyIndex:
    """Where each key of a list of shards is (see the module docstring).

    Example:
        >>> index = KeyIndex()
        >>> shards = [np.array([b"b", b"a"], KEY_DTYPE)]
        >>> index.locate(shards, np.array([b"a", b"c"], KEY_DTYPE))[1].tolist()
        [True, False]
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next look-up builds the main index from all shards."""
        self._main, self._recent = _empty(), _empty()
        self._indexed = 0  # shards covered (main + recent)
        self._recent_shards = 0  # of them, the last ones, in the recent index

    def update(self, shards: Sequence[np.ndarray], *, full: bool = False) -> None:
        """Cover ``shards`` (the keys of every shard, in order; earlier ones unchanged)."""
        if self._indexed == len(shards) and not (full and len(self._recent[0])):
            return
        base = self._indexed - self._recent_shards
        recent = shards[base:]
        fresh = self._indexed == 0
        if fresh or full or sum(len(k) for k in recent) * MERGE_SHARE > len(self._main[0]):
            self._main, self._recent, self._recent_shards = _sorted(shards, 0), _empty(), 0
        else:
            self._recent, self._recent_shards = _sorted(recent, base), len(recent)
        self._indexed = len(shards)

    def count(self, shards: Sequence[np.ndarray]) -> int:
        """Keys in ``shards`` (a key stored twice counts twice)."""
        self.update(shards)
        return len(self._main[0]) + len(self._recent[0])

    def sorted_keys(self, shards: Sequence[np.ndarray]) -> np.ndarray:
        """Every key of ``shards``, sorted."""
        self.update(shards, full=True)
        return self._main[0]

    def locate(
        self, shards: Sequence[np.ndarray], keys: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(shard, row) of each key (meaningless where not found) and the found mask."""
        self.update(shards)
        keys = np.asarray(keys, dtype=KEY_DTYPE)
        where = np.zeros((len(keys), 2), np.int64)
        found = np.zeros(len(keys), bool)
        for sorted_keys, rows in (self._main, self._recent):
            pos, hit = in_sorted(sorted_keys, keys)
            hit &= ~found
            where[hit], found[hit] = rows[pos[hit]], True
        return where, found
