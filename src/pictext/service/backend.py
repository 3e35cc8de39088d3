"""The service's one adapter to the library: load a bundle's models once, answer queries.

Every call into the heads (fusion classifier, captioner), the index and the encoders goes
through this module, so a change of their API touches this file only. Results come back
as JSON-ready dicts. Model time is measured into a :class:`~pictext.service.timing.Timing`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.data.item import Item
from pictext.encoders.registry import EncoderVersionError, create_recorded_encoder
from pictext.service.bundle import Bundle, BundleError
from pictext.service.cache import LruCache
from pictext.service.catalog import Catalog
from pictext.service.config import ServiceConfig
from pictext.service.errors import ServiceError, unprocessable
from pictext.service.timing import Timing
from pictext.store.features import TEXT_INPUTS, Features

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger("pictext.service")

EncoderFactory = Callable[..., Any]  # (registry name, **options) -> encoder


@dataclass
class Query:
    """One uploaded item: an image and/or its text."""

    image: Image.Image | None = None  # decoded RGB upload, None for text-only queries
    title: str = ""  # "" when missing
    description: str = ""  # "" when missing
    tags: tuple[str, ...] = ()  # () when missing
    id: str = "upload"  # name used in messages
    key: str | None = None  # content hash of the uploaded file: caches its embeddings

    def item(self) -> Item:
        return Item(self.id, None, self.title, self.description, self.tags)

    def has_text(self) -> bool:
        return bool(self.item().text.strip())


def _default_factory(name: str, **options: Any) -> Any:
    from pictext.encoders import create_encoder

    return create_encoder(name, **options)


def _top(pairs: Sequence[tuple[str, float]]) -> list[dict[str, Any]]:
    return [{"label": lab, "p": round(float(p), 4)} for lab, p in pairs]


class Backend:
    """A bundle's models, loaded once, and the operations the routes call.

    Example:
        >>> from pictext.service.bundle import find_bundle  # doctest: +SKIP
        >>> backend = Backend.load(find_bundle("bundle"))  # doctest: +SKIP
        >>> backend.tag([Query(title="a red car")], k=3)  # doctest: +SKIP
    """

    def __init__(self, bundle: Bundle, config: ServiceConfig) -> None:
        self.bundle = bundle
        self.config = config
        self.classifier: Any = None  # FusionClassifier
        self.index: Any = None  # SearchIndex
        self.captioner: Any = None  # Captioner
        self.catalog = Catalog(bundle, config)  # items, captions, thumbnails, map
        self._encoders: dict[str, Any] = {}  # "name@version" -> encoder
        self._factory: EncoderFactory = _default_factory
        self._cache_dir: Path | None = None
        self._clf_specs: tuple[str | None, str | None] = (None, None)
        self._ix_specs: tuple[str | None, str | None] = (None, None)  # what the index space reads
        self._caption_text: Any = None  # text encoder of caption search
        self._caption_col: Any = None  # CaptionCollection of the catalog
        self._unit: np.ndarray | None = None  # unit-length index vectors, for recommending
        self._lock = threading.Lock()
        self._embeddings = LruCache[np.ndarray](config.embedding_cache)  # (spec, key) -> vector

    # ---- loading ------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        bundle: Bundle,
        config: ServiceConfig | None = None,
        *,
        encoder_factory: EncoderFactory | None = None,
        cache_dir: str | Path | None = None,
    ) -> Backend:
        """Load every part the bundle has, and the encoders they need, once.

        Args:
            bundle: from :func:`~pictext.service.bundle.find_bundle`.
            config: service limits; defaults when None.
            encoder_factory: builds an encoder from its registry name (tests pass toys).
            cache_dir: embedding and caption cache root (default ``$PICTEXT_CACHE``).

        Raises:
            BundleError: a part does not load, or was trained with other encoder versions.
        """
        self = cls(bundle, config or ServiceConfig())
        self._factory = encoder_factory or _default_factory
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        if bundle.dataset:
            self.catalog.load_items()
        if bundle.classifier:
            self._load_classifier(bundle.classifier)
        if bundle.index:
            self._load_index(bundle.index)
        if bundle.captioner:
            self._load_captioner(bundle.captioner)
        return self

    def _encoder(self, spec: str, part: str) -> Any:
        """The encoder named ``name@version``, built once; the version must match."""
        with self._lock:
            if spec not in self._encoders:
                try:
                    enc = create_recorded_encoder(
                        spec, factory=self._factory, threads=self.config.threads
                    )
                except EncoderVersionError as err:
                    raise BundleError(
                        f"the {part} was {err}; rebuild it: {self.bundle.hint(part)}"
                    ) from None
                self._encoders[spec] = _prepared(enc)
            return self._encoders[spec]

    def _load_classifier(self, path: Path) -> None:
        import torch

        from pictext.classify.fusion import FusionClassifier
        from pictext.store.inputs import uses_text

        torch.set_num_threads(self.config.threads)
        clf = FusionClassifier.load(path)
        inputs = clf.config.inputs
        image = clf.image_encoder_ if "image" in inputs else None
        text = clf.text_encoder_ if uses_text(inputs) else None
        self._clf_specs = (image, text)
        for spec in self._clf_specs:
            if spec:
                self._encoder(spec, "classifier")
        self.classifier = clf
        log.info("classifier: %d classes, inputs %s (%s)", len(clf.classes_), inputs, path)

    def _load_index(self, path: Path) -> None:
        from pictext.rank.ann import normalize_rows
        from pictext.rank.index import SearchIndex

        index = SearchIndex.load(path)
        m = index.manifest
        head = index.head
        head_text = head.spec.text_encoder if head is not None and head.config.use_text else None
        self._ix_specs = (m.image_encoder, head_text)
        for spec in (m.image_encoder, head_text, m.text_encoder if m.has_text else None):
            if spec:
                self._encoder(spec, "index")
        self.index = index
        self._unit = normalize_rows(index.vectors)
        self.catalog.load_map(index)
        log.info("index: %d items, %s space, %s (%s)", len(index), m.space, m.metric, path)

    def _load_captioner(self, path: Path) -> None:
        from pictext.caption import Captioner

        captioner = Captioner.load(path)
        if not captioner.image_encoder:
            raise BundleError(f"{path}: the captioner names no image encoder; rebuild it")
        self._encoder(captioner.image_encoder, "captioner")
        self._caption_text = _prepared(
            self._factory(self.config.caption_text_encoder, threads=self.config.threads)
        )
        self.captioner = captioner
        if self.catalog.items:
            self._caption_catalog()
        log.info("captioner: %r (%s)", captioner, path)

    def _caption_catalog(self) -> None:
        """Caption every collection image once (cached on disk by the library)."""
        from pictext.caption import caption_collection
        from pictext.core.paths import cache_dir
        from pictext.data.dataset import Dataset
        from pictext.store import embed_dataset

        items = list(self.catalog.items.values())
        enc = self._encoder(self.captioner.image_encoder, "captioner")
        feats = embed_dataset(
            Dataset("catalog", items), enc, None, cache_dir=self._cache_dir, progress=False
        )
        keep = np.flatnonzero(feats.image_mask)
        root = self._cache_dir / "captions" if self._cache_dir else cache_dir("captions")
        col = caption_collection(
            self.captioner,
            [feats.ids[i] for i in keep],
            feats.image[keep],
            self._caption_text,
            cache_dir=root,
        )
        self._caption_col = col
        self.catalog.captions = dict(zip(col.ids, col.captions, strict=True))

    def warm_up(self) -> None:
        """Run every loaded part once on a blank image (first-call costs paid at start)."""
        from PIL import Image

        q = [Query(Image.new("RGB", (64, 64), "white"), title="warm up")]
        t = Timing()
        if self.classifier is not None:
            self.tag(q, 1, t)
        if self.index is not None:
            self.search(q, 1, False, t)
        if self.captioner is not None:
            self.caption(q, 1, t)
        log.info("warm-up: %.0f ms of model time", 1000 * t.phases.get("model", 0.0))

    # ---- helpers ------------------------------------------------------------------------
    def require(self, part: str) -> None:
        """Raise a 503 naming the command that builds ``part`` when the bundle lacks it."""
        loaded = {"classifier": self.classifier, "index": self.index, "captioner": self.captioner}
        if loaded[part] is None:
            raise ServiceError(
                503,
                "part_missing",
                f"this bundle has no {part}",
                hint=f"build it: {self.bundle.hint(part)}",
            )

    @property
    def image_size(self) -> int:
        """The largest input side of the loaded image encoders (uploads decode at least this)."""
        sizes = [getattr(e, "image_size", 0) for e in self._encoders.values()]
        return max([s for s in sizes if s] or [224])

    def features(
        self,
        queries: Sequence[Query],
        image_spec: str | None,
        text_spec: str | None,
        part: str,
        timing: Timing,
    ) -> Features:
        """Embed queries with the named towers; a missing input is a zero row, mask False."""
        feats = Features(ids=[q.id for q in queries])
        if image_spec:
            feats.image, feats.image_mask = self._image_rows(queries, image_spec, part, timing)
            feats.image_encoder = image_spec
        if text_spec:
            enc = self._encoder(text_spec, part)
            items = [q.item() for q in queries]
            texts = {name: [it.field_text(name) for it in items] for name in TEXT_INPUTS}
            distinct = sorted({t for col in texts.values() for t in col if t.strip()})
            vecs = {}
            if distinct:
                with timing.measure("model"):
                    vecs = dict(zip(distinct, np.asarray(enc.encode(distinct)), strict=True))
            for name, col in texts.items():
                feats.text[name] = np.stack(
                    [vecs.get(t, np.zeros(enc.dim, np.float32)) for t in col]
                ).astype(np.float32)
                feats.text_mask[name] = np.array([t in vecs for t in col], bool)
            feats.text_encoder = text_spec
        return feats

    def _image_rows(
        self, queries: Sequence[Query], spec: str, part: str, timing: Timing
    ) -> tuple[np.ndarray, np.ndarray]:
        """Image embeddings (zero rows where no image); each upload is embedded once."""
        enc = self._encoder(spec, part)
        out, mask = np.zeros((len(queries), enc.dim), np.float32), np.zeros(len(queries), bool)
        todo = []
        for i, q in enumerate(queries):
            if q.image is None:
                continue
            mask[i] = True
            hit = None if q.key is None else self._embeddings.get((spec, q.key))
            if hit is None:
                todo.append(i)
            else:
                out[i] = hit
        if todo:
            with timing.measure("model"):
                out[todo] = enc.encode([queries[i].image for i in todo])
            for i in todo:
                if queries[i].key is not None:
                    self._embeddings.put((spec, queries[i].key), out[i].copy())
        return out, mask

    # ---- classifier ---------------------------------------------------------------------
    def tag(self, queries: Sequence[Query], k: int, timing: Timing) -> list[dict[str, Any]]:
        """Top-``k`` labels with calibrated probabilities, per query."""
        from pictext.classify.tagging import tag

        self.require("classifier")
        feats = self.features(queries, *self._clf_specs, "classifier", timing)
        with timing.measure("model"):
            tops = tag(self.classifier, feats, k)
        return [{"top": _top(t), "inputs": _inputs(q)} for q, t in zip(queries, tops, strict=True)]

    def verify(
        self, queries: Sequence[Query], claimed: Sequence[str], k: int, timing: Timing
    ) -> list[dict[str, Any]]:
        """Agree or disagree with each claimed label, with confidence and the top-``k``."""
        from pictext.classify.tagging import verify

        self.require("classifier")
        known = set(self.classifier.classes_)
        unknown = sorted({c for c in claimed if c not in known})
        if unknown:
            names = self.classifier.classes_
            shown = ", ".join(names[:60]) + (" ..." if len(names) > 60 else "")
            raise unprocessable(
                f"unknown label(s) {unknown}; the model knows: {shown}",
                field="label",
                code="unknown_label",
            )
        feats = self.features(queries, *self._clf_specs, "classifier", timing)
        with timing.measure("model"):
            verdicts = verify(self.classifier, feats, list(claimed), k)
        out = []
        for q, v in zip(queries, verdicts, strict=True):
            d = v.to_dict()
            d.pop("id", None)
            d["top"] = _top(v.top)
            d["inputs"] = _inputs(q)
            out.append(d)
        return out

    # ---- index --------------------------------------------------------------------------
    def search(
        self, queries: Sequence[Query], k: int, farthest: bool, timing: Timing
    ) -> list[dict[str, Any]]:
        """The ``k`` most similar (or most divergent) collection items per query."""
        self.require("index")
        out = []
        for q in queries:
            hits = self._search_one(q, k, farthest, timing)
            out.append({"hits": hits, "inputs": _inputs(q)})
        return out

    def _search_one(self, q: Query, k: int, farthest: bool, timing: Timing) -> list[dict]:
        ix = self.index
        head_reads_text = self._ix_specs[1] is not None
        if q.image is not None or (head_reads_text and q.has_text()):
            vec = self._index_vector([q], timing)
            with timing.measure("model"):
                rows, dist = ix.search(vec, k, farthest=farthest)
            return self._hits(rows[0], dist[0])
        if q.has_text() and ix.text is not None:
            return self._text_hits(q, k, farthest, timing)
        need = "an image" if ix.text is None else "an image or some text"
        raise unprocessable(f"{q.id}: a search needs {need}", field="image", code="missing_input")

    def _index_vector(self, queries: Sequence[Query], timing: Timing) -> np.ndarray:
        """Queries in the index space: the ranking head's output (in its basis), or raw."""
        feats = self.features(queries, *self._ix_specs, "index", timing)
        ix = self.index
        if ix.head is None:
            return np.asarray(feats.image, np.float32)
        with timing.measure("model"):
            vec = ix.head.transform(feats)
        return vec @ ix.basis if ix.basis is not None else vec

    def _text_hits(self, q: Query, k: int, farthest: bool, timing: Timing) -> list[dict]:
        from pictext.rank.ann import normalize_rows, top_k_inner

        ix = self.index
        enc = self._encoder(ix.manifest.text_encoder, "index")
        with timing.measure("model"):
            vec = normalize_rows(np.asarray(enc.encode([q.item().text]), np.float32))
            usable = np.flatnonzero(ix.text_mask)
            rows, _ = top_k_inner(ix.text[usable], (-1.0 if farthest else 1.0) * vec, k)
        found = usable[rows[0][rows[0] >= 0]]
        dist = np.linalg.norm(ix.text[found] - vec, axis=1)
        return self._hits(found, dist)

    def _hits(self, rows: np.ndarray, dist: np.ndarray) -> list[dict[str, Any]]:
        ix = self.index
        return [
            self.catalog.hit(ix.ids[r], ix.labels[r], distance=float(d))
            for r, d in zip(rows, dist, strict=True)
            if r >= 0
        ]

    def indexed(self, item_id: str) -> bool:
        """True when the index holds ``item_id``."""
        if self.index is None:
            return False
        try:
            self.index.row(item_id)
        except KeyError:
            return False
        return True

    def neighbours(self, item_id: str, k: int, farthest: bool) -> list[dict[str, Any]]:
        """Items most similar (or divergent) to a collection item; [] when it is not indexed."""
        if not self.indexed(item_id):
            return []
        hits = (self.index.divergent if farthest else self.index.similar)(f"id:{item_id}", k)
        return [self.catalog.hit(h.id, h.label, distance=h.distance) for h in hits]

    def recommend(
        self,
        history: Sequence[str],
        query: Query | None,
        k: int,
        *,
        method: str = "mmr",
        lambda_: float = 0.5,
        pool: int = 200,
        timing: Timing,
    ) -> list[dict[str, Any]]:
        """Items relevant to a history (ids, and/or an upload) yet diverse."""
        from pictext.rank.ann import normalize_rows, top_k_inner
        from pictext.rank.diversity import SELECTORS, select

        self.require("index")
        if method not in SELECTORS:
            raise unprocessable(
                f"unknown method {method!r}; use one of {SELECTORS}", field="method"
            )
        unknown = [h for h in history if not self.indexed(h)]
        if unknown:
            raise ServiceError(
                404, "unknown_item", f"history item(s) not in the index: {unknown}", field="history"
            )
        if query is None:
            if not history:
                raise unprocessable("give history item ids or an image", field="history")
            with timing.measure("model"):
                hits = self.index.recommend(
                    list(history), k, lambda_=lambda_, method=method, pool=pool
                )
            return [self.catalog.hit(h.id, h.label, distance=h.distance) for h in hits]
        unit = self._unit
        rows = [self.index.row(h) for h in history]
        seen = np.vstack([unit[rows], normalize_rows(self._index_vector([query], timing))])
        with timing.measure("model"):
            profile = normalize_rows(seen.mean(axis=0, keepdims=True))
            cand, _ = top_k_inner(unit, profile, pool + len(rows))
            cand = np.array([c for c in cand[0] if c >= 0 and c not in set(rows)][:pool])
            pick = select(method, unit[cand], unit[cand] @ profile[0], k, lambda_, seen)
        dist = np.linalg.norm(unit[cand[pick]] - profile, axis=1)
        return self._hits(cand[pick], dist)

    # ---- captioner ----------------------------------------------------------------------
    def caption(self, queries: Sequence[Query], k: int, timing: Timing) -> list[dict[str, Any]]:
        """A caption per image, with collection images of similar and divergent captions."""
        from pictext.caption import (
            CaptionThresholds,
            caption_divergent,
            caption_query,
            caption_similar,
        )

        self.require("captioner")
        for q in queries:
            if q.image is None:
                raise unprocessable(f"{q.id}: a caption needs an image", field="image")
        spec = self.captioner.image_encoder
        feats = self.features(queries, spec, None, "captioner", timing)
        th = CaptionThresholds()
        with timing.measure("model"):
            caps, vecs = caption_query(self.captioner, feats.image, self._caption_text)
        out = []
        for text, vec in zip(caps, vecs, strict=True):
            col = self._caption_col
            sim = [] if col is None else caption_similar(vec, col, threshold=th.similar, k=k)
            div = (
                []
                if col is None
                else caption_divergent(vec, col, low=th.divergent_low, high=th.divergent_high, k=k)
            )
            out.append(
                {
                    "caption": text,
                    "similar": [self.catalog.hit(m.id, None, score=m.score) for m in sim],
                    "divergent": [self.catalog.hit(m.id, None, score=m.score) for m in div],
                    "thresholds": {
                        "similar": th.similar,
                        "divergent": [th.divergent_low, th.divergent_high],
                    },
                }
            )
        return out

    # ---- description --------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """What this bundle can do (the page reads it to show only what works)."""
        ix = self.index
        return {
            "title": self.bundle.info.get("title") or f"pictext · {self.bundle.root.name}",
            "dataset": self.bundle.dataset,
            "items": len(self.catalog.items),
            "parts": {
                "classifier": self.classifier is not None,
                "index": ix is not None,
                "captioner": self.captioner is not None,
            },
            "missing": {p: self.bundle.hint(p) for p in self.bundle.missing()},
            "classes": list(self.classifier.classes_) if self.classifier is not None else [],
            "index": None
            if ix is None
            else {
                "n": len(ix),
                "space": ix.manifest.space,
                "metric": ix.manifest.metric,
                "text_search": ix.text is not None,
            },
            "encoders": sorted(self._encoders),
        }


def _prepared(encoder: Any) -> Any:
    """Load an encoder's runtime now, so the first request does not pay for it."""
    prepare = getattr(encoder, "prepare", None)
    if callable(prepare):
        prepare()
    return encoder


def _inputs(q: Query) -> dict[str, bool]:
    """Which inputs a query had (the page shows it; a model answers from what it got)."""
    return {
        "image": q.image is not None,
        "title": bool(q.title.strip()),
        "description": bool(q.description.strip()),
        "tags": bool(q.tags),
    }
