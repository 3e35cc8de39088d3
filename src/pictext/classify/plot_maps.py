"""Embedding maps (the study's figures 7 and 10): t-SNE (or UMAP) coloured by class,
with image thumbnails on some points."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pictext.core.figures import figure, save_png
from pictext.core.projection import project_2d

if TYPE_CHECKING:
    from PIL import Image

    from pictext.classify.fusion import FusionClassifier
    from pictext.store.features import Features


def plot_embedding_map(
    vectors: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    path: str | Path,
    *,
    thumbnail: Callable[[int], Image.Image | None] | None = None,
    n_thumbnails: int = 40,
    method: str = "tsne",
    seed: int = 0,
    title: str = "",
) -> Path:
    """Scatter of a 2-D projection, one colour per class, thumbnails on some points.

    The projection is :func:`pictext.core.projection.project_2d`, the one every map uses.

    Args:
        vectors: ``[N, D]`` embeddings.
        labels: class index per row.
        classes: class names (index -> name).
        path: PNG to write.
        thumbnail: row index -> small image (or None) drawn at that point.
        n_thumbnails: how many points get a thumbnail (spread over classes).
        method: ``"tsne"``, ``"pca"`` or ``"umap"``.
        seed: projection and thumbnail choice seed.
        title: axes title.
    """
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    xy = project_2d(vectors, method, seed)
    fig, ax = figure(figsize=(10, 9))
    cmap = _colours(len(set(labels.tolist())))
    for k, c in enumerate(sorted(set(labels.tolist()))):
        sel = labels == c
        ax.scatter(xy[sel, 0], xy[sel, 1], s=12, color=cmap[k], label=classes[c], alpha=0.8)
    if thumbnail is not None:
        for i in _spread(labels, n_thumbnails, seed):
            img = thumbnail(int(i))
            if img is not None:
                img.thumbnail((40, 40))
                box = AnnotationBbox(
                    OffsetImage(np.asarray(img), zoom=0.8), xy[i], frameon=True, pad=0.1
                )
                ax.add_artist(box)
    ax.legend(fontsize=8, markerscale=2, loc="best")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or f"{method} map")
    return save_png(fig, path)


def model_maps(
    model: FusionClassifier,
    feats: Features,
    labels: np.ndarray,
    out_dir: str | Path,
    *,
    thumbnail: Callable[[int], Image.Image | None] | None = None,
    n_classes: int = 10,
    max_points: int = 600,
    seed: int = 0,
) -> list[Path]:
    """Three maps for the ``n_classes`` largest classes: raw text embeddings, tuned text
    embeddings and the fusion layer (``raw_text.png``, ``tuned_text.png``, ``fusion.png``)."""
    from pictext.store.inputs import input_array

    rows = _pick_rows(labels, n_classes, max_points, seed)
    sub, y = feats.subset(rows), labels[rows]
    text_inputs = [n for n in model.config.inputs if n != "image"]
    thumb = None if thumbnail is None else (lambda i: thumbnail(int(rows[i])))
    out, layers = Path(out_dir), []
    if text_inputs:
        raw = np.concatenate(
            [np.where(m[:, None], a, 0) for a, m in (input_array(sub, n) for n in text_inputs)], 1
        )
        tuned = np.concatenate([model.embed(sub, f"tuned:{n}") for n in text_inputs], 1)
        layers += [
            ("raw_text", raw, "raw text embeddings"),
            ("tuned_text", tuned, "tuned text embeddings"),
        ]
    layers.append(("fusion", model.embed(sub, "fusion"), "fusion layer"))
    return [
        plot_embedding_map(
            v,
            y,
            model.classes_,
            out / f"{name}.png",
            thumbnail=thumb,
            seed=seed,
            title=f"t-SNE of {what}",
        )
        for name, v, what in layers
    ]


def _pick_rows(labels: np.ndarray, n_classes: int, max_points: int, seed: int) -> np.ndarray:
    counts = np.bincount(labels)
    top = np.argsort(-counts, kind="stable")[:n_classes]
    rows = np.flatnonzero(np.isin(labels, top))
    if len(rows) > max_points:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_points, replace=False))
    return rows


def _spread(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    classes = sorted(set(labels.tolist()))
    per = max(1, n // max(len(classes), 1))
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per] for c in classes]
    return np.concatenate(picks) if picks else np.array([], int)


def _colours(n: int) -> list:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]
