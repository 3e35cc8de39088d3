from __future__ import annotations

import numpy as np
import pytest

from pictext.rank.head import RankingHead
from pictext.rank.space import blend_space, choose_blend, precision_at_k
from pictext.store.features import Features


def test_blend_cosine_is_the_weighted_mean_of_the_two_cosines() -> None:
    rng = np.random.default_rng(0)
    h, r = rng.normal(size=(5, 4)), rng.normal(size=(5, 7))
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    for w in (0.0, 0.3, 1.0):
        z = blend_space(h, r, w)
        assert z.shape == (5, 11)
        np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1, atol=1e-6)
        want = w * unit(h) @ unit(h).T + (1 - w) * unit(r) @ unit(r).T
        np.testing.assert_allclose(z @ z.T, want, atol=1e-5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        blend_space(h, r, 1.5)


def test_precision_at_k_counts_neighbours_of_the_query_class() -> None:
    index = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], np.float32)
    labels = np.array([0, 0, 1, 1])
    q = np.array([[1, 0.05], [0.05, 1]], np.float32)
    assert precision_at_k(index, labels, q, np.array([0, 1]), k=2) == 1.0
    assert precision_at_k(index, labels, q, np.array([1, 0]), k=2) == 0.0
    assert precision_at_k(index, labels, q, np.array([0, 0]), k=2) == 0.5


def test_choose_blend_picks_the_raw_space_when_the_head_is_useless() -> None:
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(3), 30)
    x = (3 * np.eye(3)[y] + 0.3 * rng.normal(size=(90, 3))).astype(np.float32)
    x = np.concatenate([x, rng.normal(size=(90, 5)).astype(np.float32)], axis=1)
    f = Features([str(i) for i in range(90)], x, np.ones(90, bool), image_encoder="toy@1")
    # a head trained on shuffled labels: its space carries no class
    head = RankingHead(embed_dim=8, epochs=3, progress=False).fit(f, rng.permutation(y))
    tr, va = np.arange(0, 90, 2), np.arange(1, 90, 2)
    w, scores = choose_blend(head, f.subset(tr), y[tr], f.subset(va), y[va], grid=(0.0, 1.0))
    assert list(scores) == [0.0, 1.0]
    assert scores[0.0] > scores[1.0]
    assert w == 0.0
    with pytest.raises(ValueError, match="at least one"):
        choose_blend(head, f.subset(tr), y[tr], f.subset(va), y[va], grid=())
