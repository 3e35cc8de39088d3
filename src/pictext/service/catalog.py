"""The collection as the service shows it: items by id, thumbnails, captions, the 2-D map.

Item ids are looked up in a dictionary, never joined to a filesystem path: an id such as
``../../etc/passwd`` is just an unknown id.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pictext.core.lru import LruCache
from pictext.service.errors import ServiceError, unprocessable

if TYPE_CHECKING:
    from pictext.bundle.layout import Bundle
    from pictext.data.item import Item
    from pictext.service.config import ServiceConfig

log = logging.getLogger("pictext.service")


def map_file(index: Any, method: str, cache_root: Path | None = None) -> Path:
    """Where the 2-D map of ``index`` is kept: ``<cache>/maps/<fingerprint>-<method>.json``.

    The fingerprint is of the index's content (ids and vectors), so two bundles never share
    a map unless they hold the same index, and a rebuilt index gets a new one.

    Args:
        index: a loaded :class:`~pictext.rank.index.SearchIndex`.
        method: the projection (``"tsne"`` or ``"pca"``).
        cache_root: the cache root (default ``$PICTEXT_CACHE``).
    """
    from pictext.core.paths import cache_dir

    root = Path(cache_root) if cache_root is not None else cache_dir()
    return root / "maps" / f"{index.fingerprint()[:32]}-{method}.json"


def item_url(item_id: str) -> str:
    """``/items/<id>``, each path segment percent-encoded ("." and ".." segments too, so
    that no client normalises them away)."""
    segs = [
        quote(s, safe="") if s not in (".", "..") else s.replace(".", "%2E")
        for s in item_id.split("/")
    ]
    return "/items/" + "/".join(segs)


class Catalog:
    """Items of the bundle's dataset, their generated captions, thumbnails and map points."""

    def __init__(self, bundle: Bundle, config: ServiceConfig) -> None:
        self.bundle = bundle
        self.config = config
        self.items: dict[str, Item] = {}  # id -> item, dataset order
        self.captions: dict[str, str] = {}  # id -> generated caption, when a captioner exists
        self.map_view: Any = None  # MapView: the map's points, sampled per view (mapview.py)
        self.map_method = ""  # how the map was made (PCA when t-SNE was asked above 20k)
        self._thumbs = LruCache[bytes](config.thumbnail_cache)  # (id, size) -> PNG

    def load_items(self) -> None:
        """Read the dataset the bundle names."""
        from pictext.bundle.layout import BundleError
        from pictext.data import load_dataset
        from pictext.data.errors import DatasetNotFoundError

        try:
            ds = load_dataset(self.bundle.dataset)  # type: ignore[arg-type]
        except DatasetNotFoundError as err:
            raise BundleError(f"the bundle's dataset cannot be read: {err}") from None
        self.items = {it.id: it for it in ds.items}
        log.info("collection %s: %d items", self.bundle.dataset, len(self.items))

    def load_map(self, index: Any, cache_root: Path | None = None) -> None:
        """2-D points of the index vectors: the library's collection map (the one projection
        of every pictext map), kept in the cache, never in the bundle (a bundle is read-only
        to the service)."""
        from pictext.audit.mapview import MapView
        from pictext.core.projection import collection_map, method_used

        m = index.manifest
        key = f"{m.created}|{m.n}|{m.dim}|{m.space}"
        method = self.config.map_method
        file = map_file(index, method, cache_root)
        xy = collection_map(file, key, index.ids, index.vectors, method)
        self.map_method = method_used(method, len(index.ids))  # the method shown is the one run
        self.map_view = MapView(index.ids, xy, index.labels, self.map_method)

    def get(self, item_id: str) -> Item:
        """The item, or a 404 naming the id."""
        item = self.items.get(item_id)
        if item is None:
            hint = "" if self.items else " (this bundle names no dataset)"
            raise ServiceError(404, "unknown_item", f"no item {item_id!r} in the collection{hint}")
        return item

    def hit(
        self,
        item_id: str,
        label: str | None,
        *,
        distance: float | None = None,
        score: float | None = None,
    ) -> dict[str, Any]:
        """One search result as the API returns it."""
        item = self.items.get(item_id)
        url = item_url(item_id)
        out: dict[str, Any] = {
            "id": item_id,
            "label": label if label is not None else (item.label if item else None),
            "title": item.title if item else "",
            "caption": self.captions.get(item_id),
            "url": url,
            "thumbnail": f"{url}/thumbnail" if item else None,
        }
        if distance is not None:
            out["distance"] = round(distance, 4)
        if score is not None:
            out["score"] = round(score, 4)
        return out

    def describe(self, item_id: str) -> dict[str, Any]:
        """An item's text, label, links and generated caption."""
        item = self.get(item_id)
        url = item_url(item_id)
        return {
            "id": item.id,
            "title": item.title,
            "description": item.description,
            "tags": list(item.tags),
            "label": item.label,
            "fine_label": item.fine_label,
            "source": item.source,
            "caption": self.captions.get(item_id),
            "url": url,
            "thumbnail": f"{url}/thumbnail",
        }

    def thumbnail(self, item_id: str, size: int) -> bytes:
        """A PNG of the item's image fitted in ``size`` x ``size`` (kept in memory)."""
        from pictext.data.errors import ItemError
        from pictext.data.images import load_image

        if size not in self.config.thumbnail_sizes:
            raise unprocessable(
                f"thumbnail size {size} not offered; use one of {self.config.thumbnail_sizes}",
                field="size",
            )
        item = self.get(item_id)
        cached = self._thumbs.get((item_id, size))
        if cached is not None:
            return cached
        try:
            img = load_image(item, size=size)
        except ItemError as err:
            raise ServiceError(500, "item_unreadable", f"{err.item_id}: {err.problem}") from None
        img.thumbnail((size, size))
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        data = buf.getvalue()
        self._thumbs.put((item_id, size), data)
        return data
