from __future__ import annotations

import numpy as np
import pytest

from pictext.caption.decoding import DEFAULT_DECODING, Decoding
from pictext.caption.retrieval import (
    CaptionCollection,
    CaptionThresholds,
    caption_collection,
    caption_divergent,
    caption_query,
    caption_similar,
)


def _angles(degrees: list[float]) -> np.ndarray:
    r = np.radians(degrees)
    return np.stack([np.cos(r), np.sin(r)], axis=1).astype(np.float32)


@pytest.fixture
def collection() -> CaptionCollection:
    # cosines to the query [1, 0]: 1.0, 0.95, 0.90, 0.60, 0.55, 0.50, 0.45, 0.0
    cos = [1.0, 0.95, 0.90, 0.60, 0.55, 0.50, 0.45, 0.0]
    deg = [float(np.degrees(np.arccos(c))) for c in cos]
    ids = [f"i{j}" for j in range(len(cos))]
    return CaptionCollection(ids, [f"cap {j}" for j in ids], _angles(deg), "toy@1")


def test_thresholds_are_inclusive_and_ordered(collection) -> None:
    q = np.array([1.0, 0.0])
    assert [m.id for m in caption_similar(q, collection)] == ["i0", "i1", "i2"]
    assert [m.id for m in caption_divergent(q, collection)] == ["i3", "i4", "i5"]
    assert [m.id for m in caption_similar(q, collection, threshold=0.5, k=4)] == [
        "i0",
        "i1",
        "i2",
        "i3",
    ]
    assert [m.id for m in caption_divergent(q, collection, low=0.0, high=0.5)] == ["i5", "i6", "i7"]
    got = caption_similar(q, collection, exclude={"i0"})
    assert [m.id for m in got] == ["i1", "i2"]
    assert got[0].score == pytest.approx(0.95, abs=1e-5)
    assert got[0].caption == "cap i1"


def test_threshold_config_validated() -> None:
    assert CaptionThresholds() == CaptionThresholds(0.90, 0.50, 0.60)
    with pytest.raises(ValueError, match="divergent band"):
        CaptionThresholds(divergent_low=0.7, divergent_high=0.6)


def test_ties_broken_by_seed_not_by_order() -> None:
    n = 40
    col = CaptionCollection(
        [f"i{j}" for j in range(n)], ["same"] * n, np.ones((n, 2), np.float32), "toy@1"
    )
    q = np.ones(2)
    first = [m.id for m in caption_similar(q, col, k=5, seed=0)]
    assert first == [m.id for m in caption_similar(q, col, k=5, seed=0)]
    assert first != [f"i{j}" for j in range(5)]
    assert first != [m.id for m in caption_similar(q, col, k=5, seed=1)]


def test_dimension_mismatch(collection) -> None:
    with pytest.raises(ValueError, match="query is 3-d"):
        caption_similar(np.ones(3), collection)


def test_collection_round_trip(collection, tmp_path) -> None:
    path = collection.save(tmp_path / "c.npz")
    again = CaptionCollection.load(path)
    assert again.ids == collection.ids
    assert again.captions == collection.captions
    np.testing.assert_allclose(again.embeddings, collection.embeddings)


def test_caption_collection_is_cached_and_used_for_queries(
    fitted, tmp_path, make_toy, bow_encoder
) -> None:
    x, _, y = make_toy(n=24, seed=6)
    ids = [f"item{j}" for j in range(len(x))]
    enc = bow_encoder
    col = caption_collection(fitted["merge"], ids, x, enc, cache_dir=tmp_path)
    assert enc.calls == 1
    again = caption_collection(fitted["merge"], ids, x, enc, cache_dir=tmp_path)
    assert enc.calls == 1  # served from the cache
    assert again.captions == col.captions
    same = caption_collection(
        fitted["merge"], ids, x, enc, cache_dir=tmp_path, decoding=DEFAULT_DECODING
    )
    assert enc.calls == 1  # the default, named or not, is one entry
    assert same.captions == col.captions
    other = caption_collection(
        fitted["merge"], ids, x, enc, cache_dir=tmp_path, decoding=Decoding(beam_size=1)
    )
    assert enc.calls == 2  # another decoding is another entry
    assert other.ids == ids
    # A query image of class 0 finds class-0 images as similar, none as divergent.
    captions, q = caption_query(fitted["merge"], x[:1], enc)
    similar = caption_similar(q[0], col, exclude={ids[0]})
    assert similar
    assert all(y[ids.index(m.id)] == y[0] for m in similar)
    assert all(y[ids.index(m.id)] != y[0] for m in caption_divergent(q[0], col, low=0.0, high=0.6))
    assert captions[0] == col.captions[0]
