"""pictext: image collections with text, CPU-first and offline.

Start with :func:`load`: ``pictext.load("runs/demo")`` opens a bundle (or one saved
classifier, index or captioner) and returns a :class:`~pictext.bundle.model.Model` that
tags, verifies, finds similar and divergent items, recommends, captions and browses.
:class:`Dataset` and :class:`Item` are the collections and their items.

Importing ``pictext`` is light: no torch, no web server, no plotting (``load`` imports what
it needs when called).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pictext.data.dataset import Dataset
from pictext.data.item import Item

if TYPE_CHECKING:
    from pictext.bundle.model import Model

__version__ = "0.1.0"

__all__ = ["Dataset", "Item", "Model", "__version__", "load"]


def load(path: Any, **options: Any) -> Model:
    """Open a bundle or one saved part: see :func:`pictext.bundle.model.load`.

    Example:
        >>> import pictext  # doctest: +SKIP
        >>> model = pictext.load("runs/demo")  # doctest: +SKIP
        >>> model.tag("cat.png")  # doctest: +SKIP
    """
    from pictext.bundle.model import load as load_bundle

    return load_bundle(path, **options)


def __getattr__(name: str) -> Any:
    if name == "Model":
        from pictext.bundle.model import Model

        return Model
    raise AttributeError(f"module 'pictext' has no attribute {name!r}")
