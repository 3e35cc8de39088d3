"""Deterministic stratified splits, and duplicate groups that must not straddle a split.

The study's split: per class, ``holdout`` (4%) of the items are sampled and halved into
validation and test; the rest is training. Noise and imbalance are kept.

Exact duplicates leak answers across a random split (30% of openclipart test items have
the same text as a training item). :func:`duplicate_groups` links items that share an
image or a normalised text; passing its result as ``groups`` keeps each group on one side,
and :func:`novel_mask` marks the test items with no duplicate in training.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pictext.data.dataset import Dataset
from pictext.data.errors import ItemError
from pictext.data.item import Item


@dataclass(frozen=True)
class Split:
    """Item indices (int64, sorted) of each side of a split."""

    train: np.ndarray  # training items
    val: np.ndarray  # validation items (half of the holdout)
    test: np.ndarray  # test items (the other half)


def stratified_split(
    labels: Sequence[int] | np.ndarray,
    *,
    holdout: float = 0.04,
    seed: int = 0,
    groups: Sequence[int] | np.ndarray | None = None,
) -> Split:
    """Split items per class into train / val / test, deterministically for a seed.

    Per class, ``round(holdout * n)`` items (at least 2 when the class has >= 3 items) are
    sampled and halved into val and test, val getting the odd one. With ``groups``, whole
    groups are sampled: every item of a group lands on the side of the group, whose class is
    the majority label of its members (so a class's holdout can overshoot by a group's size).
    Items labelled -1 are left out of all sides.

    Args:
        labels: class index per item.
        holdout: fraction of each class held out (split equally into val and test).
        seed: random seed.
        groups: group id per item (e.g. :func:`duplicate_groups`); None = every item alone.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"holdout must be in [0, 1), got {holdout}")
    group_ids = np.arange(len(labels)) if groups is None else np.asarray(groups, np.int64)
    if group_ids.shape != labels.shape:
        raise ValueError(f"groups has shape {group_ids.shape}, labels {labels.shape}")
    uniq, inverse = np.unique(group_ids, return_inverse=True)
    group_label, group_size = _group_labels(labels, inverse, len(uniq))
    rng = np.random.default_rng(seed)
    side = np.zeros(len(uniq), dtype=np.int8)  # 0 train, 1 val, 2 test, -1 unlabelled
    side[group_label < 0] = -1
    for cls in np.unique(group_label[group_label >= 0]):
        members = np.flatnonzero(group_label == cls)
        _assign_class(members, group_size[members], holdout, rng, side)
    item_side = side[inverse]
    return Split(*(np.flatnonzero(item_side == s).astype(np.int64) for s in (0, 1, 2)))


def _group_labels(
    labels: np.ndarray, inverse: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Majority label (ties: smallest index) and size of each group."""
    group_label = np.full(n_groups, -1, dtype=np.int64)
    size = np.bincount(inverse, minlength=n_groups)
    order = np.lexsort((labels, inverse))
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    for chunk in np.split(order, bounds):
        lab = labels[chunk]
        lab = lab[lab >= 0]
        if lab.size:
            values, counts = np.unique(lab, return_counts=True)
            group_label[inverse[chunk[0]]] = values[np.argmax(counts)]
    return group_label, size


def _assign_class(
    members: np.ndarray,
    sizes: np.ndarray,
    holdout: float,
    rng: np.random.Generator,
    side: np.ndarray,
) -> None:
    n_items = int(sizes.sum())
    want = round(holdout * n_items)
    if n_items >= 3:
        want = max(want, 2)
    if want == 0 or len(members) < 2:
        return
    order = members[rng.permutation(len(members))]
    order_sizes = sizes[np.searchsorted(members, order)]
    # Keep at least one group for training; take groups until the holdout is filled.
    taken = np.cumsum(order_sizes[:-1])
    count = int(np.searchsorted(taken, want) + 1) if taken.size else 0
    count = min(max(count, 2 if n_items >= 3 else 1), len(members) - 1)
    held = order[:count]
    n_val = math.ceil(count / 2)
    side[held[:n_val]] = 1
    side[held[n_val:]] = 2


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:  # path compression
            self.parent[i], i = root, self.parent[i]
        return int(root)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def normalised_text(text: str) -> str:
    """Text compared for duplicates: lower case, letters and digits only, single spaces."""
    return " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _item_keys(item: Item, use_images: bool) -> list[tuple[str, object]]:
    """Exact-duplicate keys of an item: its normalised text (if any) and image hash."""
    from pictext.data.images import image_content_key

    keys: list[tuple[str, object]] = []
    text = normalised_text(item.text)
    if text:
        keys.append(("text", text))
    if use_images and item.has_image():
        # An unreadable image is the store's to report; such an item is matched by text alone.
        with contextlib.suppress(ItemError):
            keys.append(("image", image_content_key(item)))
    return keys


def duplicate_groups(dataset: Dataset, *, use_images: bool = True) -> np.ndarray:
    """Group id per item (int64): items sharing an image or a normalised text share a group.

    Grouping is transitive (A shares text with B, B an image with C: one group). Items with
    no text are grouped by image only; items whose image cannot be read, by text only.
    Group ids are the smallest item index of each group.

    Args:
        dataset: the items.
        use_images: also hash image contents (reads every file once).
    """
    uf = _UnionFind(len(dataset))
    first: dict[tuple[str, object], int] = {}
    for i, item in enumerate(dataset.items):
        for key in _item_keys(item, use_images):
            j = first.setdefault(key, i)
            if j != i:
                uf.union(i, j)
    return np.array([uf.find(i) for i in range(len(dataset))], dtype=np.int64)


def novel_mask(
    dataset: Dataset,
    train_idx: Sequence[int] | np.ndarray,
    test_idx: Sequence[int] | np.ndarray,
    *,
    use_images: bool = True,
) -> np.ndarray:
    """Bool per test item: True when no training item has exactly its image or its text."""
    seen = {k for i in train_idx for k in _item_keys(dataset.items[int(i)], use_images)}
    return np.array(
        [
            not any(k in seen for k in _item_keys(dataset.items[int(i)], use_images))
            for i in test_idx
        ],
        dtype=bool,
    )
