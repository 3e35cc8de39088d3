"""The one 2-D projection: the classification report's t-SNE, PCA, small inputs, the
collection map's cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pictext.core.projection import collection_map, project_2d, unit_square

pytest.importorskip("sklearn")


def _clusters(n: int = 45, dim: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    return (np.eye(dim)[y] * 4 + rng.normal(size=(n, dim))).astype(np.float32), y


def test_tsne_is_the_classification_reports_projection() -> None:
    from sklearn.manifold import TSNE

    x, _ = _clusters()
    # What classify/plot_maps.py ran before the projection moved to core: same numbers.
    want = TSNE(2, perplexity=float(min(30, max(2, 44 // 3))), init="pca", random_state=3)
    np.testing.assert_array_equal(project_2d(x, "tsne", seed=3), want.fit_transform(x))


def test_every_map_uses_the_one_projection() -> None:
    from pictext.classify import plot_maps
    from pictext.rank import plot_map

    assert plot_maps.project_2d is project_2d
    assert plot_map.project_2d is project_2d


def test_pca_keeps_clusters_apart_and_unknown_methods_fail() -> None:
    x, y = _clusters()
    xy = project_2d(x, "pca")
    centres = np.array([xy[y == c].mean(axis=0) for c in range(3)])
    spread = max(np.linalg.norm(xy[y == c] - centres[c], axis=1).max() for c in range(3))
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a, b in [(0, 1), (0, 2), (1, 2)]]
    assert min(gaps) > spread
    with pytest.raises(ValueError, match="unknown projection 'nope'"):
        project_2d(x, "nope")


@pytest.mark.parametrize("n", [0, 1, 2])
def test_too_few_points_lie_on_a_line(n: int) -> None:
    xy = project_2d(np.ones((n, 4), np.float32), "tsne")
    assert xy.shape == (n, 2)
    assert unit_square(xy).shape == (n, 2)


def test_unit_square() -> None:
    xy = unit_square(np.array([[0.0, 5.0], [2.0, 5.0], [1.0, 5.0]]))
    np.testing.assert_allclose(xy, [[0, 0], [1, 0], [0.5, 0]])


def test_collection_map_is_computed_once_and_recomputed_when_stale(tmp_path: Path) -> None:
    x, _ = _clusters(12)
    ids = [f"i{k}" for k in range(12)]
    path = tmp_path / "map.json"
    first = collection_map(path, "build-1", ids, x, "pca")
    np.testing.assert_allclose(first, unit_square(project_2d(x, "pca")))
    assert json.loads(path.read_text())["key"] == "build-1"
    again = collection_map(path, "build-1", ids, x * 0, "pca")  # read back, not recomputed
    np.testing.assert_allclose(again, np.round(first, 5))
    fresh = collection_map(path, "build-2", ids, -x, "pca")
    assert json.loads(path.read_text())["key"] == "build-2"
    assert not np.allclose(fresh, again)
    path.write_text("{broken")
    np.testing.assert_allclose(collection_map(path, "build-2", ids, -x, "pca"), fresh)


def test_large_collections_are_mapped_by_pca(tmp_path: Path) -> None:
    x, _ = _clusters(30)
    ids = [f"i{k}" for k in range(30)]
    xy = collection_map(tmp_path / "m.json", "k", ids, x, "tsne", tsne_max=10)
    np.testing.assert_allclose(xy, unit_square(project_2d(x, "pca")))
