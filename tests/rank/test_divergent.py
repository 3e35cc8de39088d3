"""Divergent lists: pure farthest vs far-and-spread (known answers on a cluster layout)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pictext.rank.divergent import Divergence, distance_floor, divergent_rows, far_set
from pictext.rank.index import SearchIndex
from pictext.store.features import Features


def _layout(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows in 8-d: row 0 is the query; cluster "anti" (12 rows) lies farthest from it
    (cosine -0.9), clusters "a".."e" (8 rows each) far but less (cosine -0.6), each in its
    own direction, and clusters "n0".."n2" near it (cosine 0.8)."""
    rng = np.random.default_rng(seed)
    e = np.eye(8)
    centres = {"anti": -0.9 * e[0] + np.sqrt(0.19) * e[7]}
    for name, axis in zip("abcde", range(1, 6), strict=True):
        centres[name] = -0.6 * e[0] + 0.8 * e[axis]
    for i, side in enumerate((e[6], -e[6], -e[7])):
        centres[f"n{i}"] = 0.8 * e[0] + 0.6 * side
    rows, labels = [e[0]], ["query"]
    for name, c in centres.items():
        n = 12 if name == "anti" else 8
        rows += list(c + 0.03 * rng.normal(size=(n, 8)))
        labels += [name] * n
    x = np.array(rows, np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.array(labels)


DIVERSE = Divergence("diverse", spread=0.5, quantile=0.5)


def test_farthest_returns_one_cluster_and_diverse_several() -> None:
    x, labels = _layout()
    far, far_d = divergent_rows(x, x[0], 10, Divergence("farthest"), exclude={0})
    assert set(labels[far]) == {"anti"}
    np.testing.assert_allclose(far_d, np.sort(np.linalg.norm(x[1:] - x[0], axis=1))[::-1][:10])
    rows, dist = divergent_rows(x, x[0], 10, DIVERSE, exclude={0})
    assert len(rows) == 10
    assert len(set(labels[rows])) >= 5  # "anti" and the five halfway clusters
    assert not any(lab.startswith("n") for lab in labels[rows])  # never near the query
    assert rows[0] == far[0]  # the farthest item still leads
    assert all(a >= b for a, b in itertools.pairwise(dist))  # most distant first
    np.testing.assert_allclose(dist, np.linalg.norm(x[rows] - x[0], axis=1), atol=1e-6)


def test_distance_floor_is_respected() -> None:
    x, _ = _layout()
    d = np.linalg.norm(x[1:] - x[0], axis=1)
    for q in (0.3, 0.6, 0.85):
        rows, dist = divergent_rows(x, x[0], 6, Divergence("diverse", 1.0, q), exclude={0})
        assert len(rows) == 6
        assert dist.min() >= np.quantile(d, q) - 1e-6
        assert 0 not in rows


def test_spread_zero_is_the_farthest_list() -> None:
    x, _ = _layout(1)
    far, _ = divergent_rows(x, x[0], 7, Divergence("farthest"), exclude={0})
    rows, _ = divergent_rows(x, x[0], 7, Divergence("diverse", 0.0, 0.5), exclude={0})
    assert rows.tolist() == far.tolist()


def test_k_is_respected_and_the_answer_deterministic() -> None:
    x, _ = _layout(2)
    n = len(x)
    # at quantile 0.95 only ~3 rows reach the floor: it drops so that the list is k long
    assert len(divergent_rows(x, x[0], 9, Divergence("diverse", 0.5, 0.95))[0]) == 9
    assert len(divergent_rows(x, x[0], 500, DIVERSE, exclude={0})[0]) == n - 1
    assert len(divergent_rows(x, x[0], 0, DIVERSE)[0]) == 0
    a = divergent_rows(x, x[0], 8, DIVERSE, exclude={0})
    b = divergent_rows(x.copy(), x[0].copy(), 8, DIVERSE, exclude={0})
    assert a[0].tolist() == b[0].tolist()
    assert len(set(a[0].tolist())) == 8


def test_more_spread_covers_more_clusters() -> None:
    x, labels = _layout(3)
    covered = [
        len(set(labels[divergent_rows(x, x[0], 6, Divergence("diverse", s, 0.5), exclude={0})[0]]))
        for s in (0.0, 0.2, 0.8)
    ]
    assert covered[0] == 1
    assert covered[-1] >= 5
    assert covered == sorted(covered)


def test_scan_and_sampled_floor() -> None:
    x, _ = _layout(4)
    scan = np.arange(1, len(x), 2)
    rows, dist = divergent_rows(x, x[0], 5, DIVERSE, scan=scan, floor_sample=20)
    assert set(rows.tolist()) <= set(scan.tolist())
    assert dist.min() >= distance_floor(x, x[0], 0.5, sample=20) - 1e-6
    # with every row sampled, the sampled floor is the exact one
    exact = float(np.quantile(np.linalg.norm(x - x[0], axis=1), 0.5))
    assert distance_floor(x, x[0], 0.5, sample=10_000) == pytest.approx(exact)


def test_far_set_keeps_the_farthest_and_bounds_the_pool() -> None:
    d = np.random.default_rng(0).random(1000)
    far = far_set(d, 10, float(np.quantile(d, 0.2)), pool=50)
    assert len(far) == 50
    assert set(np.argsort(-d)[:10].tolist()) <= set(far.tolist())
    assert d[far].min() >= np.quantile(d, 0.2)
    # fewer than k beyond the floor: the k largest
    assert set(far_set(d, 5, 2.0, pool=50).tolist()) == set(np.argsort(-d)[:5].tolist())


@pytest.mark.parametrize(
    ("args", "match"),
    [(("nearest",), "unknown divergent mode"), (("diverse", 1.5), "spread"),
     (("diverse", 0.5, 1.0), "quantile")],
)  # fmt: skip
def test_bad_knobs_are_refused(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Divergence(*args)


def test_describe_names_the_mode() -> None:
    assert Divergence("farthest").describe() == "farthest"
    text = Divergence("diverse", 0.25, 0.9).describe()
    assert "diverse" in text
    assert "0.25" in text
    assert "90th" in text
    assert Divergence().to_dict()["describe"] == Divergence().describe()


# ---- through the index: rows, new items' Features, text, exact and FAISS ---------------------
def _index(backend: str = "exact", **options) -> tuple[SearchIndex, np.ndarray, Features]:
    x, labels = _layout()
    x = np.concatenate([x, x[1:] * 0.99])  # more rows (the FAISS builders want some)
    labels = np.concatenate([labels, labels[1:]])
    f = Features(
        [f"it{i}" for i in range(len(x))], x, np.ones(len(x), bool),
        {"text": x}, {"text": np.ones(len(x), bool)}, "toy@1", "txt@1",
    )  # fmt: skip
    return SearchIndex.build(f, labels=list(labels), backend=backend, **options), labels, f


def test_index_answers_rows_vectors_and_features_alike() -> None:
    ix, _labels, f = _index()
    by_row = ix.divergent_to(0, 10, DIVERSE)
    assert len(by_row) == 10
    assert 0 not in [h.row for h in by_row]
    assert len({h.label for h in by_row}) >= 5
    far = ix.divergent_to(0, 10, Divergence("farthest"))
    assert {h.label for h in far} == {"anti"}
    new_item = f.subset(np.array([0]))
    by_features = ix.divergent_to(new_item, 10, DIVERSE)
    by_vector = ix.divergent_to(ix.to_space(new_item)[0], 10, DIVERSE)
    assert [h.id for h in by_features] == [h.id for h in by_vector]
    assert len({h.label for h in by_features}) >= 5
    text = ix.text_search(f.image[0], 10, farthest=True, divergence=DIVERSE)
    assert len({h.label for h in text}) >= 5


def test_default_mode_is_diverse() -> None:
    ix, _, _ = _index()
    assert Divergence().mode == "diverse"
    assert [h.id for h in ix.divergent_to(0, 6)] == [h.id for h in ix.divergent_to(0, 6, None)]
    assert [h.id for h in ix.divergent_to(0, 6)] == [
        h.id for h in ix.divergent_to(0, 6, Divergence())
    ]


def test_faiss_index_answers_from_its_rim_pool() -> None:
    pytest.importorskip("faiss")
    from pictext.rank.ann import AnnParams

    ix, _labels, _ = _index("hnsw", ann_params=AnnParams(rim_dirs=64, rim_m=30))
    assert ix.rim is not None
    assert len(ix.rim) < len(ix)
    hits = ix.divergent_to(0, 10, DIVERSE)
    assert len(hits) == 10
    assert {h.row for h in hits} <= set(ix.rim.tolist())
    assert len({h.label for h in hits}) >= 4
    exact, _, _ = _index()
    floor = distance_floor(exact.vectors, exact.vectors[0], DIVERSE.quantile)
    assert min(h.distance for h in hits) >= floor - 0.05  # the sampled floor is close
