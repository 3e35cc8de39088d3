"""A collection read as a :class:`~pictext.data.dataset.Dataset`, its edits applied.

``load_dataset("collection:PATH")`` calls :func:`read_collection`, so ``train``, ``rank
train``, ``audit``, ``evaluate`` and ``caption-train`` read the edited labels and text.
Ignored and removed items are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pictext.collection.store import Collection
from pictext.data.dataset import Dataset

PREFIX = "collection:"


def read_collection(
    path: str | Path, *, pixels_from: Callable[[str], Dataset] | None = None
) -> Dataset:
    """The collection at ``path`` with its edits applied (ignored and removed items left out).

    Args:
        path: the collection database.
        pixels_from: loads the source dataset by name, for items whose pixels live only
            there (e.g. ``fashion-mnist``); ``load_dataset`` passes itself.

    Raises:
        ItemNotFoundError: no file at ``path``.
        DamagedCollectionError: the file is not a readable collection.
    """
    with Collection(path) as col:
        kept = col.items()
        source = col.source
    name = f"{PREFIX}{path}"
    items = [it.to_item(name) for it in kept]
    if pixels_from is not None and any(it.image is None for it in items):
        pixels = {it.id: it.pixels for it in pixels_from(source) if it.pixels is not None}
        items = [replace(it, pixels=pixels.get(it.id)) if it.image is None else it for it in items]
    return Dataset(name, items)
