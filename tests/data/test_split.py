from __future__ import annotations

import numpy as np
import pytest

from pictext.data.dataset import Dataset
from pictext.data.item import Item
from pictext.data.split import (
    GROUPED,
    DatasetSplit,
    duplicate_groups,
    holdout_rows,
    split_dataset,
    stratified_split,
)


def _labels() -> np.ndarray:
    sizes = {0: 500, 1: 100, 2: 25, 3: 3, 4: 2, 5: 1}
    return np.concatenate([np.full(n, c) for c, n in sizes.items()])


def test_sides_partition_and_fractions_per_class() -> None:
    labels = _labels()
    split = stratified_split(labels, seed=1)
    every = np.concatenate([split.train, split.val, split.test])
    assert sorted(every.tolist()) == list(range(len(labels)))  # disjoint and complete
    expected = {0: (10, 10), 1: (2, 2), 2: (1, 1), 3: (1, 1), 4: (0, 0), 5: (0, 0)}
    for cls, (n_val, n_test) in expected.items():
        assert (labels[split.val] == cls).sum() == n_val, cls
        assert (labels[split.test] == cls).sum() == n_test, cls


def test_holdout_fraction_is_configurable() -> None:
    labels = np.repeat(np.arange(3), 1000)
    split = stratified_split(labels, holdout=0.2, seed=0)
    assert len(split.val) == len(split.test) == 300
    for cls in range(3):
        assert (labels[split.val] == cls).sum() == 100


def test_deterministic_for_a_seed_and_differs_across_seeds() -> None:
    labels = _labels()
    a, b = stratified_split(labels, seed=7), stratified_split(labels, seed=7)
    c = stratified_split(labels, seed=8)
    assert all(
        np.array_equal(x, y)
        for x, y in zip((a.train, a.val, a.test), (b.train, b.val, b.test), strict=True)
    )
    assert not np.array_equal(a.test, c.test)


def test_groups_stay_on_one_side() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 200)
    groups = rng.integers(0, 150, len(labels))  # groups of ~5 that mix labels
    split = stratified_split(labels, holdout=0.2, seed=3, groups=groups)
    side = np.full(len(labels), -1)
    for s, idx in enumerate((split.train, split.val, split.test)):
        side[idx] = s
    assert (side >= 0).all()
    for g in np.unique(groups):
        assert len(set(side[groups == g].tolist())) == 1, g
    assert len(split.val) > 0
    assert len(split.test) > 0


def test_unlabelled_items_are_left_out_and_bad_arguments_raise() -> None:
    split = stratified_split([0, 0, 0, -1, 1, 1, 1])
    assert 3 not in np.concatenate([split.train, split.val, split.test])
    with pytest.raises(ValueError, match="holdout"):
        stratified_split([0, 1], holdout=1.5)
    with pytest.raises(ValueError, match="shape"):
        stratified_split([0, 1], groups=[0])


def test_duplicate_groups_by_text_or_image(make, tmp_path, gray_pixels) -> None:
    a = make.png(tmp_path / "a.png")
    b = make.png(tmp_path / "b.png")  # same bytes as a
    c = make.png(tmp_path / "c.png", color=(1, 2, 3))
    items = [
        Item("0", str(a), title="Red"),
        Item("1", str(b), title="other"),  # same image as 0
        Item("2", str(c), title="red!"),  # same normalised text as 0
        Item("3", str(c)),  # no text, same image as 2
        Item("4", pixels=gray_pixels),  # unique
        Item("5", str(tmp_path / "missing.png"), title="unique"),  # unreadable: text only
        Item("6", pixels=np.ones((3, 3), np.uint8), title="Other"),  # same text as 1
    ]
    ds = Dataset("d", items)
    assert duplicate_groups(ds).tolist() == [0, 0, 0, 0, 4, 5, 0]
    assert duplicate_groups(ds, use_images=False).tolist() == [0, 1, 0, 3, 4, 5, 1]


def _dup_dataset(n_per: int = 40) -> tuple[Dataset, np.ndarray]:
    """Two classes; items 2k and 2k+1 share their text (a duplicate pair)."""
    items = [
        Item(f"id{i}", title=f"text {i // 2}", label="ab"[(i // 2) % 2]) for i in range(4 * n_per)
    ]
    return Dataset("dups", items), np.arange(4 * n_per) // 2


def test_split_dataset_keeps_duplicates_together_and_records_ids(tmp_path) -> None:
    ds, pairs = _dup_dataset()
    split = split_dataset(ds, holdout=0.3, seed=4)
    assert split.policy == GROUPED
    assert split.dataset == "dups"
    rows = split.rows([it.id for it in ds.items])
    side = np.full(len(ds), -1)
    for s, idx in enumerate((rows.train, rows.val, rows.test)):
        side[idx] = s
    assert (side >= 0).all()
    assert all(side[2 * k] == side[2 * k + 1] for k in range(len(ds) // 2))
    assert len(rows.val) > 0
    assert len(rows.test) > 0
    # the recorded ids are the rows' ids
    assert list(split.test) == [ds.items[int(i)].id for i in rows.test]
    # without the groups, the same draw would split some duplicate pairs
    plain = stratified_split(ds.labels(), holdout=0.3, seed=4)
    assert any(side_of != side_pair for side_of, side_pair in _pair_sides(plain, pairs))


def _pair_sides(rows, pairs):
    side = np.full(len(pairs), -1)
    for s, idx in enumerate((rows.train, rows.val, rows.test)):
        side[idx] = s
    return [(side[2 * k], side[2 * k + 1]) for k in range(len(pairs) // 2)]


def test_split_record_round_trip_and_mismatch(tmp_path) -> None:
    ds, _ = _dup_dataset(10)
    split = split_dataset(ds, holdout=0.4, seed=1)
    path = split.save(tmp_path / "split.json")
    back = DatasetSplit.load(path)
    assert back == split
    ids = [it.id for it in ds.items]
    shuffled = ids[::-1]  # another order of the same items: the same items per side
    rows = back.rows(shuffled)
    assert sorted(shuffled[int(i)] for i in rows.val) == sorted(split.val)
    with pytest.raises(KeyError, match="not in this data"):
        back.rows(ids[1:])
    with pytest.raises(FileNotFoundError, match="no recorded split"):
        DatasetSplit.load(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="unknown split policy"):
        DatasetSplit.from_dict({**split.to_dict(), "policy": "random"})


def test_holdout_rows_are_the_policys_held_out_sides() -> None:
    labels = np.repeat(np.arange(3), 50)
    held = holdout_rows(labels, 0.2, 9)
    split = stratified_split(labels, holdout=0.2, seed=9)
    assert held.tolist() == sorted([*split.val.tolist(), *split.test.tolist()])
    assert all((labels[held] == c).sum() == 10 for c in range(3))
    groups = np.arange(150) // 3  # triples
    held = set(holdout_rows(labels, 0.2, 9, groups=groups).tolist())
    assert all(len({g in held for g in range(3 * k, 3 * k + 3)}) == 1 for k in range(50))
    # a generator is drawn from, and advanced
    rng = np.random.default_rng(9)
    assert holdout_rows(labels, 0.2, rng).tolist() == holdout_rows(labels, 0.2, 9).tolist()
    assert rng.random() != np.random.default_rng(9).random()
