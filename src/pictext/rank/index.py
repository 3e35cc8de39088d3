"""A searchable collection: similar, divergent and diverse recommendations over one space.

The index holds one vector per item in the *ranking space*: the output of a fitted
:class:`~pictext.rank.head.RankingHead`, or the raw pretrained image embedding when no
head is given. It is saved as an artifact folder (:mod:`pictext.core.artifacts`)::

    config.json        format and version, then the Manifest: dataset, space, metric,
                       backend, encoders, head summary, sizes
    model.safetensors  the arrays: "vectors" float32 [N, D] ranking-space vectors (head
                       space: exact compact basis); "text" float32 [N, Dt] unit "text"
                       embeddings and "text_mask" (optional); "basis", the orthonormal basis
                       of the head's output span (see below), when used; "rim", rows of the
                       rim pool that divergent queries scan, with a FAISS backend;
                       "cell_*", the cell statistics of an IVF backend (rank/bound.py)
    items.json         ids, labels and titles (what a result line shows), row order
    head/              the ranking head (its own artifact folder), when space = "head"
    ann.faiss          the FAISS index, when backend is "hnsw" or "ivf"

A linear head maps ``Din``-d inputs into a subspace of rank at most ``Din + 1`` of its
``embed_dim`` outputs (4096 by default); the index stores coordinates in an orthonormal
basis of that subspace, which keeps every distance and norm exactly and the file 3x smaller.

Text queries are matched against the items' text embeddings (the image and text towers do
not share a space), so text search needs an index built with text features.

The index answers vectors, rows and :class:`~pictext.store.features.Features` of new items
(:meth:`SearchIndex.similar_to`, :meth:`~SearchIndex.divergent_to`,
:meth:`~SearchIndex.text_search`, :meth:`~SearchIndex.recommend`); query strings (an item id,
an image file, a text) and new items are turned into those by :mod:`pictext.rank.queries`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.core import defaults
from pictext.core.artifacts import (
    INDEX,
    ArtifactFormatError,
    artifact_file,
    load_artifact,
    save_artifact,
)
from pictext.core.errors import NotFoundError
from pictext.core.vectors import unit_rows
from pictext.rank.ann import (
    AnnParams,
    augment_queries,
    augment_rows,
    read_ann,
    rim_pool,
    search_ann,
    top_k_inner,
    write_ann,
)
from pictext.rank.bound import CellBounds, bnb_search
from pictext.rank.build import build_ann, build_ivf
from pictext.rank.choose import choose_backend, measure
from pictext.rank.divergent import Divergence, divergent_rows
from pictext.rank.recommend import Searcher, candidates, recommend_rows
from pictext.rank.space import head_space, span_basis, text_part
from pictext.store.inputs import EncoderMismatchError

if TYPE_CHECKING:
    from pictext.rank.head import RankingHead
    from pictext.store.features import Features


@dataclass
class Hit:
    """One result of a search."""

    id: str  # item id
    label: str | None  # item class, when known
    distance: float  # Euclidean distance to the query in the searched space
    row: int  # row in the index
    title: str = ""  # the item's title (or the start of its description), when recorded
    parts: dict[str, float] | None = None  # joint space: cosine of the query's image alone
    # ("image") and of its text alone ("text") to this item, for the inputs the query had


@dataclass
class Manifest:
    """What an index folder holds (its ``config.json``, after the format and version)."""

    dataset: str  # dataset name or path the items came from
    space: str  # "head" or "raw"
    metric: str  # "cosine" or "l2"
    backend: str  # "exact", "hnsw" or "ivf"
    image_encoder: str | None  # "name@version" of the image tower
    text_encoder: str | None  # "name@version" of the text tower, when text.npy exists
    n: int  # items
    dim: int  # stored vector width
    has_text: bool  # text.npy present
    head: dict[str, Any] | None  # the head's config, when space = "head"
    ann: dict[str, Any]  # AnnParams
    created: str  # UTC time of the build
    measured: dict[str, Any] | None = None  # an approximate backend against exact (choose.py)


class UnknownItemError(NotFoundError, KeyError):
    """An item id the index does not hold (a ``KeyError`` too, for mapping-style callers)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class SearchIndex:
    """Similar / divergent search and diverse recommendation over a collection.

    Example:
        >>> import numpy as np
        >>> from pictext.store.features import Features
        >>> x = np.eye(4, dtype=np.float32)
        >>> f = Features(["a", "b", "c", "d"], x, np.ones(4, bool), image_encoder="toy@1")
        >>> ix = SearchIndex.build(f, labels=["p", "p", "q", "q"])
        >>> [h.id for h in ix.similar_to(ix.row("a"), k=1)]
        ['b']
    """

    def __init__(
        self,
        manifest: Manifest,
        ids: list[str],
        labels: list[str | None],
        vectors: np.ndarray,
        *,
        head: RankingHead | None = None,
        basis: np.ndarray | None = None,
        text: np.ndarray | None = None,
        text_mask: np.ndarray | None = None,
        ann: Any = None,
        rim: np.ndarray | None = None,
        bounds: CellBounds | None = None,
        titles: list[str] | None = None,
        source: Path | None = None,
    ) -> None:
        self.manifest = manifest
        self.ids = ids
        self.labels = labels
        self.titles = titles if titles is not None else [""] * len(ids)
        self.source = source  # the folder it was loaded from (None: built in memory)
        self.vectors = vectors
        self.head = head
        self.basis = basis
        self.text = text
        self.text_mask = text_mask
        self.ann = ann
        self.rim = rim  # rows divergent queries scan when ann is used (see rank.ann.rim_pool)
        self._rows = augment_rows(vectors, manifest.metric)
        self._rim_rows = None if rim is None else self._rows[rim]
        self.bounds = bounds  # IVF cells' statistics: farthest queries by branch and bound
        self._row_of = {item_id: i for i, item_id in enumerate(ids)}

    # ---- building -----------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        features: Features,
        *,
        head: RankingHead | None = None,
        labels: list[str | None] | None = None,
        titles: list[str] | None = None,
        dataset: str = "",
        metric: str = "cosine",
        backend: str = "auto",
        ann_params: AnnParams | None = None,
        with_text: bool = True,
        measure_queries: int = 200,
    ) -> SearchIndex:
        """Index every item of ``features`` that has the inputs the space needs.

        Args:
            features: embeddings of the collection.
            head: a fitted ranking head; None indexes the raw image embedding.
            labels: class name per row of ``features`` (shown in results, used in reports).
            titles: title per row of ``features`` (shown in results).
            dataset: where the items came from (recorded in the manifest).
            metric: ``cosine`` or ``l2``.
            backend: ``exact``, ``hnsw``, ``ivf`` or ``auto`` (exact up to a size, else ivf:
                :func:`pictext.rank.choose.choose_backend`).
            ann_params: FAISS settings.
            with_text: keep the "text" embeddings for text queries when present.
            measure_queries: rows of the collection an approximate index is scored on against
                exact search (recorded in ``manifest.measured``; 0: not measured).
        """
        params = ann_params or AnnParams()
        if head is not None:
            keep = head.usable(features)
            basis = span_basis(head)
            vectors = head_space(head, basis, features.subset(np.flatnonzero(keep)))
        else:
            if features.image is None:
                raise ValueError("features have no image embeddings to index")
            keep = np.ones(features.n, bool) if features.image_mask is None else features.image_mask
            vectors, basis = np.asarray(features.image[keep], np.float32), None
        rows = np.flatnonzero(keep)
        backend = choose_backend(len(rows), int(vectors.shape[1]), backend)
        text, text_mask = text_part(features, rows, with_text)
        manifest = Manifest(
            dataset=dataset,
            space="raw" if head is None else "head",
            metric=metric,
            backend=backend,
            image_encoder=features.image_encoder,
            text_encoder=features.text_encoder if text is not None else None,
            n=len(rows),
            dim=int(vectors.shape[1]),
            has_text=text is not None,
            head=None if head is None else asdict(head.config),
            ann=asdict(params),
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        ids = [features.ids[i] for i in rows]
        labs = [None] * len(rows) if labels is None else [labels[i] for i in rows]
        names = None if titles is None else [titles[i] for i in rows]
        index = cls(
            manifest,
            ids,
            labs,
            np.ascontiguousarray(vectors, np.float32),
            head=head,
            basis=basis,
            text=text,
            text_mask=text_mask,
            titles=names,
        )
        if backend == "ivf":
            index.ann, index.bounds = build_ivf(index.vectors, metric, params)
        elif backend != "exact":
            index.ann = build_ann(index._rows, backend, params)
        if backend != "exact":
            index.rim = rim_pool(index.vectors, metric, params.rim_dirs, params.rim_m)
            index._rim_rows = index._rows[index.rim]
            if measure_queries > 0:
                index.manifest.measured = measure(index, measure_queries)
        return index

    # ---- persistence --------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the index folder atomically: a crash leaves the old index or the new one."""
        arrays = {"vectors": self.vectors}
        if self.text is not None and self.text_mask is not None:
            arrays |= {"text": self.text, "text_mask": self.text_mask}
        if self.basis is not None:
            arrays["basis"] = self.basis
        if self.rim is not None:
            arrays["rim"] = self.rim
        if self.bounds is not None:
            arrays |= self.bounds.arrays()
        items = json.dumps({"ids": self.ids, "labels": self.labels, "titles": self.titles})
        extra = {"items.json": lambda p: p.write_text(items, encoding="utf-8")}
        if self.head is not None:
            extra["head"] = self.head.save
        if self.ann is not None:
            extra["ann.faiss"] = lambda p: write_ann(self.ann, p)
        config = asdict(self.manifest)
        return save_artifact(directory, INDEX, config, arrays, extra_files=extra)

    @classmethod
    def load(cls, directory: str | Path) -> SearchIndex:
        """Read an index folder written by :meth:`save`.

        Raises:
            ArtifactError: not a saved index of this version (the message says why).
        """
        path = Path(directory)
        config, arrays = load_artifact(path, INDEX)
        try:
            manifest = Manifest(**config)
        except TypeError as err:
            raise ArtifactFormatError(
                path, f"config.json is not an index's ({err})", INDEX
            ) from None
        items = json.loads(artifact_file(path, INDEX, "items.json").read_text(encoding="utf-8"))
        head = None
        if manifest.space == "head":
            from pictext.rank.head import RankingHead

            head = RankingHead.load(path / "head")
        ann = None
        if manifest.backend != "exact":
            ann = read_ann(artifact_file(path, INDEX, "ann.faiss"), AnnParams(**manifest.ann))
        return cls(
            manifest,
            items["ids"],
            items["labels"],
            arrays["vectors"],
            head=head,
            basis=arrays.get("basis"),
            text=arrays.get("text"),
            text_mask=arrays.get("text_mask"),
            ann=ann,
            rim=arrays.get("rim"),
            bounds=CellBounds.from_arrays(arrays),
            titles=items.get("titles"),  # older indexes recorded none
            source=path.resolve(),
        )

    # ---- searching ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ids)

    def row(self, item_id: str) -> int:
        """Row of an item id; :class:`UnknownItemError` naming it when absent."""
        try:
            return self._row_of[item_id]
        except KeyError:
            where = "this index" if self.source is None else f"the index {self.source}"
            raise UnknownItemError(
                f"item {item_id!r} is not in {where} ({len(self)} items)", item=item_id
            ) from None

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._row_of

    def fingerprint(self) -> str:
        """SHA-256 of the ids and vectors: a cache key for what is derived from this index
        (two indexes share it only when they hold the same vectors for the same ids)."""
        import hashlib

        h = hashlib.sha256()
        for item_id in self.ids:
            h.update(item_id.encode("utf-8", "surrogatepass") + b"\0")
        h.update(memoryview(np.ascontiguousarray(self.vectors)).cast("B"))
        return h.hexdigest()

    def to_space(self, features: Features) -> np.ndarray:
        """``[N, dim]`` vectors of ``features`` in the index space.

        The ranking head's output in the stored basis, or the raw image embedding for a raw
        index: the one place new items are mapped where the collection lives. Rows without
        the inputs the space reads (see :meth:`usable`) are zero.

        Raises:
            EncoderMismatchError: the features come from other encoders than the index's.
        """
        if self.head is not None:
            return head_space(self.head, self.basis, features)
        if features.image is None:
            raise ValueError("these features have no image embeddings to search a raw index")
        if features.image_encoder != self.manifest.image_encoder:
            raise EncoderMismatchError(
                f"the index holds {self.manifest.image_encoder!r} embeddings but these "
                f"features come from {features.image_encoder!r}"
            )
        return np.asarray(features.image, np.float32)  # a missing image is a zero row

    def usable(self, features: Features) -> np.ndarray:
        """Bool ``[N]``: rows of ``features`` with the inputs the index space reads."""
        if self.head is not None:
            return self.head.usable(features)
        if features.image is None:
            return np.zeros(features.n, bool)
        mask = features.image_mask
        return np.ones(features.n, bool) if mask is None else np.asarray(mask, bool)

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        farthest: bool = False,
        exact: bool | None = None,
        exclude: list[set[int]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and distances of the ``k`` nearest (or farthest) items per query vector.

        Args:
            queries: ``[B, dim]`` vectors in the index space.
            k: results per query.
            farthest: divergent search instead of similar.
            exact: force exact (True) or the FAISS index (False); default: the index's backend.
                Divergent queries scan the rim pool, or on an IVF index with
                ``ann.divergent == "bound"`` run its branch and bound over the cells (exact
                unless ``ann.divergent_cells`` caps them).
            exclude: per query, rows never to return (e.g. the query item itself).

        Returns:
            ``(rows [B, k], distances [B, k])``; ``-1`` / ``nan`` where fewer were found.
        """
        q = np.atleast_2d(np.asarray(queries, np.float32))
        extra = max((len(e) for e in exclude), default=0) if exclude else 0
        want = min(k + extra, len(self))
        aq = augment_queries(q, self.manifest.metric, farthest)
        use_exact = self.ann is None if exact is None else exact
        params = AnnParams(**self.manifest.ann)
        if use_exact:
            rows, _ = top_k_inner(self._rows, aq, want)
        elif farthest and self.bounds is not None and params.divergent == "bound":
            rows, _ = bnb_search(
                self.ann, self.bounds, aq, want, params.bnb_first, params.divergent_cells
            )
        elif farthest and self._rim_rows is not None and self.rim is not None:
            got, _ = top_k_inner(self._rim_rows, aq, want)
            rows = self.rim[got]
        else:
            rows, _ = search_ann(self.ann, aq, want)
        out = np.full((len(q), k), -1, np.int64)
        for b in range(len(q)):
            skip = exclude[b] if exclude else set()
            got = [r for r in rows[b] if r >= 0 and r not in skip][:k]
            out[b, : len(got)] = got
        dist = np.full(out.shape, np.nan, np.float32)
        ok = out >= 0
        space = self._space_vectors()
        qs = self._space_queries(q)
        dist[ok] = np.linalg.norm(space[out[ok]] - np.repeat(qs, k, axis=0)[ok.ravel()], axis=1)
        return out, dist

    def _space_vectors(self) -> np.ndarray:
        return self._rows if self.manifest.metric == "cosine" else self.vectors

    def _space_queries(self, q: np.ndarray) -> np.ndarray:
        return unit_rows(q) if self.manifest.metric == "cosine" else q

    def similar_to(
        self, query: np.ndarray | Features | int, k: int = defaults.SEARCH_K
    ) -> list[Hit]:
        """The ``k`` items nearest to a query.

        Args:
            query: a row of this index (excluded from the results), a ``[dim]`` vector of the
                index space, or one-row :class:`~pictext.store.features.Features` of a new
                item (mapped by :meth:`to_space`).
            k: results.
        """
        return self._nearest(query, k, farthest=False)

    def divergent_to(
        self,
        query: np.ndarray | Features | int,
        k: int = defaults.SEARCH_K,
        divergence: Divergence | None = None,
    ) -> list[Hit]:
        """``k`` items far from a query, most distant first (``query`` as in
        :meth:`similar_to`; ``divergence``: mode and knobs, see :mod:`pictext.rank.divergent`).

        A FAISS index answers from its rim pool, an exact one from every row."""
        div = divergence or Divergence()
        if div.mode == "farthest":
            return self._nearest(query, k, farthest=True)
        vector, exclude = self._query_vector(query)
        q = self._space_queries(vector)[0]
        skip = exclude[0] if exclude else ()
        scan = self.rim if self.ann is not None else None
        rows, dist = divergent_rows(self._space_vectors(), q, k, div, scan=scan, exclude=skip)
        return self._hits(rows, dist)

    def _nearest(self, query: np.ndarray | Features | int, k: int, farthest: bool) -> list[Hit]:
        vector, exclude = self._query_vector(query)
        rows, dist = self.search(vector, k, farthest=farthest, exclude=exclude)
        return self._hits(rows[0], dist[0])

    def _query_vector(
        self, query: np.ndarray | Features | int
    ) -> tuple[np.ndarray, list[set[int]] | None]:
        if isinstance(query, (int, np.integer)):
            row = int(query)
            if not 0 <= row < len(self):
                raise IndexError(f"row {row} is not in this index ({len(self)} items)")
            return self.vectors[row : row + 1], [{row}]
        if isinstance(query, np.ndarray):
            vector = np.atleast_2d(np.asarray(query, np.float32))
        else:
            if query.n != 1:
                raise ValueError(f"one query at a time: these features hold {query.n} rows")
            if not self.usable(query)[0]:
                raise ValueError(f"{query.ids[0]}: none of the inputs this index space reads")
            vector = self.to_space(query)
        if vector.shape != (1, self.vectors.shape[1]):
            raise ValueError(
                f"a query is one {self.vectors.shape[1]}-d vector of the index space; "
                f"got shape {vector.shape}"
            )
        return vector, None

    def text_search(
        self,
        vector: np.ndarray,
        k: int = defaults.SEARCH_K,
        *,
        farthest: bool = False,
        divergence: Divergence | None = None,
    ) -> list[Hit]:
        """The ``k`` items whose text is nearest to (or far from) a text embedding.

        Args:
            vector: ``[Dt]`` embedding by the index's text encoder (``manifest.text_encoder``).
            k: results; only items with text are searched.
            farthest: divergent search instead of similar.
            divergence: how a divergent list is chosen (as in :meth:`divergent_to`).
        """
        if self.text is None or self.text_mask is None:
            raise ValueError("this index has no text features; rebuild it with text embeddings")
        usable = np.flatnonzero(self.text_mask)
        q = unit_rows(np.atleast_2d(vector))
        if farthest:
            rows, dist = divergent_rows(self.text[usable], q[0], k, divergence)
            return self._hits(usable[rows], dist)
        rows, _ = top_k_inner(self.text[usable], q, k)
        found = usable[rows[0][rows[0] >= 0]]
        return self._hits(found, np.linalg.norm(self.text[found] - q, axis=1))

    def _hits(self, rows: np.ndarray, dist: np.ndarray) -> list[Hit]:
        return [
            Hit(self.ids[r], self.labels[r], float(d), int(r), self.titles[r])
            for r, d in zip(rows, dist, strict=True)
            if r >= 0
        ]

    # ---- recommending -------------------------------------------------------------------
    def recommend(
        self,
        history: Sequence[str | int],
        k: int = defaults.SEARCH_K,
        *,
        queries: np.ndarray | None = None,
        lambda_: float = defaults.MMR_LAMBDA,
        method: str = "mmr",
        pool: int = defaults.POOL,
        avoid_seen: bool = True,
    ) -> list[Hit]:
        """Items relevant to a user's history yet diverse (see :mod:`pictext.rank.diversity`).

        Relevance is the mean cosine similarity to the seen items; the ``pool`` most relevant
        unseen items are the candidates a selector picks ``k`` from.

        Args:
            history: ids (or rows) of the items the user has seen.
            k: list length.
            queries: ``[Q, dim]`` index-space vectors of new items the user brought (an
                upload: see :meth:`to_space`); they join the history.
            lambda_: 1 = plain nearest neighbours of the history, lower = more diverse.
            method: ``knn``, ``mmr``, ``kcenter`` or ``dpp``.
            pool: candidates considered.
            avoid_seen: also keep away from the seen items, not only from each other.
        """
        extra = None if queries is None else unit_rows(np.atleast_2d(queries))
        if not history and (extra is None or not len(extra)):
            raise ValueError("recommend needs at least one history item or query vector")
        seen_rows = [h if isinstance(h, (int, np.integer)) else self.row(h) for h in history]
        rows, dist = recommend_rows(
            self._unit(),
            seen_rows,
            k,
            extra=extra,
            method=method,
            lambda_=lambda_,
            pool=pool,
            avoid_seen=avoid_seen,
            search=self._searcher(),
        )
        return self._hits(rows, dist)

    def candidates(
        self, seen_rows: Sequence[int], pool: int, *, extra: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``pool`` unseen rows most relevant to the history, with their relevance (see
        :func:`pictext.rank.recommend.candidates`; ``extra``: unit vectors of new items)."""
        return candidates(self._unit(), seen_rows, pool, extra=extra, search=self._searcher())

    def _searcher(self) -> Searcher | None:
        """The index's own search for a cosine profile; an l2 profile is scanned exactly."""
        if self.manifest.metric == "l2":
            return None
        return lambda profile, n, skip: self.search(profile, n, exclude=skip)

    def unit_vectors(self, rows: Sequence[int]) -> np.ndarray:
        """Unit-length index vectors of ``rows``."""
        return self._unit()[np.asarray(rows, np.int64)]

    def _unit(self) -> np.ndarray:
        """Unit-length rows (what relevance and diversity are measured on)."""
        return self._rows if self.manifest.metric == "cosine" else unit_rows(self.vectors)
