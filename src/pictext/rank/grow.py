"""Grow and shrink a loaded :class:`~pictext.rank.index.SearchIndex` in place, no rebuild.

:func:`add_rows` appends items (their index-space vectors, as :meth:`SearchIndex.to_space`
maps new items): the exact scan sees them at once, an HNSW index gets them through FAISS's
own ``add`` (an IVF index is refused: its cell bounds would go stale; rebuild it).
:func:`remove_rows` drops items: the arrays are compacted (one O(N) copy, no embedding or
training); FAISS cannot drop rows of an HNSW graph, so an approximate index's ANN
structure is rebuilt from the stored rows, and its divergent rim pool is dropped
(divergent queries then scan exactly) until the next full build.

Example:
    >>> import numpy as np
    >>> from pictext.rank.index import SearchIndex
    >>> from pictext.store.features import Features
    >>> f = Features(["a", "b"], np.eye(3, dtype=np.float32)[:2], np.ones(2, bool),
    ...              image_encoder="toy@1")
    >>> ix = SearchIndex.build(f)
    >>> add_rows(ix, ["c"], np.array([[1.0, 0.1, 0.0]], np.float32), labels=["p"])
    >>> [h.id for h in ix.similar_to(ix.row("a"), k=1)]
    ['c']
    >>> remove_rows(ix, ["c"])
    >>> "c" in ix, len(ix)
    (False, 2)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pictext.rank.ann import augment_rows
from pictext.rank.index import SearchIndex


def add_rows(
    index: SearchIndex,
    ids: Sequence[str],
    vectors: np.ndarray,
    *,
    labels: Sequence[str | None] | None = None,
    titles: Sequence[str] | None = None,
    text: np.ndarray | None = None,
) -> None:
    """Append items to ``index`` (ids already in it are refused).

    Args:
        ids: new item ids.
        vectors: ``[len(ids), dim]`` index-space vectors.
        labels: class name per item (None: unlabelled).
        titles: title per item.
        text: ``[len(ids), text_dim]`` text embeddings for text queries (None: the items
            have no text part in the index).

    Raises:
        ValueError: a shape does not match, or an id is already indexed.
    """
    vectors = np.ascontiguousarray(np.atleast_2d(vectors), np.float32)
    if vectors.shape != (len(ids), index.vectors.shape[1]):
        raise ValueError(
            f"vectors {vectors.shape} do not fit {len(ids)} ids of dim {index.vectors.shape[1]}"
        )
    if index.bounds is not None or index.manifest.backend == "ivf":
        raise ValueError(
            "an IVF index takes new items only through a rebuild (pictext index build)"
        )
    already = [i for i in ids if i in index]
    if already or len(set(ids)) != len(ids):
        raise ValueError(f"already indexed or repeated: {already or list(ids)}")
    rows = augment_rows(vectors, index.manifest.metric)
    index.vectors = _append(index, "vectors", vectors)
    index._rows = _append(index, "_rows", rows)
    if index.text is not None and index.text_mask is not None:
        extra = np.zeros((len(ids), index.text.shape[1]), index.text.dtype)
        if text is not None:
            extra[:] = text
        index.text = _append(index, "text", extra)
        index.text_mask = _append(index, "text_mask", np.full(len(ids), text is not None))
    start = len(index.ids)
    index.ids.extend(ids)  # in place: no copy of the N ids per add
    index.labels.extend(labels if labels is not None else [None] * len(ids))
    index.titles.extend(titles if titles is not None else [""] * len(ids))
    index._row_of.update({item_id: start + n for n, item_id in enumerate(ids)})
    if index.ann is not None:
        index.ann.add(np.ascontiguousarray(rows))
    index.manifest.n = len(index.ids)


def _append(index: SearchIndex, name: str, new: np.ndarray) -> np.ndarray:
    """``getattr(index, name)`` with ``new`` rows appended, as a view of a buffer with spare
    room (grown by half when full), so that n single adds copy O(n) rows, not O(n * N)."""
    have = getattr(index, name)
    buffers = index.__dict__.setdefault("_grow_buffers", {})
    buf = buffers.get(name)
    n, m = len(have), len(new)
    if buf is None or not np.shares_memory(buf, have) or len(buf) < n + m:
        buf = np.empty((max(n + m, int(1.5 * n) + 16), *have.shape[1:]), have.dtype)
        buf[:n] = have
        buffers[name] = buf
    buf[n : n + m] = new
    return buf[: n + m]


def remove_rows(index: SearchIndex, ids: Sequence[str]) -> None:
    """Drop items from ``index`` (unknown ids are ignored)."""
    drop = {index.row(i) for i in ids if i in index}
    if not drop:
        return
    keep = np.array([r for r in range(len(index.ids)) if r not in drop], np.int64)
    index.vectors = np.ascontiguousarray(index.vectors[keep])
    index._rows = np.ascontiguousarray(index._rows[keep])
    if index.text is not None and index.text_mask is not None:
        index.text, index.text_mask = index.text[keep], index.text_mask[keep]
    index.ids = [index.ids[r] for r in keep]
    index.labels = [index.labels[r] for r in keep]
    index.titles = [index.titles[r] for r in keep]
    index._row_of = {item_id: n for n, item_id in enumerate(index.ids)}
    index.manifest.n = len(index.ids)
    if index.ann is not None:
        from pictext.rank.ann import AnnParams
        from pictext.rank.build import build_ann

        params = AnnParams(**index.manifest.ann)
        index.ann = build_ann(index._rows, index.manifest.backend, params)
        index.rim, index._rim_rows, index.bounds = None, None, None
