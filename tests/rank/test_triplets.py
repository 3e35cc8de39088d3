from __future__ import annotations

import numpy as np
import pytest

from pictext.rank.triplets import (
    HARD,
    IN_CLASS,
    OUT_OF_CLASS,
    sample_triplets,
    semi_hard_negatives,
)


def test_positives_share_the_class_negatives_do_not() -> None:
    labels = np.array([-1, 0, 0, 0, 1, 1, 2, 2, 2, -1])
    trip, kind = sample_triplets(labels, np.random.default_rng(0), n=3000, hard_negatives=False)
    q, p, n = trip.T
    assert (labels[trip] >= 0).all()
    assert (labels[q] == labels[p]).all()
    assert (q != p).all()
    assert (labels[q] != labels[n]).all()
    assert (kind == OUT_OF_CLASS).all()
    # every usable row is drawn as a query, and negatives cover every other class
    assert set(q) == {1, 2, 3, 4, 5, 6, 7, 8}
    assert set(n[labels[q] == 0]) == {4, 5, 6, 7, 8}


def test_hard_share_follows_out_of_class_frac() -> None:
    labels = np.repeat(np.arange(4), 50)
    _, kind = sample_triplets(labels, np.random.default_rng(1), n=20000, out_of_class_frac=0.2)
    assert set(np.unique(kind)) == {OUT_OF_CLASS, HARD}
    assert np.mean(kind == OUT_OF_CLASS) == pytest.approx(0.2, abs=0.02)


def test_fine_labels_give_in_class_negatives() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    fine = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    trip, kind = sample_triplets(labels, np.random.default_rng(2), n=4000, fine_labels=fine)
    q, p, n = trip.T
    assert (fine[q] == fine[p]).all()
    inc = kind == IN_CLASS
    assert np.mean(inc) == pytest.approx(0.8, abs=0.03)
    assert (labels[q[inc]] == labels[n[inc]]).all()
    assert (fine[q[inc]] != fine[n[inc]]).all()
    assert (labels[q[~inc]] != labels[n[~inc]]).all()


def test_needs_two_classes() -> None:
    with pytest.raises(ValueError, match="two classes"):
        sample_triplets(np.zeros(5, np.int64), np.random.default_rng(0))


def test_semi_hard_known_answer() -> None:
    torch = pytest.importorskip("torch")
    d_qp = torch.tensor([1.0, 1.0, 1.0])
    d_qc = torch.tensor([[0.5, 1.2, 1.5, 1.1], [0.2, 0.8, 3.0, 0.9], [1.0, 2.0, 3.0, 4.0]])
    other = torch.tensor([[True, True, True, False], [True, True, False, False], [False] * 4])
    idx, found = semi_hard_negatives(d_qp, d_qc, other)
    # row 0: closest other-class candidate farther than the positive is 1.2 (column 1);
    # row 1: none farther, so the least hard violating one (0.8, column 1); row 2: none
    assert idx[:2].tolist() == [1, 1]
    assert found.tolist() == [True, True, False]
