"""Embeddings of new inputs kept in memory, by content hash and encoder (an LRU).

What the service gives :func:`~pictext.store.embed.embed_items` for uploads: the page sends
one image to several routes, and each is embedded once; nothing is written to disk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pictext.core.lru import LruCache
from pictext.store.cache import KEY_DTYPE

if TYPE_CHECKING:
    from pictext.encoders.base import ImageEncoder, TextEncoder


class MemoryCache:
    """At most ``size`` vectors over all encoders; the least recently used go first.

    Thread-safe: concurrent requests share one cache.

    Example:
        >>> class Enc:
        ...     name, version, dim = "toy", "1", 2
        >>> view = MemoryCache(8).vectors(Enc())
        >>> view.put(np.array([b"k" * 20], "S20"), np.ones((1, 2), np.float32))
        >>> view.contains(np.array([b"k" * 20, b"x" * 20], "S20")).tolist()
        [True, False]
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = size  # most vectors kept (0 keeps none)
        self._lru = LruCache[np.ndarray](size)  # (encoder spec, content key) -> vector

    def __len__(self) -> int:
        return len(self._lru)

    def vectors(self, encoder: ImageEncoder | TextEncoder) -> MemoryVectors:
        """The part of the cache holding one encoder's (name + version) vectors."""
        return MemoryVectors(self, f"{encoder.name}@{encoder.version}", encoder.dim)

    def _get(self, spec: str, key: bytes) -> np.ndarray | None:
        return self._lru.get((spec, key))

    def _put(self, spec: str, keys: list[bytes], vecs: np.ndarray) -> None:
        if self.size <= 0:
            return
        for key, vec in zip(keys, vecs, strict=True):
            self._lru.put((spec, key), vec.copy())


class MemoryVectors:
    """One encoder's view of a :class:`MemoryCache`, shaped like a
    :class:`~pictext.store.cache.VectorCache` (``contains`` / ``get`` / ``put``)."""

    def __init__(self, cache: MemoryCache, spec: str, dim: int) -> None:
        self.cache = cache
        self.spec = spec  # "name@version" of the encoder
        self.dim = dim  # vector width

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Bool mask: which keys have a vector."""
        return self.get(keys)[1]

    def get(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectors for ``keys`` (zeros where absent) and the mask of those found."""
        keys = np.asarray(keys, KEY_DTYPE)
        out = np.zeros((len(keys), self.dim), np.float32)
        found = np.zeros(len(keys), bool)
        for i, key in enumerate(keys.tolist()):
            vec = self.cache._get(self.spec, key)
            if vec is not None:
                out[i], found[i] = vec, True
        return out, found

    def put(self, keys: np.ndarray, vecs: np.ndarray) -> None:
        """Keep ``vecs`` under ``keys`` (finite float32 ``[n, dim]``)."""
        vecs = np.ascontiguousarray(vecs, np.float32)
        keys = np.asarray(keys, KEY_DTYPE)
        if vecs.shape != (len(keys), self.dim):
            raise ValueError(f"vectors {vecs.shape} do not match {len(keys)} keys x dim {self.dim}")
        if not np.isfinite(vecs).all():
            raise ValueError("refusing to cache non-finite vectors")
        self.cache._put(self.spec, keys.tolist(), vecs)
