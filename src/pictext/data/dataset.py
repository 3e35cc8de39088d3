"""A named list of items with its classes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from pictext.data.item import Item

SKIPPED = "; skipped"  # how a reader's problem ends when it dropped the entry


@dataclass
class Dataset:
    """Items from one source, in a stable order.

    Example:
        >>> ds = Dataset("toy", [Item("a", label="cat"), Item("b", label="dog")])
        >>> ds.classes, ds.labels().tolist()
        (['cat', 'dog'], [0, 1])
    """

    name: str  # registry name or path it was read from
    items: list[Item]  # in a deterministic order
    problems: list[str] = field(default_factory=list)  # "id: problem" per entry; see `skipped`
    class_names: list[str] | None = None  # fixed class order; default: sorted labels
    label_words: dict[str, tuple[str, ...]] = field(default_factory=dict)  # class -> more
    # names of it (synonyms, search queries) that label-word stripping also removes
    predefined: dict[str, tuple[str, ...]] = field(default_factory=dict)  # item ids of
    # evaluation sets the source defines (WebVision's human-checked "webvision_val"): never
    # drawn into a random split, recorded as extra sides (see pictext.data.split)

    @property
    def classes(self) -> list[str]:
        if self.class_names is not None:
            return list(self.class_names)
        return sorted({it.label for it in self.items if it.label is not None})

    @property
    def skipped(self) -> int:
        """Entries the reader dropped: its problems ending in ``"; skipped"``.

        The other problems are notes on items that were kept (e.g. an unreadable sidecar:
        the item keeps its image with empty text) or on files that are no items.
        """
        return sum(p.endswith(SKIPPED) for p in self.problems)

    def labels(self) -> np.ndarray:
        """Class index per item (int64); -1 for unlabelled items."""
        index = {c: i for i, c in enumerate(self.classes)}
        return np.array([index.get(it.label, -1) for it in self.items], dtype=np.int64)

    def subset(self, indices: Sequence[int] | np.ndarray) -> Dataset:
        """A dataset of the given items that keeps this one's class order."""
        return self.with_items([self.items[int(i)] for i in indices], [])

    def with_items(self, items: list[Item], problems: list[str] | None = None) -> Dataset:
        """A dataset of other items (e.g. filtered or with stripped text) with this one's
        classes and label words, its predefined sets narrowed to the ids still present, and
        ``problems`` (default: this one's)."""
        ids = {it.id for it in items}
        return Dataset(
            self.name,
            items,
            list(self.problems if problems is None else problems),
            class_names=self.classes,
            label_words=dict(self.label_words),
            predefined={k: tuple(i for i in v if i in ids) for k, v in self.predefined.items()},
        )

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __getitem__(self, i: int) -> Item:
        return self.items[i]
