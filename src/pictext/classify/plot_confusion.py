"""The most-confused class pairs, as a bar chart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pictext.classify.metrics import confusion_matrix, most_confused_pairs
from pictext.core.figures import figure, save_png


def plot_confused_pairs(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: Sequence[str],
    path: str | Path,
    k: int = 15,
    title: str = "",
) -> Path:
    """Horizontal bars of the ``k`` largest off-diagonal confusion counts ("true -> predicted").

    Each bar is annotated with the share of the true class it represents.
    """
    from matplotlib.ticker import MaxNLocator

    cm = confusion_matrix(y_true, y_pred, len(classes))
    pairs = most_confused_pairs(cm, k)
    fig, ax = figure(figsize=(8, 0.35 * max(len(pairs), 3) + 1))
    if not pairs:
        ax.text(0.5, 0.5, "no confusions", ha="center", va="center")
    else:
        names = [f"{classes[t]} → {classes[p]}" for t, p, _ in pairs][::-1]
        counts = [c for _, _, c in pairs][::-1]
        shares = [c / max(cm[t].sum(), 1) for t, _, c in pairs][::-1]
        ax.barh(names, counts, color="tab:red", alpha=0.7)
        for i, (c, s) in enumerate(zip(counts, shares, strict=True)):
            ax.text(c, i, f" {c} ({100 * s:.0f}% of class)", va="center", fontsize=8)
        ax.set_xlabel("test items (true → predicted)")
        ax.set_xlim(0, max(counts) * 1.35)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title or "most-confused class pairs")
    return save_png(fig, path)
