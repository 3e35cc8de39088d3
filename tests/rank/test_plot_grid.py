from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pictext.core.projection import project_2d
from pictext.rank.plot_grid import GridRow, retrieval_grid
from pictext.rank.plot_map import ranking_map

pytest.importorskip("matplotlib")


def test_retrieval_grid_png(tmp_path) -> None:
    colours = {f"i{k}": (40 * k % 255, 100, 200) for k in range(11)}
    rows = [
        GridRow(
            "raw",
            "i0",
            [(f"i{k}", 0.1 * k) for k in range(1, 6)],
            [(f"i{k}", 1.0 + 0.1 * k) for k in range(6, 11)],
        ),
        GridRow(
            "head",
            "i0",
            [(f"i{k}", 0.1 * k) for k in range(1, 6)],
            [(f"i{k}", 1.0 + 0.1 * k) for k in range(6, 11)],
        ),
    ]
    out = retrieval_grid(
        rows,
        lambda i: Image.new("RGB", (16, 16), colours[i]),
        lambda i: f"class-{i}",
        tmp_path / "grid.png",
    )
    img = Image.open(out)
    assert img.width > 2 * img.height  # 12 columns, 2 rows
    assert not list(tmp_path.glob(".*tmp*"))


def test_retrieval_grid_names_the_divergent_mode(tmp_path, monkeypatch) -> None:
    import pictext.rank.plot_grid as plot_grid

    drawn = []
    save = plot_grid.save_png

    def keep(fig, path):
        drawn.append(fig)
        return save(fig, path)

    monkeypatch.setattr(plot_grid, "save_png", keep)
    rows = [
        GridRow("head", "i0", [("i1", 0.1)], [("i2", 1.2), ("i3", 1.1)], "diverse (spread 0.5)"),
        GridRow("head", "i0", [("i1", 0.1)], [("i2", 1.2), ("i4", 1.2)], "farthest"),
    ]
    retrieval_grid(rows, lambda i: Image.new("RGB", (8, 8)), str, tmp_path / "grid.png")
    texts = [t.get_text().replace("\n", " ") for ax in drawn[0].axes for t in ax.texts]
    assert "diverse (spread 0.5)" in texts
    assert "farthest" in texts


def test_ranking_map_png_and_projection(tmp_path) -> None:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    z = np.eye(3)[y] + 0.1 * rng.normal(size=(60, 3))
    xy = project_2d(z, "pca")
    assert xy.shape == (60, 2)
    # PCA keeps the three clusters apart
    centres = np.array([xy[y == c].mean(axis=0) for c in range(3)])
    spread = max(np.linalg.norm(xy[y == c] - centres[c], axis=1).max() for c in range(3))
    assert (
        min(np.linalg.norm(centres[a] - centres[b]) for a, b in [(0, 1), (0, 2), (1, 2)]) > spread
    )
    out = ranking_map(
        {"raw": z, "head": z * 2}, y, ["a", "b", "c"], tmp_path / "map.png", method="pca"
    )
    assert Image.open(out).width > 800
    with pytest.raises(ValueError, match="unknown projection"):
        project_2d(z, "nope")
