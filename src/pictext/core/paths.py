"""Where pictext keeps its caches."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(sub: str = "") -> Path:
    """The cache root (``$PICTEXT_CACHE``, default ``~/.cache/pictext``), or a folder in it.

    The folder is created when missing.
    """
    root = Path(os.environ.get("PICTEXT_CACHE") or Path.home() / ".cache" / "pictext")
    path = root / sub if sub else root
    path.mkdir(parents=True, exist_ok=True)
    return path
