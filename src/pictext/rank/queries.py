"""Queries of an index: a query string, or new items (an upload with its text).

A query string is resolved in this order: ``id:``, ``file:`` or ``text:`` prefixes (or
``text=True``) force a kind; otherwise an exact item id of the index, then an existing file,
then text. A query that reads as a name (one word with a path separator or a file suffix,
e.g. ``cats/tom.png``) but is neither an id nor a file is an error naming it, never a silent
text search; :class:`QueryAnswer` says how the query was read, which index answered (path,
size) and what its distances mean. ``k`` is bounded (:func:`~pictext.core.limits.check_k`)
before any work. New items and image files are embedded by the one path for new inputs
(:func:`~pictext.store.embed.embed_items`) with the encoders the index recorded (the
versions must match) and mapped into the index space by
:meth:`~pictext.rank.index.SearchIndex.to_space`; texts are embedded with the index's text
encoder and searched against the items' text embeddings.

This module calls the index; the index never calls it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from pictext.core import defaults
from pictext.core.errors import InputError, NotFoundError, UsageError
from pictext.core.limits import check_k
from pictext.core.textrule import normalize_text
from pictext.core.vectors import unit_rows
from pictext.data.item import Item
from pictext.data.text import text_problem
from pictext.rank.divergent import Divergence
from pictext.rank.index import Hit, SearchIndex
from pictext.store.embed import embed_items
from pictext.store.failures import require_read, text_failures
from pictext.store.features import Features
from pictext.store.memory import MemoryCache
from pictext.store.pool import EncoderSource, encoder_for

KINDS: tuple[str, ...] = ("id", "file", "text")


class QueryInputError(UsageError, ValueError):
    """A query with none of the inputs the index can search by."""


class UnknownQueryError(NotFoundError, ValueError):
    """A query string that names an item or a file, but neither an id of the index nor a file."""


@dataclass
class ResolvedQuery:
    """A query ready for search."""

    kind: str  # "item", "image" or "text"
    vector: np.ndarray  # [1, D] in the index space (text: in the text space)
    row: int | None  # the query's own row, for item queries (excluded from results)
    how: str = ""  # how the query string was read, e.g. "item id cats/tom.png"


@dataclass
class QueryAnswer:
    """The hits of a query string, with how it was read and what answered it."""

    query: str  # the query string as given
    kind: str  # "item", "image" or "text"
    how: str  # how the query was read
    hits: list[Hit]  # nearest (or farthest) first
    index: dict[str, Any]  # which index answered: see :func:`index_summary`
    distance: str  # what a hit's distance means
    divergence: str | None = None  # which divergent mode answered (divergent lists only)
    ignored: list[str] = field(default_factory=list)  # query inputs the index space cannot read

    def to_dict(self) -> dict[str, Any]:
        out = {
            "query": self.query,
            "kind": self.kind,
            "how": self.how,
            "index": self.index,
            "distance": self.distance,
            "hits": [{"rank": i, **asdict(h)} for i, h in enumerate(self.hits, 1)],
        }
        if self.divergence is not None:
            out["divergence"] = self.divergence
        if self.ignored:
            out["ignored"] = self.ignored
        return out


def index_summary(index: SearchIndex) -> dict[str, Any]:
    """Which index this is: its folder (None when built in memory), size, space and encoders."""
    m = index.manifest
    return {
        "path": None if index.source is None else str(index.source),
        "items": len(index),
        "dataset": m.dataset,
        "space": m.space,
        "metric": m.metric,
        "backend": m.backend,
        "image_encoder": m.image_encoder,
        "text_encoder": m.text_encoder,
    }


def describe_index(index: SearchIndex) -> str:
    """One line naming an index: ``path (N items, head space, cosine, exact)``."""
    m = index.manifest
    where = str(index.source) if index.source is not None else "an index built in memory"
    return f"{where} ({len(index)} items, {m.space} space, {m.metric}, {m.backend})"


def distance_meaning(index: SearchIndex, kind: str, *, recommend: bool = False) -> str:
    """What ``d`` of a hit means for a query of ``kind`` on ``index``."""
    if kind == "text" and not reads_text(index):
        return (
            f"d: how far each image is from the text ({index.manifest.text_encoder}); "
            "0 is the closest, 2 the farthest."
        )
    space = "ranking-head space" if index.manifest.space == "head" else "raw image-embedding space"
    if reads_text(index):
        space = "joint image-text space"
    if recommend:
        return f"d: how far each image is from the history's average ({space}); lower is closer."
    if index.manifest.metric == "cosine":
        return f"d: how far each image is from the query ({space}); 0 is the same, 2 the farthest."
    return f"d: how far each image is from the query ({space}); lower is closer."


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
    text: bool = False,
    encoders: EncoderSource | None = None,
    memory: MemoryCache | None = None,
) -> ResolvedQuery:
    """Resolve ``query`` against ``index`` (see the module docstring).

    Args:
        index: the index searched.
        query: an item id, an image file or a text, optionally prefixed by its kind.
        text: read ``query`` as a text, whatever it looks like (a ``text:`` prefix is dropped).
        encoders: builds the recorded encoders (default: the registry).
        memory: keeps the query's embeddings (default: kept nowhere, disk included).

    Raises:
        UnknownQueryError: the query reads as a name but is neither an id nor a file.
        UnknownItemError: an ``id:`` query the index does not hold.
        UnreadableItemsError: the image file (or the text) could not be read.
    """
    kind, how, rest = _kind(index, query, text)
    if kind == "id":
        row = index.row(rest)
        return ResolvedQuery("item", index.vectors[row : row + 1], row, how)
    memory = memory if memory is not None else MemoryCache(0)
    if kind == "file":
        vector = embed_image_file(index, Path(rest), encoders, memory)
        return ResolvedQuery("image", vector, None, how)
    if reads_text(index):  # the joint space: words are searched against pictures
        item = Item("text query", title=rest)
        if not item.text.strip():
            raise QueryInputError("empty text query")
        feats = space_features(index, [item], encoders=encoders, memory=memory)
        return ResolvedQuery("text", index.to_space(feats), None, how + ", in the joint space")
    return ResolvedQuery("text", embed_text(index, rest, encoders, memory), None, how)


def reads_text(index: SearchIndex) -> bool:
    """True when the index space is the joint image-text space (its head reads text): a query
    with an image, a text or both lands in it, and a text finds pictures."""
    return index_encoders(index).head_text is not None


def _kind(index: SearchIndex, query: str, text: bool) -> tuple[str, str, str]:
    """``(kind, how it was read, the query without its prefix)``.

    Raises:
        QueryInputError: the query is empty under the one text rule (control, zero-width
            and bidi characters only), or a bare ``id:``, ``file:`` or ``text:`` prefix.
    """
    query = normalize_text(query)
    if not query.strip() or text_problem(query):
        raise QueryInputError(
            "the query is empty (nothing but spaces, control, zero-width or bidi characters)"
        )
    bare, _, after = query.strip().partition(":")
    if bare in KINDS and not after.strip():
        raise QueryInputError(f"the query {query!r} is a bare '{bare}:' with nothing after it")
    prefix, _, rest = query.partition(":")
    if prefix in KINDS and not rest.strip():
        raise QueryInputError(f"the query {query!r} is a bare '{prefix}:' with nothing after it")
    if text:
        rest = rest if prefix == "text" else query
        return "text", "text (asked for)", rest
    if prefix in KINDS and rest:
        what = {"id": "item id", "file": "image file", "text": "text"}[prefix]
        return prefix, f"{what} (asked for by '{prefix}:')", rest
    if query in index:
        return "id", "item id of the index", query
    if Path(query).is_file():
        return "file", "image file", query
    if Path(query).is_dir():
        raise InputError(
            f"{query!r} is a folder, not an image file or an item id of the index", item=query
        )
    if _looks_like_name(query):
        where = describe_index(index)
        raise UnknownQueryError(
            f"{query!r}: no such file, and not an item id of the index {where} "
            f"(to search by text, ask for it: 'text:{query}' or --text)",
            item=query,
        )
    return "text", "text (no item id or file of that name)", query


_SUFFIX = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,4}")  # a file suffix: .png, .svg, .jpeg, .tiff


def _looks_like_name(query: str) -> bool:
    """One word with a path separator or a file suffix: a mistyped id or a missing file."""
    q = query.strip()
    if not q or any(ch.isspace() for ch in q):
        return False
    return "/" in q or "\\" in q or bool(_SUFFIX.fullmatch(Path(q).suffix))


def answer(
    index: SearchIndex,
    query: str,
    k: int = defaults.SEARCH_K,
    *,
    farthest: bool = False,
    divergence: Divergence | None = None,
    text: bool = False,
    encoders: EncoderSource | None = None,
    memory: MemoryCache | None = None,
) -> QueryAnswer:
    """The ``k`` items most similar to (or, ``farthest``, most divergent from) a query string,
    with how the query was read and which index answered.

    The query is an item id, an image file or a text; ``divergence`` chooses the divergent
    list (:mod:`pictext.rank.divergent`); other options as in :func:`resolve_query`.

    Raises:
        UsageError: ``k`` is not between 1 and :data:`~pictext.core.defaults.MAX_K`.
    """
    check_k(k)
    resolved = resolve_query(index, query, text=text, encoders=encoders, memory=memory)
    if resolved.kind == "text" and not reads_text(index):
        hits = index.text_search(resolved.vector[0], k, farthest=farthest, divergence=divergence)
    else:
        target = resolved.row if resolved.row is not None else resolved.vector[0]
        if farthest:
            hits = index.divergent_to(target, k, divergence)
        else:
            hits = index.similar_to(target, k)
    meaning = distance_meaning(index, resolved.kind)
    mode = (divergence or Divergence()).describe() if farthest else None
    return QueryAnswer(
        query, resolved.kind, resolved.how, hits, index_summary(index), meaning, mode
    )


def answer_item(
    index: SearchIndex,
    item: Item,
    k: int = defaults.SEARCH_K,
    *,
    farthest: bool = False,
    divergence: Divergence | None = None,
    encoders: EncoderSource | None = None,
    memory: MemoryCache | None = None,
) -> QueryAnswer:
    """:func:`search_items` for one new item (an upload with its text), as a
    :class:`QueryAnswer` like :func:`answer`'s.

    In the joint space every input the item has is used and each hit says how close the
    image alone and the text alone are; an index whose space reads images only uses the
    image and names the text it could not use in ``ignored``."""
    [hits] = search_items(
        index, [item], k, farthest=farthest, divergence=divergence, encoders=encoders,
        memory=memory,
    )  # fmt: skip
    has_text = bool(item.text.strip())
    joint = reads_text(index)
    used = (["image"] if item.has_image() else []) + (
        ["text"] if has_text and (joint or not item.has_image()) else []
    )
    ignored = [] if "text" in used or not has_text else item_text_fields(item)
    kind = "+".join(used) if joint else ("image" if item.has_image() else "text")
    mode = (divergence or Divergence()).describe() if farthest else None
    how = f"new item ({' and '.join(used)})"
    meaning = distance_meaning(index, "image" if item.has_image() or joint else "text")
    out = QueryAnswer(item.id, kind, how, hits, index_summary(index), meaning, mode)
    out.ignored = ignored
    return out


def item_text_fields(item: Item) -> list[str]:
    """The text fields an item has."""
    fields = (("title", item.title), ("description", item.description), ("tags", item.tags))
    return [name for name, value in fields if value]


def _encoder(spec: str | None, what: str, encoders: EncoderSource | None) -> Any:
    if spec is None:
        raise QueryInputError(f"this index records no {what} encoder; cannot embed a {what} query")
    from pictext.encoders.registry import EncoderVersionError

    try:
        return encoder_for(spec, encoders)
    except EncoderVersionError as err:
        raise EncoderVersionError(
            f"the index was {err}; rebuild it with `pictext index build`",
            err.recorded,
            err.found,
        ) from None


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
        raise QueryInputError("this index has no text features; rebuild it from features with text")
    if not text.strip():
        raise QueryInputError("empty text query")
    return _text_vectors(index, [Item("text query", title=text)], "title", encoders, memory)


def _text_vectors(
    index: SearchIndex,
    items: Sequence[Item],
    field: str,
    encoders: EncoderSource | None,
    memory: MemoryCache | None,
    cache_dir: str | Path | None = None,
) -> np.ndarray:
    require_read(text_failures(items, (field,)))
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
    if enc.head_text is not None:
        require_read(text_failures(items, ("text",)))
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
    k: int = defaults.SEARCH_K,
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
        UsageError: ``k`` is not between 1 and :data:`~pictext.core.defaults.MAX_K`.
        QueryInputError: an item has none of the inputs this index can search by.
        UnreadableItemsError: an item's image could not be read.
    """
    check_k(k)
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
        feats = space_features(index, [items[i] for i in in_space], **options)
        vecs = index.to_space(feats)
        parts = _part_vectors(index, feats)
        for j, (i, vec) in enumerate(zip(in_space, vecs, strict=True)):
            hits = index.divergent_to(vec, k, divergence) if farthest else index.similar_to(vec, k)
            out[i] = _with_parts(index, hits, {name: v[j] for name, v in parts.items()})
    if by_text:
        texts = [items[i] for i in by_text]
        tvecs = _text_vectors(index, texts, "text", encoders, memory, cache_dir)
        for i, vec in zip(by_text, tvecs, strict=True):
            out[i] = index.text_search(vec, k, farthest=farthest, divergence=divergence)
    return out


def _part_vectors(index: SearchIndex, feats: Features) -> dict[str, np.ndarray]:
    """Joint space: each query's image alone and text alone in the index space (zero rows
    where the query lacks that input); ``{}`` for other spaces."""
    if not reads_text(index) or feats.image_mask is None or "text" not in feats.text_mask:
        return {}
    none = np.zeros(feats.n, bool)
    image_only = replace(feats, text_mask={"text": none})
    text_only = replace(feats, image_mask=none)
    out = {}
    if feats.image_mask.any():
        out["image"] = np.where(feats.image_mask[:, None], index.to_space(image_only), 0)
    if feats.text_mask["text"].any():
        out["text"] = np.where(feats.text_mask["text"][:, None], index.to_space(text_only), 0)
    return out


def _with_parts(index: SearchIndex, hits: list[Hit], parts: dict[str, np.ndarray]) -> list[Hit]:
    """``hits`` with the cosine of each query part (image alone, text alone) to each hit."""
    parts = {name: v for name, v in parts.items() if np.any(v)}
    if len(parts) < 2:  # one input: the hit's distance already says it
        return hits
    rows = index.unit_vectors([h.row for h in hits])
    cos = {name: rows @ unit_rows(v[None])[0] for name, v in parts.items()}
    return [
        replace(h, parts={name: round(float(c[i]), 4) for name, c in cos.items()})
        for i, h in enumerate(hits)
    ]


def recommend_items(
    index: SearchIndex,
    history: Sequence[str | int],
    items: Sequence[Item] = (),
    k: int = defaults.SEARCH_K,
    *,
    method: str = defaults.RECOMMEND_METHOD,
    lambda_: float = defaults.MMR_LAMBDA,
    pool: int = defaults.POOL,
    encoders: EncoderSource | None = None,
    cache_dir: str | Path | None = None,
    memory: MemoryCache | None = None,
) -> list[Hit]:
    """Items relevant to a history of collection items and new items, yet diverse.

    ``method``, ``lambda_`` and ``pool`` as in
    :meth:`~pictext.rank.index.SearchIndex.recommend`; the new items are embedded as in
    :func:`space_features`.

    Raises:
        UsageError: ``k`` is not between 1 and :data:`~pictext.core.defaults.MAX_K`, an
            unknown ``method``, ``lambda_`` outside [0, 1] or ``pool`` below 1.
        UnreadableItemsError: a new item's image could not be read.
    """
    check_recommend(k, method=method, lambda_=lambda_, pool=pool)
    pool = min(pool, len(index))  # more candidates than items is all of them
    queries = None
    if items:
        feats = space_features(index, items, encoders=encoders, cache_dir=cache_dir, memory=memory)
        queries = index.to_space(feats)
    return index.recommend(history, k, queries=queries, method=method, lambda_=lambda_, pool=pool)


def check_recommend(k: int, *, method: str, lambda_: float, pool: int) -> None:
    """Refuse a recommendation request out of range, before any work.

    Raises:
        UsageError: naming the setting and its allowed values.
    """
    from pictext.rank.diversity import SELECTORS

    check_k(k)
    if method not in SELECTORS:
        raise UsageError(
            f"unknown method {method!r}; use one of {', '.join(SELECTORS)}", item="method"
        )
    if not 0.0 <= lambda_ <= 1.0:
        raise UsageError(f"lambda must be between 0 and 1, got {lambda_}", item="lambda")
    if pool < 1:
        raise UsageError(f"pool must be at least 1, got {pool}", item="pool")


def recommend_answer(
    index: SearchIndex,
    history: Sequence[str],
    k: int = defaults.SEARCH_K,
    *,
    items: Sequence[Item] = (),
    method: str = defaults.RECOMMEND_METHOD,
    lambda_: float = defaults.MMR_LAMBDA,
    pool: int = defaults.POOL,
    encoders: EncoderSource | None = None,
    memory: MemoryCache | None = None,
) -> QueryAnswer:
    """:func:`recommend_items` for a history of item ids, with which index answered.

    Raises:
        UsageError: ``k`` out of range.
        UnknownItemError: a history id the index does not hold (named).
    """
    hits = recommend_items(
        index, history, items, k, method=method, lambda_=lambda_, pool=pool,
        encoders=encoders, memory=memory,
    )  # fmt: skip
    new = f" and {len(items)} new item(s)" if items else ""
    how = f"history of {len(history)} item(s){new}, {method} (lambda={lambda_}, pool={pool})"
    meaning = distance_meaning(index, "item", recommend=True)
    return QueryAnswer(", ".join(history), "history", how, hits, index_summary(index), meaning)
