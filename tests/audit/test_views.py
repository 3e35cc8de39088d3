"""Precomputed browse views: the same pages as the scanning reference, without touching the
items after they are built."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from types import SimpleNamespace

import numpy as np
import pytest

from pictext.audit.browse import BrowseQuery, browse
from pictext.audit.views import BrowseViews
from pictext.data.item import Item


def _collection(n: int = 300, seed: int = 0) -> tuple[list[Item], SimpleNamespace]:
    rng = np.random.default_rng(seed)
    items = [
        Item(
            id=f"i{r:04d}",
            title="t" if rng.random() < 0.6 else "",
            label=None if rng.random() < 0.05 else f"c{rng.integers(0, 4)}",
            fine_label=f"f{rng.integers(0, 3)}" if rng.random() < 0.7 else None,
        )
        for r in range(n)
    ]
    uniq = np.round(rng.random(n), 2)  # ties on purpose
    uniq[rng.random(n) < 0.1] = np.nan
    err = rng.random(n)
    audit = SimpleNamespace(
        ids=[it.id for it in items][::-1], uniqueness=uniq[::-1], error_score=err[::-1]
    )
    return items, audit


QUERIES = [
    dict(zip(("label", "fine_label", "has_text", "sort"), combo, strict=True))
    for combo in itertools.product(
        (None, "c1", "nope"), (None, "f2"), (None, True, False), ("dataset", "uniqueness", "error")
    )
]


@pytest.mark.parametrize("page", [0, 1, 7])
def test_pages_equal_the_scanning_reference(page: int) -> None:
    items, audit = _collection()
    views = BrowseViews(items, audit)
    for q in QUERIES:
        query = BrowseQuery(**q, page=page, per_page=11)
        assert views.page(query) == browse(items, query, audit=audit), q


def test_selection_and_similarity_equal_the_reference() -> None:
    items, audit = _collection()
    views = BrowseViews(items, audit)
    rng = np.random.default_rng(3)
    chosen = [items[r].id for r in rng.choice(len(items), 60, replace=False)] + ["ghost"]
    dist = {items[r].id: float(rng.random()) for r in rng.choice(len(items), 25, replace=False)}
    for sort, label, page in itertools.product(
        ("dataset", "uniqueness", "similarity"), (None, "c2"), (0, 1, 2, 9)
    ):
        for ids in (None, chosen):
            query = BrowseQuery(label=label, ids=ids, sort=sort, page=page, per_page=10)
            want = browse(items, query, audit=audit, distances=dist)
            assert views.page(query, distances=dist) == want, (sort, label, page, ids is None)
    rows = np.array([views.row_of[i] for i in chosen[:-1]])
    query = BrowseQuery(sort="error", per_page=100)
    by_rows = views.page(query, rows=rows)
    assert by_rows == browse(items, BrowseQuery(ids=chosen, sort="error", per_page=100),
                             audit=audit)  # fmt: skip


class _Counting(Sequence):
    """A list that counts every read of its items."""

    def __init__(self, items: list[Item]) -> None:
        self.items, self.reads = items, 0

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):
        self.reads += 1
        return self.items[i]

    def __iter__(self) -> Iterator[Item]:
        for it in self.items:
            self.reads += 1
            yield it


def test_a_page_reads_no_item_and_costs_no_scan() -> None:
    items, audit = _collection(2000)
    counting = _Counting(items)
    views = BrowseViews(counting, audit)
    built = counting.reads
    for q in QUERIES:
        views.page(BrowseQuery(**q, page=3))
    assert counting.reads == built  # the items are read once, when the views are built
    assert views.facets["items"] == 2000


def test_errors_match_the_reference() -> None:
    items, _ = _collection(20)
    views = BrowseViews(items)
    with pytest.raises(ValueError, match="needs an audit"):
        views.page(BrowseQuery(sort="uniqueness"))
    with pytest.raises(ValueError, match="unknown sort"):
        views.page(BrowseQuery(sort="size"))
    with pytest.raises(ValueError, match="needs a query"):
        views.page(BrowseQuery(sort="similarity"))
    with pytest.raises(ValueError, match="page must be"):
        views.page(BrowseQuery(page=-1))
