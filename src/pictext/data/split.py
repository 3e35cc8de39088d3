"""The one split policy of every task, and the split record a run writes as ``split.json``.

The policy (:data:`GROUPED`): per class, ``holdout`` of the items is sampled and halved
into validation and test; the rest is training. Noise and imbalance are kept. Exact
duplicates leak answers across a random split (30% of openclipart test items have the same
text as a training item), so :func:`duplicate_groups` links items that share an image or a
normalised text, and each group lands on one side. :func:`split_dataset` applies it to a
dataset and returns a :class:`DatasetSplit` (item ids per side, the policy, holdout and
seed) that the run saves next to its outputs; evaluations and figures are handed that
record instead of drawing the split again. :func:`holdout_rows` is the same policy for
the validation rows a head holds back from its own training data (early stopping).

Every task uses it: ``pictext train`` and Table 3, the ranking runs, the captioner's
train/test sides and each head's early-stopping rows.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pictext.core.defaults import SPLIT_SEED, STUDY_HOLDOUT
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
    holdout: float = STUDY_HOLDOUT,
    seed: int | np.random.Generator = SPLIT_SEED,
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
        seed: random seed, or a generator to draw from (it is advanced).
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


def components(n: int, a: np.ndarray | Sequence[int], b: np.ndarray | Sequence[int]) -> np.ndarray:
    """Connected components of the pairs ``(a[i], b[i])`` over ``n`` items: per item
    (int64), the smallest item index of its component (an item in no pair is its own)."""
    uf = _UnionFind(n)
    for i, j in zip(a, b, strict=True):
        uf.union(int(i), int(j))
    return np.array([uf.find(i) for i in range(n)], dtype=np.int64)


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
    first: dict[tuple[str, object], int] = {}
    pairs: list[tuple[int, int]] = []
    for i, item in enumerate(dataset.items):
        for key in _item_keys(item, use_images):
            j = first.setdefault(key, i)
            if j != i:
                pairs.append((j, i))
    return components(len(dataset), [j for j, _ in pairs], [i for _, i in pairs])


def holdout_rows(
    labels: Sequence[int] | np.ndarray,
    fraction: float,
    seed: int | np.random.Generator,
    *,
    groups: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """Rows (sorted int64) a head holds back from its training data to pick its best epoch.

    The policy of :func:`stratified_split` with ``holdout=fraction``; its validation and
    test sides together are the held-back rows. Unlabelled rows (-1) are never held back.

    Args:
        labels: class index per row (all 0 when the task has no classes).
        fraction: share of each class held back.
        seed: random seed, or a generator to draw from (it is advanced).
        groups: duplicate-group id per row; a group is held back whole or not at all.
    """
    split = stratified_split(labels, holdout=fraction, seed=seed, groups=groups)
    return np.sort(np.concatenate([split.val, split.test]))


GROUPED = "stratified-grouped"  # per class, duplicate groups (duplicate_groups) on one side
POLICIES: tuple[str, ...] = (GROUPED,)  # what a split record may name


@dataclass(frozen=True)
class DatasetSplit:
    """The split a run used: item ids per side and how they were drawn (``split.json``).

    Example:
        >>> ds = Dataset("toy", [Item(str(i), label="ab"[i % 2]) for i in range(20)])
        >>> split = split_dataset(ds, holdout=0.2, seed=0)
        >>> len(split.train), len(split.val), len(split.test)
        (16, 2, 2)
        >>> split.rows([it.id for it in ds.items]).val.tolist() == sorted(
        ...     int(i) for i in split.val)
        True
    """

    train: tuple[str, ...]  # item ids of the training side
    val: tuple[str, ...]  # item ids of the validation side
    test: tuple[str, ...]  # item ids of the test side
    policy: str  # how the sides were drawn: one of POLICIES
    holdout: float  # share of each class held out (val + test)
    seed: int  # seed of the draw
    dataset: str = ""  # name of the dataset split
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)  # the source's own
    # evaluation sets (Dataset.predefined, e.g. "webvision_val"): never drawn, scored apart

    def rows(self, ids: Sequence[str]) -> Split:
        """Row indices per side of ``ids`` (e.g. a dataset's or features' item order).

        Raises:
            KeyError: an id of the split is not among ``ids``.
        """
        index = {item_id: i for i, item_id in enumerate(ids)}
        missing = [i for side in (self.train, self.val, self.test) for i in side if i not in index]
        if missing:
            raise KeyError(
                f"{len(missing)} item(s) of the recorded split of {self.dataset!r} are not in "
                f"this data (first: {missing[0]!r}); it is not the data the run used"
            )
        return Split(
            *(
                np.sort(np.array([index[i] for i in side], dtype=np.int64))
                for side in (self.train, self.val, self.test)
            )
        )

    def extra_rows(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Row indices (sorted int64) of each extra side in ``ids``.

        Raises:
            KeyError: an id of an extra side is not among ``ids``.
        """
        index = {item_id: i for i, item_id in enumerate(ids)}
        out = {}
        for name, side in self.extra.items():
            missing = [i for i in side if i not in index]
            if missing:
                raise KeyError(
                    f"{len(missing)} item(s) of the predefined set {name!r} of "
                    f"{self.dataset!r} are not in this data (first: {missing[0]!r})"
                )
            out[name] = np.sort(np.array([index[i] for i in side], dtype=np.int64))
        return out

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON-ready values."""
        sizes = {"train": len(self.train), "val": len(self.val), "test": len(self.test)}
        return {
            "dataset": self.dataset,
            "policy": self.policy,
            "holdout": self.holdout,
            "seed": self.seed,
            "sizes": {**sizes, **{k: len(v) for k, v in self.extra.items()}},
            "train": list(self.train),
            "val": list(self.val),
            "test": list(self.test),
            "extra": {k: list(v) for k, v in self.extra.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetSplit:
        """The record written by :meth:`to_dict`."""
        if d.get("policy") not in POLICIES:
            raise ValueError(f"unknown split policy {d.get('policy')!r}; known: {POLICIES}")
        return cls(
            tuple(d["train"]),
            tuple(d["val"]),
            tuple(d["test"]),
            d["policy"],
            float(d["holdout"]),
            int(d["seed"]),
            d.get("dataset", ""),
            {k: tuple(v) for k, v in d.get("extra", {}).items()},
        )

    def save(self, path: str | Path) -> Path:
        """Write the record as JSON (atomically) and return its path."""
        from pictext.core.atomic import atomic_write_json

        atomic_write_json(path, self.to_dict())
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> DatasetSplit:
        """Read a record written by :meth:`save`."""
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f"{path}: no recorded split; the run that wrote this folder predates split "
                "records, re-run it"
            ) from err


def split_dataset(
    dataset: Dataset,
    *,
    holdout: float,
    seed: int = SPLIT_SEED,
    groups: Sequence[int] | np.ndarray | None = None,
) -> DatasetSplit:
    """Split a dataset by the policy (stratified per class, duplicate groups on one side).

    The items of the dataset's predefined sets (:attr:`Dataset.predefined`, e.g. WebVision's
    human-checked validation set) are left out of the draw and recorded as the split's
    ``extra`` sides, so they are never trained on and are scored on their own.

    Args:
        dataset: the items (unlabelled ones are left out of every side).
        holdout: share of each class held out, halved into val and test.
        seed: random seed.
        groups: precomputed :func:`duplicate_groups` of ``dataset``; computed here when None.
    """
    if groups is None:
        groups = duplicate_groups(dataset)
    labels = dataset.labels()
    ids = [it.id for it in dataset.items]
    extra = {k: tuple(v) for k, v in dataset.predefined.items() if v}
    fixed = {i for side in extra.values() for i in side}
    if fixed:
        labels = np.where([i in fixed for i in ids], -1, labels)
    split = stratified_split(labels, holdout=holdout, seed=seed, groups=groups)
    train, val, test = (  # a duplicate group's side would take its predefined members along
        tuple(ids[int(i)] for i in side if ids[int(i)] not in fixed)
        for side in (split.train, split.val, split.test)
    )
    return DatasetSplit(train, val, test, GROUPED, float(holdout), int(seed), dataset.name, extra)
