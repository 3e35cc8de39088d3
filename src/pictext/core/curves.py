"""Learning curves: training loss and validation top-1 per epoch."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pictext.core.figures import figure, save_png


def plot_learning_curves(
    histories: Mapping[str, Mapping[str, Any]], path: str | Path, title: str = ""
) -> Path:
    """One line per run: loss (left) and validation top-1 % (right); a dot marks the kept epoch.

    Args:
        histories: run name -> ``History.to_dict()`` (``loss``, ``val_score``, ``best_epoch``).
        path: PNG to write.
        title: figure title.
    """
    if not histories:
        raise ValueError("no histories to plot")
    fig, (ax_loss, ax_val) = figure(1, 2, figsize=(11, 4))
    for name, h in histories.items():
        epochs = range(1, len(h["loss"]) + 1)
        (line,) = ax_loss.plot(epochs, h["loss"], label=name)
        if h.get("val_score"):
            val = [100 * v for v in h["val_score"]]
            ax_val.plot(range(1, len(val) + 1), val, color=line.get_color(), label=name)
            b = h.get("best_epoch", -1)
            if 0 <= b < len(val):
                ax_val.plot([b + 1], [val[b]], "o", color=line.get_color())
    # A fusion head with auxiliary heads sums three losses: compare its shape, not its level.
    ax_loss.set(xlabel="epoch", ylabel="training loss", title="loss (fusion: + auxiliary heads)")
    ax_val.set(xlabel="epoch", ylabel="validation top-1 (%)", title="validation top-1 (dot: kept)")
    ax_val.legend(fontsize=7, loc="lower right")
    ax_loss.grid(alpha=0.3)
    ax_val.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return save_png(fig, path)
