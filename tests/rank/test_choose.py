"""The index chooser: exact for small collections, IVF above the size, its recall measured."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pictext.rank.choose import EXACT_MAX_FLOATS, choose_backend
from pictext.rank.index import SearchIndex
from pictext.store.features import Features


def test_backend_follows_rows_times_width_unless_named() -> None:
    assert choose_backend(950, 1280) == "exact"
    assert choose_backend(70_000, 1280) == "ivf"
    assert choose_backend(EXACT_MAX_FLOATS // 256, 256) == "exact"
    assert choose_backend(EXACT_MAX_FLOATS // 256 + 1, 256) == "ivf"
    assert choose_backend(10**7, 256, "exact") == "exact"
    with pytest.raises(ValueError, match="unknown index backend"):
        choose_backend(5, 5, "annoy")


def _features(n: int, d: int, seed: int = 0) -> tuple[Features, list[str]]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 8, n)
    x = (rng.normal(size=(8, d))[y] * 2 + rng.normal(size=(n, d))).astype(np.float32)
    return Features([str(i) for i in range(n)], x, np.ones(n, bool), image_encoder="t@1"), [
        f"c{c}" for c in y
    ]


def test_default_build_is_exact_when_small_and_ivf_measured_when_large(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("faiss")
    feats, labels = _features(3000, 16)
    small = SearchIndex.build(feats, labels=labels)
    assert small.manifest.backend == "exact"
    assert small.manifest.measured is None
    monkeypatch.setattr("pictext.rank.choose.EXACT_MAX_FLOATS", 1000 * 16)
    big = SearchIndex.build(feats, labels=labels, measure_queries=50)
    assert big.manifest.backend == "ivf"
    m = big.manifest.measured
    assert m["queries"] == 50
    assert 0.8 <= m["similar_recall"] <= 1.0
    assert 0.5 < m["divergent_distance_ratio"] <= 1.01
    assert m["divergent_classes_ratio"] > 0.3
    big.save(tmp_path / "ix")
    assert SearchIndex.load(tmp_path / "ix").manifest.measured == m
