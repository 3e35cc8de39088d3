"""Saving figures: Agg backend, written atomically (:mod:`pictext.core.atomic`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pictext.core.atomic import atomic_write


def figure(*args: Any, **kwargs: Any) -> Any:
    """A new matplotlib figure on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def save_png(fig: Any, path: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` as PNG at ``path`` atomically and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png"))
    finally:
        plt.close(fig)
    return path
