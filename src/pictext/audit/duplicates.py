"""Near-duplicates three ways, and the groups whose items disagree on their label.

- ``bytes``: the same image file (SHA-1 of its bytes,
  :func:`~pictext.data.images.image_content_key`);
- ``phash``: the same picture once decoded (a 64-bit perceptual hash, ``imagehash.phash``,
  at most ``phash_bits`` bits apart): re-encoded, resized or differently written files;
- ``embedding``: image embeddings closer than ``embedding_distance`` (cosine distance).

Pairs become groups by connected components (transitive: A~B and B~C is one group). A group
whose items carry more than one label is a *label conflict*: at least one label is wrong, or
the classes overlap.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pictext.data.item import Item

KINDS = ("bytes", "phash", "embedding")


@dataclass(frozen=True)
class DuplicateGroups:
    """Duplicate groups of one kind: a group id per item (-1: no duplicate)."""

    kind: str  # bytes | phash | embedding
    group: np.ndarray  # [N] int64 group id (the group's smallest row), -1 when alone
    conflict: np.ndarray  # [N] bool: the item's group holds more than one label

    @property
    def n_groups(self) -> int:
        """Groups of two or more items."""
        return len(np.unique(self.group[self.group >= 0]))

    @property
    def n_conflicting(self) -> int:
        """Groups whose items carry different labels."""
        return len(np.unique(self.group[self.conflict]))

    def groups(self) -> list[np.ndarray]:
        """Rows of each group, largest group first."""
        return sorted(self.members.values(), key=len, reverse=True)

    @functools.cached_property
    def members(self) -> dict[int, np.ndarray]:
        """Rows of each group by group id (one pass, kept: an item's group is a look-up)."""
        rows = np.flatnonzero(self.group >= 0)
        if len(rows) == 0:
            return {}
        rows = rows[np.argsort(self.group[rows], kind="stable")]
        ids, starts = np.unique(self.group[rows], return_index=True)
        return {int(g): part for g, part in zip(ids, np.split(rows, starts[1:]), strict=True)}


def groups_from_pairs(
    kind: str, n: int, a: np.ndarray, b: np.ndarray, labels: Sequence[str | None]
) -> DuplicateGroups:
    """Connected components of the pairs ``(a[i], b[i])`` over ``n`` items."""
    from pictext.data.split import components

    comp = components(n, a, b)  # the smallest row of each component, as the split's groups
    group = np.where(np.bincount(comp, minlength=n)[comp] > 1, comp, -1).astype(np.int64)
    # a group conflicts when its labelled rows carry more than one distinct label
    codes = {lab: c for c, lab in enumerate(sorted({x for x in labels if x is not None}))}
    lab = np.array([-1 if x is None else codes[x] for x in labels], dtype=np.int64)
    keep = (group >= 0) & (lab >= 0)
    pairs = np.unique(np.stack([group[keep], lab[keep]], axis=1), axis=0)
    per_group = np.bincount(pairs[:, 0], minlength=n) if len(pairs) else np.zeros(n, np.int64)
    conflict = (group >= 0) & (per_group[np.maximum(group, 0)] > 1)
    return DuplicateGroups(kind, group, conflict)


def byte_keys(items: Sequence[Item]) -> list[bytes | None]:
    """The content key of each item's image; None when it has none or cannot be read."""
    from pictext.data.errors import ItemError
    from pictext.data.images import image_content_key

    keys: list[bytes | None] = []
    for it in items:
        try:
            keys.append(image_content_key(it) if it.has_image() else None)
        except ItemError:
            keys.append(None)
    return keys


def perceptual_hashes(items: Sequence[Item], size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """``(hashes, ok)``: a 64-bit pHash per item (uint64) and whether its image decoded.

    Images are decoded by the one decoder (SVGs through the raster cache).
    """
    try:
        import imagehash
    except ImportError as err:
        raise ImportError("the audit needs imagehash: pip install 'pictext[audit]'") from err
    from pictext.data.errors import ItemError
    from pictext.data.images import load_image

    hashes = np.zeros(len(items), dtype=np.uint64)
    ok = np.zeros(len(items), dtype=bool)
    for i, it in enumerate(items):
        if not it.has_image():
            continue
        try:
            bits = imagehash.phash(load_image(it, size=size)).hash.flatten()
        except ItemError:
            continue
        hashes[i] = np.uint64(int("".join("1" if b else "0" for b in bits), 2))
        ok[i] = True
    return hashes, ok


def exact_pairs(keys: Sequence[object | None]) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (first row with a key, row) for every repeated key."""
    first: dict[object, int] = {}
    a, b = [], []
    for i, key in enumerate(keys):
        if key is None:
            continue
        j = first.setdefault(key, i)
        if j != i:
            a.append(j)
            b.append(i)
    return np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)


def hash_pairs(
    hashes: np.ndarray, ok: np.ndarray, max_bits: int, block: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``i < j`` of decoded items whose hashes differ in at most ``max_bits`` bits.

    ``max_bits == 0`` groups equal hashes in one pass; otherwise every pair is compared in
    blocks (quadratic: keep ``max_bits`` at 0 for large collections).
    """
    if max_bits == 0:
        return exact_pairs([int(h) if k else None for h, k in zip(hashes, ok, strict=True)])
    rows = np.flatnonzero(ok)
    h = hashes[rows]
    a, b = [], []
    for start in range(0, len(h), block):
        dist = np.bitwise_count(h[start : start + block, None] ^ h[None, :])
        i, j = np.nonzero(dist <= max_bits)
        i = i + start
        keep = i < j
        a.append(rows[i[keep]])
        b.append(rows[j[keep]])
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0, np.int64)  # noqa: E731
    return cat(a), cat(b)


def embedding_pairs(
    vectors: np.ndarray, ok: np.ndarray, max_distance: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``i < j`` whose vectors are within ``max_distance`` cosine distance."""
    from sklearn.neighbors import NearestNeighbors

    rows = np.flatnonzero(ok)
    if len(rows) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    nn = NearestNeighbors(metric="cosine").fit(vectors[rows])
    graph = nn.radius_neighbors_graph(vectors[rows], radius=max_distance, mode="connectivity")
    i, j = graph.nonzero()
    keep = i < j
    return rows[i[keep]], rows[j[keep]]
