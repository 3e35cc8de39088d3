from __future__ import annotations

import numpy as np
import pytest

from pictext.rank.metrics import (
    class_coverage,
    intra_list_diversity,
    retrieval_scores,
    score_at_top_k,
    triplet_accuracy,
)

# points on a line: row i sits at X[i]
X = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [30.0]], np.float32)


def test_triplet_accuracy_known_answer() -> None:
    trip = np.array(
        [
            [0, 1, 3],  # 1 < 10: correct
            [0, 3, 1],  # 10 < 1: wrong
            [2, 1, 3],  # 1 < 8: correct
            [4, 3, 2],  # 1 < 9: correct
            [1, 0, 2],  # tie 1 == 1: wrong
        ]
    )
    assert triplet_accuracy(X, trip) == pytest.approx(3 / 5)


def test_triplet_accuracy_refuses_empty() -> None:
    with pytest.raises(ValueError, match="zero triplets"):
        triplet_accuracy(X, np.zeros((0, 3), np.int64))


def test_score_at_top_k_known_answer() -> None:
    # top-2 of query 0 is {1, 2}; of query 5 is {4, 3}
    trip = np.array(
        [
            [0, 1, 3],  # p=1 in top: correct          -> +1
            [0, 3, 2],  # n=2 in top: wrong            -> -1
            [0, 3, 4],  # neither in top: not counted
            [5, 4, 0],  # p=4 in top: correct          -> +1
            [5, 0, 3],  # n=3 in top, D=30 > 20: wrong -> -1
            [5, 3, 4],  # both in top, 20 > 19: wrong  -> -1
        ]
    )
    s = score_at_top_k(X, trip, k=2)
    assert (s.correct, s.incorrect, s.considered, s.total) == (2, 3, 5, 6)
    assert s.score == -1
    assert s.normalized == pytest.approx(-1 / 5)


def test_score_at_top_k_excludes_the_query_itself() -> None:
    # with k=1 the top of query 0 is row 1, not row 0
    s = score_at_top_k(X, np.array([[0, 2, 1]]), k=1)
    assert (s.considered, s.incorrect) == (1, 1)


def test_map_and_precision_known_answer() -> None:
    z = np.array([[0.0], [1.0], [3.0], [6.0]], np.float32)
    y = np.array([0, 1, 0, 1])
    r = retrieval_scores(z, y, ks=(1, 2))
    # query 0: ranking 1(x) 2(v) 3(x): AP = 1/2
    # query 1: ranking 0(x) 2(x) 3(v) (ties 0/2 at distance 1 and 2: 0 first): AP = 1/3
    # query 2: ranking 1(x) 0(v) 3(x): 1 at d=2, 0 at d=3, 3 at d=3 -> 0 before 3: AP = 1/2
    # query 3: ranking 2(x) 1(v) 0(x): AP = 1/2
    assert r.map == pytest.approx((0.5 + 1 / 3 + 0.5 + 0.5) / 4)
    assert r.map_by_class[1] == pytest.approx((1 / 3 + 0.5) / 2)
    assert r.precision_at[1] == 0.0
    assert r.precision_at[2] == pytest.approx((0.5 + 0 + 0.5 + 0.5) / 4)


def test_map_is_one_for_separated_classes() -> None:
    z = np.array([[0.0], [0.1], [5.0], [5.1], [5.2]], np.float32)
    r = retrieval_scores(z, np.array([0, 0, 1, 1, 1]))
    assert r.map == pytest.approx(1.0)


def test_diversity_measures() -> None:
    z = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]], np.float32)
    assert intra_list_diversity(z, [0, 1, 2]) == pytest.approx((5 + 4 + 3) / 3)
    assert intra_list_diversity(z, [1]) == 0.0
    assert class_coverage(np.array([0, 0, 2]), [0, 1, 2]) == 2


def test_retrieval_scores_on_a_query_sample_estimate_the_full_ones() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 3000)
    z = (rng.normal(size=(5, 8))[y] + 1.5 * rng.normal(size=(3000, 8))).astype(np.float32)
    full = retrieval_scores(z, y)
    part = retrieval_scores(z, y, max_queries=600, seed=1)
    assert abs(part.map - full.map) < 0.03
    assert abs(part.precision_at[10] - full.precision_at[10]) < 0.03
    assert (
        retrieval_scores(z[:50], y[:50], max_queries=600).map
        == retrieval_scores(z[:50], y[:50]).map
    )  # fewer rows than the sample: every row is a query
