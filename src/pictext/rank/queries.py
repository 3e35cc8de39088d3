"""Queries of an index: a query string, or new items (an upload with its text).

A query string is resolved in this order: ``id:``, ``file:`` or ``text:`` prefixes force a
kind; otherwise an exact item id of the index, then an existing file, then text. New items
and image files are embedded by the one path for new inputs
(:func:`~pictext.store.embed.embed_items`) with the encoders the index recorded (the
versions must match) and mapped into the index space by
:meth:`~pictext.rank.index.SearchIndex.to_space`; texts are embedded with the index's text
encoder and searched against the items' text embeddings.

This module calls the index; the index never calls it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pictext.core.errors import UsageError
from pictext.data.item import Item
from pictext.rank.divergent import Divergence
from pictext.rank.index import Hit, SearchIndex
from pictext.store.embed import embed_items
from pictext.store.encoders import EncoderSource, encoder_for
from pictext.store.failures import require_read
from pictext.store.features import Features
from pictext.store.memory import MemoryCache

KINDS: tuple[str, ...] = ("id", "file", "text")


class QueryInputError(UsageError, ValueError):
    """A query with none of the inputs the index can search by."""


@dataclass
class ResolvedQuery:
    """A query ready for search."""

    kind: str  # "item", "image" or "text"
    vector: np.ndarray  # [1, D] in the index space (text: in the text space)
    row: int | None  # the query's own row, for item queries (excluded from results)


@dataclass(frozen=True)
class IndexEncoders:
    """The encoders (``name@version``) an index needs for new queries."""

    image: str | None  # image tower of the index space
    head_text: str | None  # text tower the ranking head reads, when it reads text
    text: str | None  # text tower of text search, when the index keeps text embeddings

    @property
    def specs(self) -> list[str]:
        """Every distinct encoder named."""
        return sorted({s for s in (self.image, self.head_text, self.text) if s})


def index_encoders(index: SearchIndex) -> IndexEncoders:
    """What ``index`` reads from a new item: its image tower, and the text towers of its head
    and of its text search."""
    head, m = index.head, index.manifest
    head_text = head.spec.text_encoder if head is not None and head.config.use_text else None
    return IndexEncoders(m.image_encoder, head_text, m.text_encoder if m.has_text else None)


# ---- query strings ----------------------------------------------------------------------
def resolve_query(
    index: SearchIndex,
    query: str,
    *,
    encoders: EncoderSource | None = None,
    memory: MemoryCache | None = None,
) -> ResolvedQuery:
    """Resolve ``query`` against ``index`` (see the module docstring).

    Args:
        index: the index searched.
        query: an item id, an image file or a text, optionally prefixed by its kind.
        encoders: builds the recorded encoders (default: the registry).
        memory: keeps the query's embeddings (default: kept nowhere, disk included).
    """
    kind, _, rest = query.partition(":")
    if kind not in KINDS or not rest:
        kind, rest = _guess(index, query), query
    if kind == "id":
        row = index.row(rest)
        return ResolvedQuery("item", index.vectors[row : row + 1], row)
    memory = memory if memory is not None else MemoryCache(0)
    if kind == "file":
        return ResolvedQuery("image", embed_image_file(index, Path(rest), encoders, memory), None)
    return ResolvedQuery("text", embed_text(index, rest, encoders, memory), None)


def search(
    index: SearchIndex,
    query: str,
    k: int = 5,
    *,
    farthest: bool = False,
    divergence: Divergence | None = None,
    encoders: EncoderSource | None = None,
    memory: MemoryCache | None = None,
) -> list[Hit]:
    """The ``k`` items most similar to (or, ``farthest``, divergent from) a query string.

    The query is an item id, an image file or a text; ``divergence`` chooses the divergent
    list (:mod:`pictext.rank.divergent`); other options as in :func:`resolve_query`.
    """
    resolved = resolve_query(index, query, encoders=encoders, memory=memory)
    if resolved.kind == "text":
        return index.text_search(resolved.vector[0], k, farthest=farthest, divergence=divergence)
    target = resolved.row if resolved.row is not None else resolved.vector[0]
    if farthest:
        return index.divergent_to(target, k, divergence)
    return index.similar_to(target, k)


def similar(index: SearchIndex, query: str, k: int = 5, **options: Any) -> list[Hit]:
    """The ``k`` items most similar to a query string (options as in :func:`search`)."""
    return search(index, query, k, farthest=False, **options)


def divergent(index: SearchIndex, query: str, k: int = 5, **options: Any) -> list[Hit]:
    """The ``k`` items divergent from a query string (options as in :func:`search`)."""
    return search(index, query, k, farthest=True, **options)


def _guess(index: SearchIndex, query: str) -> str:
    if query in index:
        return "id"
    if Path(query).is_file():
        return "file"
    return "text"


def _encoder(spec: str | None, what: str, encoders: EncoderSource | None) -> Any:
    if spec is None:
        raise ValueError(f"this index records no {what} encoder; cannot embed a {what} query")
    from pictext.encoders.registry import EncoderVersionError

    try:
        return encoder_for(spec, encoders)
    except EncoderVersionError as err:
        raise ValueError(f"the index was {err}; rebuild it with `pictext index build`") from None


def embed_image_file(
    index: SearchIndex,
    path: Path,
    encoders: EncoderSource | None = None,
    memory: MemoryCache | None = None,
) -> np.ndarray:
    """An image file as a ``[1, D]`` vector of the index space.

    Raises:
        UnreadableItemsError: the file is missing or does not decode.
    """
    feats = space_features(index, [Item(str(path), str(path))], encoders=encoders, memory=memory)
    return index.to_space(feats)


def embed_text(
    index: SearchIndex,
    text: str,
    encoders: EncoderSource | None = None,
    memory: MemoryCache | None = None,
) -> np.ndarray:
    """A text, as given, as a ``[1, Dt]`` vector of the index's text space."""
    if not index.manifest.has_text:
        raise ValueError("this index has no text features; rebuild it from features with text")
    if not text.strip():
        raise ValueError("empty text query")
    return _text_vectors(index, [Item("text query", title=text)], "title", encoders, memory)


def _text_vectors(
    index: SearchIndex,
    items: Sequence[Item],
    field: str,
    encoders: EncoderSource | None,
    memory: MemoryCache | None,
    cache_dir: str | Path | None = None,
) -> np.ndarray:
    encoder = _encoder(index.manifest.text_encoder, "text", encoders)
    feats, failures = embed_items(
        items, None, encoder, cache_dir=cache_dir, memory=memory, text_inputs=(field,)
    )
    require_read(failures)
    return feats.text[field]


# ---- new items ------------------------------------------------------------------------------
def space_features(
    index: SearchIndex,
    items: Sequence[Item],
    *,
    encoders: EncoderSource | None = None,
    cache_dir: str | Path | None = None,
    memory: MemoryCache | None = None,
) -> Features:
    """New items embedded with the towers the index space reads (see :func:`index_encoders`).

    Raises:
        UnreadableItemsError: an item's image could not be read; nothing is answered for it.
    """
    enc = index_encoders(index)
    image = _encoder(enc.image, "image", encoders) if any(it.has_image() for it in items) else None
    wants_text = enc.head_text is not None and any(it.text.strip() for it in items)
    text = _encoder(enc.head_text, "text", encoders) if wants_text else None
    feats, failures = embed_items(
        items, image, text, cache_dir=cache_dir, memory=memory, text_inputs=("text",)
    )
    require_read(failures)
    return feats


def search_items(
    index: SearchIndex,
    items: Sequence[Item],
    k: int = 5,
    *,
    farthest: bool = False,
    divergence: Divergence | None = None,
    encoders: EncoderSource | None = None,
    cache_dir: str | Path | None = None,
    memory: MemoryCache | None = None,
) -> list[list[Hit]]:
    """The ``k`` most similar (or divergent) collection items for each new item.

    An item with an image (or with text, when the ranking head reads text) is searched in the
    index space; an item with text only is searched by text, when the index keeps text.
    ``divergence`` chooses the divergent lists (:mod:`pictext.rank.divergent`).

    Raises:
        QueryInputError: an item has none of the inputs this index can search by.
        UnreadableItemsError: an item's image could not be read.
    """
    enc = index_encoders(index)
    in_space, by_text = [], []
    for i, it in enumerate(items):
        has_text = bool(it.text.strip())
        if it.has_image() or (enc.head_text is not None and has_text):
            in_space.append(i)
        elif has_text and index.text is not None:
            by_text.append(i)
        else:
            need = "an image" if index.text is None else "an image or some text"
            raise QueryInputError(f"{it.id}: a search needs {need}")
    out: list[list[Hit]] = [[] for _ in items]
    options = {"encoders": encoders, "cache_dir": cache_dir, "memory": memory}
    if in_space:
        vecs = index.to_space(space_features(index, [items[i] for i in in_space], **options))
        for i, vec in zip(in_space, vecs, strict=True):
            out[i] = (
                index.divergent_to(vec, k, divergence) if farthest else index.similar_to(vec, k)
            )
    if by_text:
        texts = [items[i] for i in by_text]
        tvecs = _text_vectors(index, texts, "text", encoders, memory, cache_dir)
        for i, vec in zip(by_text, tvecs, strict=True):
            out[i] = index.text_search(vec, k, farthest=farthest, divergence=divergence)
    return out


def recommend_items(
    index: SearchIndex,
    history: Sequence[str | int],
    items: Sequence[Item] = (),
    k: int = 10,
    *,
    method: str = "mmr",
    lambda_: float = 0.5,
    pool: int = 200,
    encoders: EncoderSource | None = None,
    cache_dir: str | Path | None = None,
    memory: MemoryCache | None = None,
) -> list[Hit]:
    """Items relevant to a history of collection items and new items, yet diverse.

    ``method``, ``lambda_`` and ``pool`` as in
    :meth:`~pictext.rank.index.SearchIndex.recommend`; the new items are embedded as in
    :func:`space_features`.

    Raises:
        UnreadableItemsError: a new item's image could not be read.
    """
    queries = None
    if items:
        feats = space_features(index, items, encoders=encoders, cache_dir=cache_dir, memory=memory)
        queries = index.to_space(feats)
    return index.recommend(history, k, queries=queries, method=method, lambda_=lambda_, pool=pool)
