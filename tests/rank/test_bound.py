"""Branch-and-bound farthest search over IVF cells, IVF builds from memory-mapped rows,
and the settings tuner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pictext.rank.ann import AnnParams, augment_queries, augment_rows, top_k_inner
from pictext.rank.tune import doubling, measure, recall_at, tune

faiss = pytest.importorskip("faiss")

from pictext.rank.bound import CellBounds, bnb_search, bounds_from_index  # noqa: E402
from pictext.rank.build import build_ivf, check_encoding  # noqa: E402


def _clustered(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, d)).astype(np.float32)
    x = np.abs(centres[rng.integers(0, 50, n)] + 0.6 * rng.normal(size=(n, d)))
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def memmapped(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """20k x 32 clustered rows in a .npy opened with mmap_mode='r'."""
    path = Path(tmp_path_factory.mktemp("rows")) / "rows.npy"
    np.save(path, _clustered(20_200, 32))
    return np.load(path, mmap_mode="r")


def _split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(x[:200]), x[200:]


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_branch_and_bound_equals_exact_farthest(memmapped: np.ndarray, metric: str) -> None:
    q, coll = _split(memmapped)
    index, bounds = build_ivf(coll, metric, AnnParams(nlist=64, threads=1))
    aq = augment_queries(q, metric, farthest=True)
    truth, truth_val = top_k_inner(augment_rows(np.asarray(coll), metric), aq, 10)
    got, val = bnb_search(index, bounds, aq, 10, first=4)
    np.testing.assert_allclose(val, truth_val, rtol=1e-4, atol=1e-4)
    assert recall_at(got, truth) == 1.0


def test_bounds_hold_for_every_row() -> None:
    x = augment_rows(_clustered(3000, 16, seed=3), "cosine")
    index, bounds = build_ivf(x, None, AnnParams(nlist=16, threads=1))
    p = augment_queries(_clustered(20, 16, seed=4), "cosine", farthest=True)
    _, cells = index.quantizer.search(x, 1)
    upper = bounds.upper(p)  # [20, 16]
    scores = p @ x.T  # [20, 3000]
    assert np.all(scores <= upper[:, cells[:, 0]] + 1e-5)
    again = bounds_from_index(index)  # read back from the inverted lists: the same numbers
    np.testing.assert_allclose(again.radius, bounds.radius, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(again.size, bounds.size)


def test_budget_trades_recall(memmapped: np.ndarray) -> None:
    q, coll = _split(memmapped)
    index, bounds = build_ivf(coll, "cosine", AnnParams(nlist=64, threads=1))
    aq = augment_queries(q, "cosine", farthest=True)
    truth, _ = top_k_inner(augment_rows(np.asarray(coll), "cosine"), aq, 10)
    one = recall_at(bnb_search(index, bounds, aq, 10, max_cells=1)[0], truth)
    many = recall_at(bnb_search(index, bounds, aq, 10, max_cells=32)[0], truth)
    assert one < many <= 1.0


def test_cell_bounds_round_trip() -> None:
    b = CellBounds.empty(np.eye(3, dtype=np.float32))
    b.update(np.array([[1, 0.5, 0]], np.float32), np.array([0]))
    again = CellBounds.from_arrays(b.arrays())
    assert again is not None
    np.testing.assert_array_equal(again.size, [1, 0, 0])
    assert np.isneginf(again.upper(np.ones((1, 3), np.float32))[0, 1:]).all()
    assert CellBounds.from_arrays({}) is None


@pytest.mark.parametrize("encoding", ["sq8", "pq8"])
def test_codes_build_from_memmap(memmapped: np.ndarray, encoding: str) -> None:
    q, coll = _split(memmapped)
    params = AnnParams(nlist=64, nprobe=16, encoding=encoding, threads=1)
    index, _ = build_ivf(coll, "cosine", params)
    assert index.ntotal == len(coll)
    aq = augment_queries(q, "cosine", farthest=False)
    truth, _ = top_k_inner(augment_rows(np.asarray(coll), "cosine"), aq, 10)
    _, got = index.search(aq, 10)
    assert recall_at(got, truth) > (0.8 if encoding == "sq8" else 0.3)


def test_unknown_encoding_and_route_are_named() -> None:
    with pytest.raises(ValueError, match="pqx"):
        check_encoding("pqx")
    with pytest.raises(ValueError, match="'far'"):
        AnnParams(divergent="far")


def test_tuned_nprobe_meets_the_target_on_held_out_queries(memmapped: np.ndarray) -> None:
    q, coll = _split(memmapped)
    index, _ = build_ivf(coll, "cosine", AnnParams(nlist=64, threads=1))
    rows = augment_rows(np.asarray(coll), "cosine")
    aq = augment_queries(q, "cosine", farthest=False)
    truth, _ = top_k_inner(rows, aq, 10)
    val, test = slice(0, 100), slice(100, 200)

    def at(nprobe: int):
        index.nprobe = nprobe
        return lambda v: index.search(v, 10)[1]

    tuned = tune("nprobe", at, doubling(64), aq[val], truth[val], 0.95, 50.0)
    assert tuned.chosen.recall >= 0.95
    assert tuned.chosen.value <= 64
    assert [t.value for t in tuned.trials] == sorted(t.value for t in tuned.trials)
    held_out = measure(at(tuned.chosen.value), aq[test], truth[test], tuned.chosen.value)
    assert held_out.recall >= 0.9  # chosen on validation, re-measured on other queries
    if len(tuned.trials) > 1:  # the one before the choice missed the target
        assert tuned.trials[-2].recall < 0.95


def test_doubling() -> None:
    assert doubling(10) == [1, 2, 4, 8, 10]
    assert doubling(8, 2) == [2, 4, 8]


def test_ivf_search_index_answers_farthest_exactly(tmp_path: Path) -> None:
    from pictext.rank.index import SearchIndex
    from pictext.store.features import Features

    x = _clustered(3000, 16, seed=5)
    feats = Features(
        [f"i{i}" for i in range(len(x))], x, np.ones(len(x), bool), image_encoder="t@1"
    )
    params = AnnParams(nlist=32, threads=1, rim_dirs=64, rim_m=10, divergent="bound")
    ix = SearchIndex.build(feats, backend="ivf", ann_params=params)
    queries = _clustered(20, 16, seed=6)
    exact, _ = ix.search(queries, 10, farthest=True, exact=True)
    got, _ = ix.search(queries, 10, farthest=True)
    np.testing.assert_array_equal(got, exact)
    loaded = SearchIndex.load(ix.save(tmp_path / "ix"))
    assert loaded.bounds is not None
    np.testing.assert_array_equal(loaded.search(queries, 10, farthest=True)[0], exact)


def test_ivf_default_route_is_the_rim_pool() -> None:
    from pictext.rank.index import SearchIndex
    from pictext.store.features import Features

    x = _clustered(2000, 16, seed=7)
    feats = Features(
        [f"i{i}" for i in range(len(x))], x, np.ones(len(x), bool), image_encoder="t@1"
    )
    ix = SearchIndex.build(
        feats, backend="ivf", ann_params=AnnParams(nlist=16, threads=1, rim_dirs=8, rim_m=20)
    )
    assert ix.bounds is not None
    assert ix.rim is not None
    got, _ = ix.search(_clustered(5, 16, seed=8), 10, farthest=True)
    assert np.isin(got, ix.rim).all()
