"""A 2-D map of ranking spaces side by side (e.g. raw embedding vs ranking head),
points coloured by class."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pictext.core.figures import figure, save_png


def project(vectors: np.ndarray, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """2-D coordinates: ``pca``, or ``tsne`` after a 50-d PCA (scikit-learn)."""
    from sklearn.decomposition import PCA

    x = np.asarray(vectors, np.float32)
    if method == "pca":
        return PCA(2, random_state=seed).fit_transform(x)
    if method != "tsne":
        raise ValueError(f"unknown projection {method!r}; use 'tsne' or 'pca'")
    from sklearn.manifold import TSNE

    if x.shape[1] > 50 and len(x) > 50:
        x = PCA(50, random_state=seed).fit_transform(x)
    perplexity = float(min(30, max(2, (len(x) - 1) // 3)))
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def ranking_map(
    spaces: dict[str, np.ndarray],
    labels: np.ndarray,
    class_names: Sequence[str],
    path: str | Path,
    *,
    method: str = "tsne",
    max_points: int = 2000,
    seed: int = 0,
) -> Path:
    """One panel per space, the same (sub-sampled) items in each, coloured by class."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    keep = np.flatnonzero(labels >= 0)
    if len(keep) > max_points:
        keep = np.sort(rng.choice(keep, size=max_points, replace=False))
    fig, axes = figure(1, len(spaces), figsize=(6 * len(spaces), 5.5), squeeze=False)
    cmap = "tab10" if len(class_names) <= 10 else "tab20"
    for ax, (name, z) in zip(axes[0], spaces.items(), strict=True):
        xy = project(z[keep], method, seed)
        ax.scatter(
            xy[:, 0],
            xy[:, 1],
            c=labels[keep],
            cmap=cmap,
            s=4,
            vmin=0,
            vmax=max(len(class_names) - 1, 1),
        )
        ax.set_title(f"{name} ({method}, {len(keep)} items)")
        ax.set_xticks([])
        ax.set_yticks([])
    import matplotlib.pyplot as plt

    colors = plt.get_cmap(cmap)
    handles = [
        plt.Line2D(
            [], [], marker="o", ls="", color=colors(i / max(len(class_names) - 1, 1)), label=c
        )
        for i, c in enumerate(class_names)
    ]
    fig.legend(handles=handles, loc="center right", fontsize=7, frameon=False)
    fig.subplots_adjust(right=0.85)
    return save_png(fig, path)
