"""Checks of a classifier's training data, made before any work.

``pictext train`` and ``pictext evaluate`` refuse a dataset with fewer than two classes: a
single-class "classifier" scores 100% top-1 and then tags anything as that class. They warn
about, and record in the run's metrics, the classes too small for the split: a class with
no validation or no test item is neither early-stopped on nor scored.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pictext.core.errors import InputError

if TYPE_CHECKING:
    from pictext.data.dataset import Dataset
    from pictext.data.split import DatasetSplit

MIN_CLASSES = 2  # a classifier needs at least two classes to tell apart
SIDES = ("train", "val", "test")


class TrainingDataError(InputError):
    """A dataset a classifier cannot be trained on: empty, unlabelled or a single class."""

    code = "bad_training_data"


def check_classes(dataset: Dataset) -> dict[str, int]:
    """Items per class of a labelled dataset, refusing one a classifier cannot learn from.

    Raises:
        TrainingDataError: no items, no labelled item, or fewer than two classes; the message
            names the dataset and the class count.
    """
    name = dataset.name
    if not dataset.items:
        raise TrainingDataError(f"{name}: the dataset is empty (no items)", item=name)
    counts = Counter(it.label for it in dataset.items if it.label is not None)
    if not counts:
        raise TrainingDataError(
            f"{name}: none of its {len(dataset.items)} items has a label; training needs labels",
            item=name,
        )
    if len(counts) < MIN_CLASSES:
        only = ", ".join(f"{c!r} ({n} items)" for c, n in counts.items())
        raise TrainingDataError(
            f"{name}: {len(counts)} class ({only}); a classifier needs at least {MIN_CLASSES} "
            "classes",
            item=name,
        )
    return dict(sorted(counts.items()))


@dataclass
class SplitCheck:
    """How a split shares out each class, and the classes too small for it."""

    dataset: str  # the dataset's name
    holdout: float  # the split's held-out share
    classes: dict[str, int]  # items per class
    thin: dict[str, dict[str, int]] = field(default_factory=dict)  # class -> items per side,
    # for the classes missing from a side (not validated or not scored)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "holdout": self.holdout,
            "classes": len(self.classes),
            "items_per_class": self.classes,
            "too_few_for_split": self.thin,
        }

    def warning(self) -> str:
        """One line about the thin classes ("" when there are none)."""
        if not self.thin:
            return ""
        shown = "; ".join(
            f"{c} ({sum(n.values())} item{'s' * (sum(n.values()) != 1)}: "
            + ", ".join(f"{s} {n[s]}" for s in SIDES)
            + ")"
            for c, n in list(self.thin.items())[:5]
        )
        more = f" and {len(self.thin) - 5} more" if len(self.thin) > 5 else ""
        return (
            f"{self.dataset}: {len(self.thin)} of {len(self.classes)} classes have too few items "
            f"for the split (holdout {self.holdout:g}): {shown}{more}; they are missing from "
            "a side, so they are not validated or not scored"
        )


def split_check(dataset: Dataset, split: DatasetSplit) -> SplitCheck:
    """Items per class on each side of ``split``; the classes missing from a side."""
    rows = split.rows([it.id for it in dataset.items])
    per_side = {
        side: Counter(dataset.items[int(i)].label for i in getattr(rows, side)) for side in SIDES
    }
    classes = check_classes(dataset)
    thin = {
        c: {side: per_side[side].get(c, 0) for side in SIDES}
        for c in classes
        if any(per_side[side].get(c, 0) == 0 for side in SIDES)
    }
    return SplitCheck(dataset.name, split.holdout, classes, thin)
