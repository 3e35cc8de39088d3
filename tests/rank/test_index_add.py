"""SearchIndex.add_rows: new items found at once, with no rebuild, in either metric."""

from __future__ import annotations

import numpy as np
import pytest

from pictext.rank.index import SearchIndex
from pictext.store.features import Features


def _index(metric: str, n: int = 40, dim: int = 6) -> tuple[SearchIndex, np.ndarray]:
    x = np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)
    feats = Features([f"r{i}" for i in range(n)], image=x, image_encoder="toy@1")
    return SearchIndex.build(feats, labels=["a"] * n, metric=metric), x


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_added_rows_answer_like_a_rebuilt_index(metric: str) -> None:
    index, x = _index(metric)
    new = np.random.default_rng(1).standard_normal((30, x.shape[1])).astype(np.float32)
    for i, v in enumerate(new):  # one at a time: the buffer grows by doubling
        index.add_rows([f"n{i}"], ["b"], [f"new {i}"], v[None])
    ids = [f"r{i}" for i in range(len(x))] + [f"n{i}" for i in range(len(new))]
    rebuilt = SearchIndex.build(
        Features(ids, image=np.concatenate([x, new]), image_encoder="toy@1"),
        labels=["a"] * len(x) + ["b"] * len(new),
        metric=metric,
    )
    assert len(index) == len(rebuilt) == 70
    assert index.row("n29") == 69
    for q in np.random.default_rng(2).standard_normal((5, x.shape[1])).astype(np.float32):
        got = [(h.id, h.label) for h in index.similar_to(q, k=10)]
        assert got == [(h.id, h.label) for h in rebuilt.similar_to(q, k=10)]
        far = [h.id for h in index.divergent_to(q, k=5)]
        assert far == [h.id for h in rebuilt.divergent_to(q, k=5)]
    assert index.similar_to(new[3], k=1)[0].id == "n3"


def test_a_known_id_or_a_wrong_width_is_refused() -> None:
    index, x = _index("cosine")
    with pytest.raises(ValueError, match="r0: in the index already"):
        index.add_rows(["r0"], [None], [""], x[:1])
    with pytest.raises(ValueError, match="shape"):
        index.add_rows(["z"], [None], [""], np.ones((1, 3), np.float32))
    assert len(index) == len(x)
