"""Turn a query string into a vector: an item id, an image file, or a text.

Resolution order: ``id:``, ``file:`` or ``text:`` prefixes force a kind; otherwise an exact
item id of the index, then an existing file, then text. Image files are embedded with the
encoder named in the index manifest (the version must match) and mapped through the
index's ranking head; texts with the index's text encoder, and are searched against the
items' text embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pictext.rank.index import SearchIndex

KINDS: tuple[str, ...] = ("id", "file", "text")


@dataclass
class ResolvedQuery:
    """A query ready for search."""

    kind: str  # "item", "image" or "text"
    vector: np.ndarray  # [1, D] in the index space (text: in the text space)
    row: int | None  # the query's own row, for item queries (excluded from results)


def resolve_query(index: SearchIndex, query: str) -> ResolvedQuery:
    """Resolve ``query`` against ``index`` (see the module docstring)."""
    kind, _, rest = query.partition(":")
    if kind not in KINDS or not rest:
        kind, rest = _guess(index, query), query
    if kind == "id":
        row = index.row(rest)
        return ResolvedQuery("item", index.vectors[row : row + 1], row)
    if kind == "file":
        return ResolvedQuery("image", embed_image_file(index, Path(rest)), None)
    return ResolvedQuery("text", embed_text(index, rest), None)


def _guess(index: SearchIndex, query: str) -> str:
    if query in index._row_of:
        return "id"
    if Path(query).is_file():
        return "file"
    return "text"


def _encoder(spec: str | None, what: str) -> Any:
    if spec is None:
        raise ValueError(f"this index records no {what} encoder; cannot embed a {what} query")
    from pictext.encoders.registry import EncoderVersionError, create_recorded_encoder

    try:
        return create_recorded_encoder(spec)
    except EncoderVersionError as err:
        raise ValueError(f"the index was {err}; rebuild it with `pictext index build`") from None


def embed_image_file(index: SearchIndex, path: Path) -> np.ndarray:
    """An image file as a ``[1, D]`` vector of the index space."""
    from pictext.data.images import load_image
    from pictext.data.item import Item
    from pictext.store.features import Features

    encoder = _encoder(index.manifest.image_encoder, "image")
    image = load_image(Item(id=str(path), image=str(path)), size=encoder.image_size)
    emb = np.asarray(encoder.encode([image]), np.float32)
    if index.head is None:
        return emb
    feats = Features([str(path)], emb, np.ones(1, bool), image_encoder=index.manifest.image_encoder)
    vec = index.head.transform(feats)
    return vec @ index.basis if index.basis is not None else vec


def embed_text(index: SearchIndex, text: str) -> np.ndarray:
    """A text as a ``[1, Dt]`` vector of the index's text space."""
    if not index.manifest.has_text:
        raise ValueError("this index has no text features; rebuild it from features with text")
    if not text.strip():
        raise ValueError("empty text query")
    encoder = _encoder(index.manifest.text_encoder, "text")
    return np.asarray(encoder.encode([text]), np.float32)
