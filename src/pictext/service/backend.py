"""The service's one adapter to the library: load a bundle's parts once, delegate, format.

Every answer comes from a library call the CLI makes too: tags and verdicts from
:mod:`pictext.classify.tagging`, searches and recommendations from
:mod:`pictext.rank.queries`, captions from :mod:`pictext.caption.search`. Uploads are
:class:`~pictext.data.item.Item` objects with in-memory pixels, embedded by the library's
one path for new inputs with an in-memory cache. This module only loads, checks what the
request asked for and turns results into JSON-ready dicts; model time is measured into a
:class:`~pictext.service.timing.Timing`.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from pictext.bundle.layout import Bundle, BundleError
from pictext.bundle.model import Model
from pictext.core import defaults
from pictext.core.errors import UsageError
from pictext.data.item import Item
from pictext.encoders.registry import EncoderVersionError
from pictext.service.catalog import Catalog
from pictext.service.config import ServiceConfig
from pictext.service.errors import ServiceError, unprocessable
from pictext.service.timing import Timing
from pictext.store import EncoderPool, MemoryCache
from pictext.store.failures import all_read

if TYPE_CHECKING:
    from pictext.rank.divergent import Divergence

log = logging.getLogger("pictext.service")

EncoderFactory = Callable[..., Any]  # (registry name, **options) -> encoder


def _top(pairs: Sequence[tuple[str, float]]) -> list[dict[str, Any]]:
    return [{"label": lab, "p": round(float(p), 4)} for lab, p in pairs]


class Backend:
    """A bundle's parts, loaded once, and the operations the routes call.

    Example:
        >>> from pictext.bundle.layout import find_bundle  # doctest: +SKIP
        >>> backend = Backend.load(find_bundle("bundle"))  # doctest: +SKIP
        >>> backend.tag([Item("q", title="a red car")], 3, Timing())  # doctest: +SKIP
    """

    def __init__(
        self, bundle: Bundle, config: ServiceConfig, encoder_factory: EncoderFactory | None = None
    ) -> None:
        self.bundle = bundle
        self.config = config
        self.classifier: Any = None  # RoutedClassifier
        self.index: Any = None  # SearchIndex
        self.captioner: Any = None  # Captioner
        self.captions: Any = None  # CaptionSearch over the catalog
        self.audit: Any = None  # AuditResult of the collection, when the bundle has one
        self.catalog = Catalog(bundle, config)  # items, captions, thumbnails, map
        self.encoders = EncoderPool(encoder_factory, prepare=True, threads=config.threads)
        self.memory = MemoryCache(config.embedding_cache)  # upload embeddings, by content
        self._cache_dir: Path | None = None
        # The one object the CLI and Python answer through too (pictext.load).
        self.model = Model(bundle, encoders=self.encoders, memory=self.memory)
        self._info: dict[str, Any] | None = None  # info(), built on first use
        self._catalog_row: Any = None  # index row -> catalog row, for map selections
        self.views: Any = None  # BrowseViews: /browse and /info without a scan (audit/views.py)

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
            bundle: from :func:`~pictext.bundle.layout.find_bundle`.
            config: service limits; defaults when None.
            encoder_factory: builds an encoder from its registry name (tests pass toys).
            cache_dir: embedding and caption cache root (default ``$PICTEXT_CACHE``).

        Raises:
            BundleError: a part does not load, or was trained with other encoder versions.
        """
        self = cls(bundle, config or ServiceConfig(), encoder_factory)
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.model.cache_dir = self._cache_dir
        if bundle.dataset:
            self.catalog.load_items()
            self.model.items = list(self.catalog.items.values())
        if bundle.classifier:
            self._load_classifier(bundle.classifier)
        if bundle.index:
            self._load_index(bundle.index)
        if bundle.captioner:
            self._load_captioner(bundle.captioner)
        if bundle.audit:
            self.audit = self.model.require("audit")
        self.browse_views()  # built once at start, not on the first request
        return self

    def collection_changed(self) -> None:
        """An edit, an add or a remove changed the items: the sorted views, ``/info`` and
        the map's row mapping are rebuilt on their next use (one sort, not one per request)."""
        self.views = None
        self._info = None
        self._catalog_row = None

    def browse_views(self) -> Any:
        """The collection's :class:`~pictext.audit.views.BrowseViews` (built on first use)."""
        if self.views is None:
            from pictext.audit.views import BrowseViews

            self.views = BrowseViews(list(self.catalog.items.values()), self.audit)
        return self.views

    def _encoder(self, spec: str, part: str) -> Any:
        """Build the encoder a part recorded now; a version mismatch is a bundle error."""
        try:
            return self.encoders(spec)
        except EncoderVersionError as err:
            raise BundleError(
                f"the {part} was {err}; rebuild it: {self.bundle.hint(part)}"
            ) from None

    def _load_classifier(self, path: Path) -> None:
        from pictext.classify.tagging import model_encoders
        from pictext.core.threads import set_torch_threads

        set_torch_threads(self.config.threads)
        clf = self.model.require("classifier")
        for spec in model_encoders(clf):
            if spec:
                self._encoder(spec, "classifier")
        self.classifier = clf
        inputs = clf.config.inputs
        log.info("classifier: %d classes, inputs %s (%s)", len(clf.classes_), inputs, path)

    def _load_index(self, path: Path) -> None:
        from pictext.rank.queries import index_encoders

        index = self.model.require("index")
        for spec in index_encoders(index).specs:
            self._encoder(spec, "index")
        self.index = index
        self.catalog.load_map(index, self._cache_dir)
        m = index.manifest
        log.info("index: %d items, %s space, %s (%s)", len(index), m.space, m.metric, path)

    def _load_captioner(self, path: Path) -> None:
        try:
            captioner = self.model.require("captioner")
        except UsageError as err:
            raise BundleError(str(err)) from None
        self._encoder(captioner.image_encoder, "captioner")
        # By registry name, not recorded; kept out of the pool of the parts' recorded encoders.
        pool = EncoderPool(self.encoders.factory, prepare=True, threads=self.config.threads)
        text = self._caption_text = pool(self.config.caption_text_encoder)
        # Every collection image is captioned once (cached on disk).
        self.captions = self.model.caption_index(text)
        col = self.captions.collection
        if col is not None:
            self.catalog.captions = dict(zip(col.ids, col.captions, strict=True))
        self.captioner = captioner
        log.info("captioner: %r (%s)", captioner, path)

    def warm_up(self) -> None:
        """Run every loaded part once on a blank image (first-call costs paid at start)."""
        from PIL import Image

        from pictext.data.images import image_pixels

        blank = image_pixels(Image.new("RGB", (64, 64), "white"))
        q = [Item("warm up", pixels=blank, title="warm up")]
        t = Timing()
        if self.classifier is not None:
            self.tag(q, 1, t)
        if self.index is not None:
            self.nearest(q, 1, False, t)
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

    def answered_by(self, part: str) -> dict[str, Any]:
        """Which part answered: ``{"kind", "path", "items"}``.

        ``path`` is the part's folder from the bundle folder's name on (no server path above
        it); ``items`` is what the answer was chosen among: the indexed items (index), the
        classes (classifier) or the captioned collection images (captioner).
        """
        self.require(part)
        folder = self.bundle.part(part)
        assert folder is not None  # loaded parts have a folder
        root = self.bundle.root
        path = PurePosixPath(root.resolve().name) / folder.relative_to(root).as_posix()
        if part == "index":
            items = len(self.index)
        elif part == "classifier":
            items = len(self.classifier.classes_)
        else:
            col = self.captions.collection
            items = 0 if col is None else len(col.ids)
        return {"kind": part, "path": str(path), "items": items}

    @property
    def image_size(self) -> int:
        """The largest input side of the loaded image encoders (uploads decode at least this)."""
        return self.encoders.image_size()

    def _embedding(self) -> dict[str, Any]:
        """How every library call embeds uploads: the bundle's encoders, kept in memory."""
        return {"encoders": self.encoders, "memory": self.memory}

    # ---- classifier ---------------------------------------------------------------------
    def tag(self, queries: Sequence[Item], k: int, timing: Timing) -> list[dict[str, Any]]:
        """Top-``k`` labels with calibrated probabilities, per query."""
        from pictext.classify.tagging import ignored_inputs

        self.require("classifier")
        classifier = self.classifier
        with timing.measure("model"):
            tops = all_read(self.model.tag(queries, k))
        return [
            {"top": _top(t), "inputs": _inputs(q), "ignored": ignored_inputs(classifier, q)}
            for q, t in zip(queries, tops, strict=True)
        ]

    def verify(
        self, queries: Sequence[Item], claimed: Sequence[str], k: int, timing: Timing
    ) -> list[dict[str, Any]]:
        """Agree or disagree with each claimed label, with confidence and the top-``k``."""
        from pictext.classify.tagging import ignored_inputs

        self.require("classifier")
        classifier = self.classifier
        with timing.measure("model"):
            verdicts = all_read(self.model.verify(queries, list(claimed), k))
        out = []
        for q, v in zip(queries, verdicts, strict=True):
            d = v.to_dict()
            d.pop("id", None)
            d["top"] = _top(v.top)
            d["inputs"] = _inputs(q)
            d["ignored"] = ignored_inputs(classifier, q)
            out.append(d)
        return out

    # ---- index --------------------------------------------------------------------------
    def nearest(
        self,
        queries: Sequence[Item],
        k: int,
        farthest: bool,
        timing: Timing,
        divergence: Divergence | None = None,
    ) -> list[dict[str, Any]]:
        """The ``k`` most similar (or divergent, chosen by ``divergence``) items per query."""
        from pictext.rank.queries import reads_text

        self.require("index")
        with timing.measure("model"):
            answers = [self._answer(q, k, farthest, divergence) for q in queries]
        joint = reads_text(self.index)
        out = []
        for q, a in zip(queries, answers, strict=True):
            d = {"hits": self._hits(a.hits), "inputs": _inputs(q), "used": _used(q, joint)}
            if a.ignored:
                d["ignored"] = a.ignored
            out.append(d)
        return out

    def _hits(self, hits: Sequence[Any]) -> list[dict[str, Any]]:
        """Hits as the API returns them; in the joint space, with the cosine of the query's
        image alone and its text alone to each hit (``parts``)."""
        out = []
        for h in hits:
            hit = self.catalog.hit(h.id, h.label, distance=h.distance)
            if getattr(h, "parts", None):
                hit["parts"] = h.parts
            out.append(hit)
        return out

    def indexed(self, item_id: str) -> bool:
        """True when the index holds ``item_id``."""
        return self.index is not None and item_id in self.index

    def neighbours(
        self, item_id: str, k: int, farthest: bool, divergence: Divergence | None = None
    ) -> list[dict[str, Any]]:
        """Items most similar (or divergent) to a collection item; [] when it is not indexed."""
        if not self.indexed(item_id):
            return []
        return self._hits(self._answer(f"id:{item_id}", k, farthest, divergence).hits)

    def _answer(
        self, query: Item | str, k: int, farthest: bool, divergence: Divergence | None
    ) -> Any:
        """One search, as the CLI and ``pictext.load`` answer it."""
        if farthest:
            return self.model.divergent(query, k, divergence=divergence)
        return self.model.similar(query, k)

    def recommend(
        self,
        history: Sequence[str],
        query: Item | None,
        k: int,
        *,
        method: str = "mmr",
        lambda_: float = defaults.MMR_LAMBDA,
        pool: int = defaults.POOL,
        timing: Timing,
    ) -> list[dict[str, Any]]:
        """Items relevant to a history (ids, and/or an upload) yet diverse."""
        from pictext.rank.diversity import SELECTORS

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
        if query is None and not history:
            raise unprocessable("give history item ids or an image", field="history")
        with timing.measure("model"):
            hits = self.model.recommend(
                list(history),
                k,
                items=[] if query is None else [query],
                method=method,
                lambda_=lambda_,
                pool=pool,
            ).hits
        return self._hits(hits)

    # ---- captioner ----------------------------------------------------------------------
    def caption(self, queries: Sequence[Item], k: int, timing: Timing) -> list[dict[str, Any]]:
        """A caption per image, with collection images of similar and divergent captions."""
        self.require("captioner")
        for q in queries:
            if not q.has_image():
                raise unprocessable(f"{q.id}: a caption needs an image", field="image")
        with timing.measure("model"):
            answers = self.model.caption_search(queries, k, text_encoder=self._caption_text)
        th = self.captions.thresholds
        return [
            {
                "caption": a.caption,
                "similar": [self.catalog.hit(m.id, None, score=m.score) for m in a.similar],
                "divergent": [self.catalog.hit(m.id, None, score=m.score) for m in a.divergent],
                "thresholds": {
                    "similar": th.similar,
                    "divergent": [th.divergent_low, th.divergent_high],
                },
            }
            for a in answers
        ]

    # ---- browser ------------------------------------------------------------------------
    def browse(self, query: Any, text: str, timing: Timing, rows: Any = None) -> dict[str, Any]:
        """A page of the collection from the precomputed views (:mod:`pictext.audit.views`);
        sorting by similarity ranks the ``max_k`` items nearest the text ``text`` (the rest
        follow, through the same search as /similar); ``rows``: a map selection, rows of the
        catalog."""
        distances = None
        if query.sort == "similarity":
            self.require("index")
            if not text.strip():
                raise unprocessable("sorting by similarity needs a search text", field="q")
            found = self.nearest([Item("query", title=text)], self.config.max_k, False, timing)
            distances = {h["id"]: h["distance"] for h in found[0]["hits"]}
        try:
            page = self.browse_views().page(query, rows=rows, distances=distances)
        except ValueError as err:
            raise unprocessable(str(err), field="sort") from None
        rows = []
        for r in page.rows:
            hit = self.catalog.hit(r["id"], None)
            rows.append(hit | {"sort_score": r["score"], "flags": self.flags(r["id"])})
        return {"total": page.total, "page": page.page, "per_page": page.per_page, "items": rows}

    def map_rows(self, box: Any, polygon: Any) -> Any:
        """Catalog rows (the browser's) of the map points inside a box and a polygon."""
        from pictext.audit.mapview import RowMap

        if self._catalog_row is None:  # index row -> catalog row
            # by the map's own ids: rows removed from the index since leave no gap here
            self._catalog_row = RowMap(self.catalog.map_view.row_ids, self.browse_views().row_of)
        return self._catalog_row.take(self.catalog.map_view.select(box, polygon))

    def flags(self, item_id: str) -> dict[str, Any] | None:
        """What the audit says about an item; None without an audit or for an item it lacks."""
        if self.audit is None:
            return None
        row = self.audit.row(item_id)
        return None if row is None else self.audit.flags(row)

    # ---- description --------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """What this bundle can do (the page reads it to show only what works); built once:
        the audit's summary and the facets read every item."""
        if self._info is None:
            self._info = self._describe()
        return copy.deepcopy(self._info)

    def _describe(self) -> dict[str, Any]:
        ix = self.index
        return {
            "title": self.bundle.info.get("title") or f"pictext · {self.bundle.root.name}",
            "dataset": self.bundle.dataset,
            "items": len(self.catalog.items),
            "parts": {
                "classifier": self.classifier is not None,
                "index": ix is not None,
                "captioner": self.captioner is not None,
                "audit": self.audit is not None,
            },
            "facets": self.browse_views().facets,
            "audit": None if self.audit is None else self.audit.summary(),
            "missing": {p: self.bundle.hint(p) for p in self.bundle.missing()},
            "classes": list(self.classifier.classes_) if self.classifier is not None else [],
            "index": None
            if ix is None
            else {
                "n": len(ix),
                "space": ix.manifest.space,
                "metric": ix.manifest.metric,
                "text_search": ix.text is not None,
                "divergence": _default_divergence(),
            },
            "encoders": self.encoders.specs,
        }


def _default_divergence() -> dict[str, Any]:
    """The default divergent mode and knobs, with the modes the page may offer."""
    from pictext.rank.divergent import MODES, Divergence

    return Divergence().to_dict() | {"modes": list(MODES)}


def _used(q: Item, joint: bool) -> list[str]:
    """The query inputs the search read: a joint index reads the image and the text; an
    image-only index reads the image, and the text only when there is no image (text search)."""
    text = [f for f in ("title", "description", "tags") if _inputs(q)[f]]
    if joint or not q.has_image():
        return (["image"] if q.has_image() else []) + text
    return ["image"]


def _inputs(q: Item) -> dict[str, bool]:
    """Which inputs a query had (the page shows it; a model answers from what it got)."""
    return {
        "image": q.has_image(),
        "title": bool(q.title.strip()),
        "description": bool(q.description.strip()),
        "tags": bool(q.tags),
    }
