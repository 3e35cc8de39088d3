"""Retrieval grids (the report's figures 9 and 10): a query, its most similar and its
divergent items, one row per query and space, so the head can be compared with the raw
embedding on the same queries. The column between the two lists names the divergent mode
that answered (:meth:`pictext.rank.divergent.Divergence.describe`)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pictext.core.figures import figure, save_png

if TYPE_CHECKING:
    from PIL import Image


@dataclass
class GridRow:
    """One row of a retrieval grid."""

    name: str  # row title, e.g. "head" or "raw"
    query: str  # query item id
    similar: Sequence[tuple[str, float]]  # (item id, distance), most similar first
    divergent: Sequence[tuple[str, float]]  # (item id, distance), most divergent first
    mode: str = "farthest"  # how the divergent list was chosen (Divergence.describe())


def retrieval_grid(
    rows: Sequence[GridRow],
    picture: Callable[[str], Image.Image],
    label: Callable[[str], str],
    path: str | Path,
    *,
    thumb: float = 1.15,
) -> Path:
    """Draw the grid and save it as PNG.

    Args:
        rows: the rows, top to bottom.
        picture: item id -> RGB image.
        label: item id -> short caption (its class).
        path: output PNG.
        thumb: size of one cell in inches.
    """
    n_sim = max(len(r.similar) for r in rows)
    n_div = max(len(r.divergent) for r in rows)
    cols = 1 + n_sim + 1 + n_div  # a blank column between similar and divergent
    fig, axes = figure(
        len(rows), cols, figsize=(cols * thumb, len(rows) * (thumb + 0.5)), squeeze=False
    )
    for ax in axes.ravel():
        ax.axis("off")
    for i, row in enumerate(rows):
        cells = [(0, row.query, f"{row.name}\nquery: {label(row.query)}")]
        cells += [
            (1 + j, item, f"{label(item)}\nd={d:.2f}") for j, (item, d) in enumerate(row.similar)
        ]
        cells += [
            (2 + n_sim + j, item, f"{label(item)}\nd={d:.2f}")
            for j, (item, d) in enumerate(row.divergent)
        ]
        gap = axes[i, 1 + n_sim]
        gap.text(
            0.5,
            0.5,
            textwrap.fill(row.mode, 13),
            transform=gap.transAxes,
            fontsize=7,
            ha="center",
            va="center",
            style="italic",
        )
        for col, item, caption in cells:
            ax = axes[i, col]
            ax.imshow(picture(item))
            ax.set_title(caption, fontsize=7)
            if col == 0:
                for side in ax.spines.values():
                    side.set_edgecolor("tab:blue")
    for col, text in ((1, "most similar ->"), (2 + n_sim, "most divergent ->")):
        ax = axes[0, col]
        ax.text(0, 1.6, text, transform=ax.transAxes, fontsize=10, weight="bold")
    return save_png(fig, path)
