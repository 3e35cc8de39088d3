"""Saving figures: Agg backend, temporary file + rename."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path
