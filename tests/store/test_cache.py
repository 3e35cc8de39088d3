from __future__ import annotations

import numpy as np
import pytest

from pictext.store.cache import KEY_DTYPE, VectorCache
from pictext.store.compact import compact


def keys(*names: str) -> np.ndarray:
    return np.array([n.encode().ljust(20, b"_") for n in names], KEY_DTYPE)


def test_round_trip_across_shards_and_reopen(tmp_path):
    cache = VectorCache(tmp_path, dim=3)
    cache.put(keys("a", "b"), np.array([[1, 1, 1], [2, 2, 2]], np.float32))
    cache.put(keys("c"), np.array([[3, 3, 3]], np.float32))
    reopened = VectorCache(tmp_path, dim=3)
    vecs, found = reopened.get(keys("c", "x", "a"))
    assert found.tolist() == [True, False, True]
    assert vecs[:, 0].tolist() == [3.0, 0.0, 1.0]
    assert len(reopened) == 3


def test_get_returns_a_memory_mapped_shard_read(tmp_path):
    cache = VectorCache(tmp_path, dim=2)
    cache.put(keys("a"), np.ones((1, 2), np.float32))
    assert isinstance(cache._shards[0].vecs, np.memmap)


def test_half_written_shard_is_ignored(tmp_path):
    cache = VectorCache(tmp_path, dim=2)
    cache.put(keys("a"), np.ones((1, 2), np.float32))
    # A run killed between the vectors and the keys file leaves vectors without keys.
    np.save(tmp_path / "000001.vecs.npy", np.full((1, 2), 7, np.float32))
    (tmp_path / ".000001.keys.npy.123.tmp").write_bytes(b"partial")
    reopened = VectorCache(tmp_path, dim=2)
    assert len(reopened) == 1
    vecs, found = reopened.get(keys("a"))
    assert found.all()
    assert vecs[0].tolist() == [1.0, 1.0]
    # The next shard does not collide with the orphan's number.
    reopened.put(keys("b"), np.full((1, 2), 5, np.float32))
    assert reopened.get(keys("b"))[0][0].tolist() == [5.0, 5.0]


def test_refuses_non_finite_and_wrong_shapes(tmp_path):
    cache = VectorCache(tmp_path, dim=2)
    with pytest.raises(ValueError, match="non-finite"):
        cache.put(keys("a"), np.array([[np.nan, 1]], np.float32))
    with pytest.raises(ValueError, match="do not match"):
        cache.put(keys("a", "b"), np.ones((1, 2), np.float32))
    assert len(VectorCache(tmp_path, dim=2)) == 0


def test_wrong_dimension_on_disk_is_set_aside_and_named(tmp_path, caplog):
    VectorCache(tmp_path, dim=2).put(keys("a"), np.ones((1, 2), np.float32))
    reopened = VectorCache(tmp_path, dim=3)
    assert len(reopened) == 0  # its items are computed again, at the right width
    assert "000000.vecs.npy" in caplog.text
    assert "expected float32 (1, 3)" in caplog.text
    assert sorted(p.name.rsplit(".", 1)[0] for p in (tmp_path / "damaged").iterdir()) == [
        "000000.keys.npy",
        "000000.vecs.crc32",
        "000000.vecs.npy",
    ]


def test_compact_keeps_every_vector(tmp_path):
    cache = VectorCache(tmp_path, dim=2)
    for i in range(5):
        cache.put(keys(f"k{i}"), np.full((1, 2), i, np.float32))
    compact(cache)
    assert len(list(tmp_path.glob("*.keys.npy"))) == 1
    vecs, found = VectorCache(tmp_path, dim=2).get(keys(*(f"k{i}" for i in range(5))))
    assert found.all()
    assert vecs[:, 0].tolist() == [0, 1, 2, 3, 4]
