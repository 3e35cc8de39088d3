"""Training data checks: fewer than two classes refused, classes too small for a split named."""

from __future__ import annotations

import pytest

from pictext.classify.datacheck import TrainingDataError, check_classes, split_check
from pictext.data.dataset import Dataset
from pictext.data.item import Item
from pictext.data.split import split_dataset


def _dataset(counts: dict[str, int], unlabelled: int = 0) -> Dataset:
    items = [
        Item(f"{c}{i}", f"{c}{i}.png", title=f"{c} number {i}", label=c)
        for c, n in counts.items()
        for i in range(n)
    ]
    items += [Item(f"u{i}", f"u{i}.png", title=f"unlabelled {i}") for i in range(unlabelled)]
    return Dataset("toys", items)


@pytest.mark.parametrize(
    ("counts", "unlabelled", "problem"),
    [
        ({}, 0, "toys: the dataset is empty (no items)"),
        ({}, 3, "toys: none of its 3 items has a label"),
        ({"cat": 5}, 2, "toys: 1 class ('cat' (5 items)); a classifier needs at least 2 classes"),
    ],
)
def test_datasets_a_classifier_cannot_learn_from_are_refused(counts, unlabelled, problem):
    with pytest.raises(TrainingDataError) as err:
        check_classes(_dataset(counts, unlabelled))
    assert str(err.value).startswith(problem)
    assert err.value.item == "toys"
    assert err.value.exit_code == 1


def test_two_classes_pass_with_their_counts():
    assert check_classes(_dataset({"dog": 2, "cat": 4}, 1)) == {"cat": 4, "dog": 2}


def test_classes_missing_from_a_side_are_named_with_their_counts():
    ds = _dataset({"cat": 10, "dog": 10, "fish": 2, "owl": 1})
    split = split_dataset(ds, holdout=0.4, seed=0)
    check = split_check(ds, split)
    assert set(check.thin) == {"fish", "owl"}
    assert check.thin["owl"] == {"train": 1, "val": 0, "test": 0}
    assert sum(check.thin["fish"].values()) == 2
    assert check.to_dict()["too_few_for_split"] == check.thin
    assert check.to_dict()["items_per_class"] == {"cat": 10, "dog": 10, "fish": 2, "owl": 1}
    assert "2 of 4 classes have too few items" in check.warning()
    assert "owl (1 item: train 1, val 0, test 0)" in check.warning()


def test_no_warning_when_every_class_is_on_every_side():
    ds = _dataset({"cat": 10, "dog": 10})
    assert split_check(ds, split_dataset(ds, holdout=0.4, seed=0)).warning() == ""
