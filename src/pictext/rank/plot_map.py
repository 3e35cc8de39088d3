"""A 2-D map of ranking spaces side by side (e.g. raw embedding vs ranking head),
points coloured by class."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pictext.core.figures import figure, save_png
from pictext.core.projection import project_2d


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
    """One panel per space, the same (sub-sampled) items in each, coloured by class.

    Each panel is :func:`pictext.core.projection.project_2d` of that space, the projection of
    the classification maps and the web page's map.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    keep = np.flatnonzero(labels >= 0)
    if len(keep) > max_points:
        keep = np.sort(rng.choice(keep, size=max_points, replace=False))
    fig, axes = figure(1, len(spaces), figsize=(6 * len(spaces), 5.5), squeeze=False)
    cmap = "tab10" if len(class_names) <= 10 else "tab20"
    for ax, (name, z) in zip(axes[0], spaces.items(), strict=True):
        xy = project_2d(z[keep], method, seed)
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
