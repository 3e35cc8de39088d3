"""``pictext.load(path)``: one object that answers every question a bundle can answer.

A :class:`Model` holds the parts a folder has (a bundle, or one saved classifier, index or
captioner) and answers through the library's one entry per job: tags and verdicts from
:mod:`pictext.classify.tagging`, similar / divergent lists and recommendations from
:mod:`pictext.rank.queries`, captions and caption search from :mod:`pictext.caption.search`,
collection pages from :mod:`pictext.audit.browse`. The CLI and the service answer through it,
so the same question gets the same answer from Python, the command line and HTTP.

Queries are :class:`~pictext.data.item.Item` objects, image file paths or texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pictext.bundle.layout import Bundle, BundleError, find_bundle
from pictext.core import defaults
from pictext.core.artifacts import kind_of
from pictext.core.errors import UsageError
from pictext.data.item import Item

if TYPE_CHECKING:
    from pictext.audit.browse import BrowsePage, BrowseQuery
    from pictext.caption.search import CaptionAnswer, CaptionSearch
    from pictext.rank.divergent import Divergence
    from pictext.rank.queries import QueryAnswer
    from pictext.store.failures import Failure
    from pictext.store.memory import MemoryCache
    from pictext.store.pool import EncoderSource

Query = Item | str | Path


def as_items(queries: Query | Sequence[Query]) -> list[Item]:
    """Items from items, image file paths or texts (an existing file is an image; other
    strings are texts, kept as the item's title)."""
    if isinstance(queries, Item | str | Path):
        queries = [queries]
    out = []
    for i, q in enumerate(queries):
        if isinstance(q, Item):
            out.append(q)
        elif isinstance(q, Path) or Path(q).is_file():
            out.append(Item(str(q), str(q)))
        else:
            out.append(Item(f"text-{i}", title=str(q)))
    return out


def _load_classifier(path: Path) -> Any:
    from pictext.classify.ensemble import load_classifier

    return load_classifier(path)


def _load_index(path: Path) -> Any:
    from pictext.rank.index import SearchIndex

    return SearchIndex.load(path)


def load_captioner(path: Path) -> Any:
    """A saved captioner of any type; one that does not name its image encoder is refused."""
    from pictext.caption.registry import load_captioner as load_any

    captioner = load_any(path)
    if not captioner.image_encoder:
        raise UsageError(
            f"{path}: the captioner does not name its image encoder; retrain it", item=str(path)
        )
    return captioner


def _load_audit(path: Path) -> Any:
    from pictext.audit import AuditResult

    return AuditResult.load(path)


_LOADERS = {
    "classifier": _load_classifier,
    "index": _load_index,
    "captioner": load_captioner,
    "audit": _load_audit,
}


class Model:
    """The parts of a bundle (or one saved part), loaded once, and what they answer.

    Example:
        >>> import pictext  # doctest: +SKIP
        >>> m = pictext.load("runs/demo")  # doctest: +SKIP
        >>> m.tag("cat.png")  # doctest: +SKIP
        >>> m.similar("a red car", k=5).hits  # doctest: +SKIP
        >>> m.caption("cat.png")  # doctest: +SKIP
    """

    def __init__(
        self,
        bundle: Bundle,
        *,
        encoders: EncoderSource | None = None,
        memory: MemoryCache | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.bundle = bundle
        self.encoders = encoders  # builds the recorded encoders (default: the registry)
        self.memory = memory  # keeps query embeddings (default: nowhere)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._parts: dict[str, Any] = {}  # loaded parts, by name
        self.items: list[Item] | None = None  # the collection, when the bundle names one
        self._captions: dict[str, CaptionSearch] = {}

    # ---- loading ------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        dataset: str | None = None,
        encoders: EncoderSource | None = None,
        memory: MemoryCache | None = None,
        cache_dir: str | Path | None = None,
    ) -> Model:
        """Find the parts at ``path``; each loads on its first use (see :func:`pictext.load`)."""
        bundle = find_bundle(path, dataset=dataset)
        return cls(bundle, encoders=encoders, memory=memory, cache_dir=cache_dir)

    def require(self, part: str) -> Any:
        """The ``part`` (``classifier``, ``index``, ``captioner``, ``audit``), loaded on first
        use; a :class:`BundleError` naming the command that builds a missing one."""
        if self._parts.get(part) is None:
            path = self.bundle.part(part)
            if path is None:
                hint = self.bundle.hint(part) if part != "audit" else "pictext audit DATASET"
                raise BundleError(
                    f"{self.bundle.root}: no {part} here; build it with: {hint}",
                    item=str(self.bundle.root),
                )
            self._parts[part] = _LOADERS[part](path)
        return self._parts[part]

    def has(self, part: str) -> bool:
        """True when the bundle has ``part``."""
        return self.bundle.part(part) is not None

    @property
    def classifier(self) -> Any:
        """The :class:`~pictext.classify.routed.RoutedClassifier`, or None."""
        return self.require("classifier") if self.has("classifier") else None

    @property
    def index(self) -> Any:
        """The :class:`~pictext.rank.index.SearchIndex`, or None."""
        return self.require("index") if self.has("index") else None

    @property
    def captioner(self) -> Any:
        """The captioner, or None."""
        return self.require("captioner") if self.has("captioner") else None

    @property
    def audit(self) -> Any:
        """The collection's :class:`~pictext.audit.AuditResult`, or None."""
        return self.require("audit") if self.has("audit") else None

    def collection(self) -> list[Item]:
        """The bundle's collection (``bundle.json``'s dataset, else the index's)."""
        if self.items is None:
            if not self.bundle.dataset:
                raise BundleError(
                    f"{self.bundle.root}: no collection named; {self.bundle.hint('dataset')}",
                    item=str(self.bundle.root),
                )
            from pictext.data import load_dataset

            self.items = list(load_dataset(self.bundle.dataset).items)
        return self.items

    def _embedding(self) -> dict[str, Any]:
        return {"encoders": self.encoders, "memory": self.memory}

    # ---- classifier ---------------------------------------------------------------------
    def tag(
        self, queries: Query | Sequence[Query], k: int = defaults.TAG_K
    ) -> list[list[tuple[str, float]] | Failure]:
        """Per query, its top-``k`` labels with calibrated probabilities, or the
        :class:`~pictext.store.failures.Failure` that kept it from being read."""
        from pictext.classify.tagging import tag_each

        clf = self.require("classifier")
        return tag_each(clf, as_items(queries), k, **self._embedding())

    def verify(
        self,
        queries: Query | Sequence[Query],
        claimed: str | Sequence[str],
        k: int = defaults.TAG_K,
    ) -> list[Any]:
        """Per query, the verdict on its claimed label (one label for all, or one each), or
        the failure that kept it from being read."""
        from pictext.classify.tagging import verify_each

        items = as_items(queries)
        labels = [claimed] * len(items) if isinstance(claimed, str) else list(claimed)
        clf = self.require("classifier")
        return verify_each(clf, items, labels, k, **self._embedding())

    # ---- index --------------------------------------------------------------------------
    def similar(
        self, query: Query, k: int = defaults.SEARCH_K, *, text: bool = False
    ) -> QueryAnswer:
        """The ``k`` items most similar to ``query`` (an item id, image file, text or item)."""
        return self._search(query, k, farthest=False, text=text)

    def divergent(
        self,
        query: Query,
        k: int = defaults.SEARCH_K,
        *,
        divergence: Divergence | None = None,
        text: bool = False,
    ) -> QueryAnswer:
        """``k`` items divergent from ``query``, as ``divergence`` chooses them."""
        return self._search(query, k, farthest=True, divergence=divergence, text=text)

    def _search(
        self,
        query: Query,
        k: int,
        *,
        farthest: bool,
        divergence: Divergence | None = None,
        text: bool = False,
    ) -> QueryAnswer:
        from pictext.rank import queries

        index = self.require("index")
        options = dict(farthest=farthest, divergence=divergence, **self._embedding())
        if isinstance(query, Item):
            return queries.answer_item(index, query, k, **options)
        return queries.answer(index, str(query), k, text=text, **options)

    def recommend(
        self,
        history: Sequence[str],
        k: int = defaults.SEARCH_K,
        *,
        items: Sequence[Query] = (),
        method: str = defaults.RECOMMEND_METHOD,
        lambda_: float = defaults.MMR_LAMBDA,
        pool: int = defaults.POOL,
    ) -> QueryAnswer:
        """Items relevant to a history of item ids (and new items) yet diverse."""
        from pictext.rank.queries import recommend_answer

        index = self.require("index")
        return recommend_answer(
            index,
            list(history),
            k,
            items=as_items(items) if items else (),
            method=method,
            lambda_=lambda_,
            pool=pool,
            **self._embedding(),
        )

    # ---- captioner ----------------------------------------------------------------------
    def caption(
        self, images: Query | Sequence[Query], *, beam: int = defaults.CAPTION_BEAM
    ) -> list[str | Failure]:
        """Per image, its caption, or the failure that kept the image from being read."""
        from pictext.caption import Decoding
        from pictext.caption.search import caption_each

        captioner = self.require("captioner")
        decoding = Decoding(beam_size=beam)
        return caption_each(captioner, as_items(images), decoding=decoding, **self._embedding())

    def caption_search(
        self,
        images: Query | Sequence[Query],
        k: int = defaults.SEARCH_K,
        *,
        text_encoder: Any = defaults.CAPTION_TEXT_ENCODER,
        thresholds: Any = None,
    ) -> list[CaptionAnswer]:
        """Per image, its caption and the collection images of similar and divergent
        captions (the collection is captioned once, cached)."""
        return self.caption_index(text_encoder, thresholds).answer(
            as_items(images), k, memory=self.memory
        )

    def caption_index(self, text_encoder: Any = None, thresholds: Any = None) -> CaptionSearch:
        """The collection's captions and their embeddings (built once per text encoder)."""
        from pictext.caption.search import CaptionSearch

        text_encoder = text_encoder or defaults.CAPTION_TEXT_ENCODER
        key = f"{text_encoder}|{thresholds}"
        if key in self._captions:
            return self._captions[key]
        if self.items is None and not self.bundle.dataset:  # no collection: captions only
            from pictext.store.pool import encoder_for

            tenc = (
                encoder_for(text_encoder, self.encoders)
                if isinstance(text_encoder, str)
                else text_encoder
            )
            found = CaptionSearch(
                self.require("captioner"), tenc, thresholds=thresholds, encoders=self.encoders
            )
        else:
            found = CaptionSearch.over(
                self.require("captioner"),
                self.collection(),
                text_encoder,
                thresholds=thresholds,
                encoders=self.encoders,
                cache_dir=self.cache_dir,
            )
        self._captions[key] = found
        return found

    # ---- collection -----------------------------------------------------------------------
    def browse(self, query: BrowseQuery, text: str = "") -> BrowsePage:
        """A page of the collection; sorting by similarity ranks the items nearest ``text``."""
        from pictext.audit.browse import browse

        distances = None
        if query.sort == "similarity":
            if not text.strip():
                raise UsageError("sorting by similarity needs a search text", item="q")
            hits = self.similar(Item("query", title=text), defaults.MAX_K).hits
            distances = {h.id: h.distance for h in hits}
        return browse(self.collection(), query, audit=self.audit, distances=distances)


def load(
    path: str | Path,
    *,
    dataset: str | None = None,
    cache_dir: str | Path | None = None,
) -> Model:
    """Open a bundle (``pictext demo``'s folder, ``pictext serve``'s MODEL_DIR) or any one
    saved part (a classifier, an index, a captioner).

    Args:
        path: the folder.
        dataset: overrides the collection the bundle names (for ``browse`` and caption
            search).
        cache_dir: embedding and caption cache root (default ``$PICTEXT_CACHE``).

    Returns:
        A :class:`Model` with ``tag``, ``verify``, ``similar``, ``divergent``,
        ``recommend``, ``caption``, ``caption_search`` and ``browse``.

    Raises:
        BundleError: no such folder, or nothing pictext saved in it.
    """
    if kind_of(Path(path)) is None and not Path(path).is_dir():
        raise BundleError(f"{path}: no such folder", item=str(path))
    return Model.open(path, dataset=dataset, cache_dir=cache_dir)


__all__ = ["Model", "as_items", "load"]
