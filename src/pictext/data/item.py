"""The one record every pipeline stage passes along."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pictext.core.textrule import normalize_text

if TYPE_CHECKING:
    import numpy as np

TEXT_FIELDS: tuple[str, ...] = ("title", "description", "tags")


@dataclass(frozen=True)
class Item:
    """An image with the text that came with it.

    Missing text is the empty string (or an empty ``tags`` tuple); it is never ``None``.

    Example:
        >>> item = Item(id="dog/1", image="dog/1.jpg", title="A dog", tags=("pet",), label="dog")
        >>> item.text
        'A dog. pet'
    """

    id: str  # unique within a dataset, stable across runs
    image: str | None = None  # path to an image file (raster or SVG); None when `pixels` holds it
    title: str = ""  # "" when missing
    description: str = ""  # "" when missing
    tags: tuple[str, ...] = ()  # () when missing
    label: str | None = None  # class name; None when unlabelled
    fine_label: str | None = None  # finer class (sub-folder, synset) when the source has one
    source: str = ""  # dataset name the item came from
    pixels: np.ndarray | None = field(default=None, compare=False, repr=False)  # in-memory uint8

    def __post_init__(self) -> None:
        """The one text rule (:func:`~pictext.core.textrule.normalize_text`) on every field."""
        for name in ("title", "description"):
            value = getattr(self, name)
            if isinstance(value, str) and (clean := normalize_text(value)) != value:
                object.__setattr__(self, name, clean)
        if self.tags and not all(t.isascii() and t.isprintable() for t in self.tags):
            tags = (" ".join(normalize_text(t).split()) for t in self.tags)
            object.__setattr__(self, "tags", tuple(dict.fromkeys(t for t in tags if t)))

    @property
    def tags_text(self) -> str:
        """Tags joined into one string, as the text encoders see them."""
        return ", ".join(self.tags)

    @property
    def text(self) -> str:
        """Title, description and tags in one string ("title. description. tags")."""
        parts = [p.strip() for p in (self.title, self.description, self.tags_text)]
        return ". ".join(p.rstrip(".") for p in parts if p)

    def field_text(self, name: str) -> str:
        """The text of one field: ``title``, ``description``, ``tags`` or ``text`` (all)."""
        if name == "tags":
            return self.tags_text
        if name in ("title", "description", "text"):
            return str(getattr(self, name))
        raise ValueError(f"unknown text field {name!r}; use one of {(*TEXT_FIELDS, 'text')}")

    def has_image(self) -> bool:
        return self.image is not None or self.pixels is not None


def text_key(text: str) -> bytes:
    """Content key of a text: 20-byte SHA-1 of its UTF-8 bytes."""
    return hashlib.sha1(text.encode("utf-8")).digest()
