"""A small thread-safe LRU cache (decoded uploads, thumbnails, upload embeddings)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LruCache(Generic[V]):
    """At most ``size`` entries; the least recently used one goes first.

    Example:
        >>> c = LruCache[int](2)
        >>> c.put("a", 1); c.put("b", 2); c.put("c", 3)
        >>> c.get("a"), c.get("c")
        (None, 3)
    """

    def __init__(self, size: int) -> None:
        self.size = size  # most entries kept (0 disables the cache)
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            if key not in self._data:
                return None
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key: Hashable, value: V) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)
