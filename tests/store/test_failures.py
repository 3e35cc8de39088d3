"""Per-item answers and failures: what a batch answers, and what a strict call refuses."""

from __future__ import annotations

import pytest

from pictext.store.failures import Failure, UnreadableItemsError, all_read, per_item, read_rows


def test_per_item_keeps_item_order_and_all_read_refuses_any_failure():
    ids = ["a", "b", "c"]
    failures = [Failure("b", "image file not found: b.png")]
    assert read_rows(ids, failures) == [0, 2]
    out = per_item(ids, failures, ["A", "C"])
    assert out == ["A", failures[0], "C"]
    with pytest.raises(UnreadableItemsError, match="cannot read b: image file not found"):
        all_read(out)
    assert all_read(per_item(ids, [], ["A", "B", "C"])) == ["A", "B", "C"]
