"""The service's side of a curated collection: edits, adds and removals kept in the bundle's
collection database (:mod:`pictext.data.collection`) and applied at once to what the service
answers: the catalog (items, browse), the search index (similar, divergent, recommend; new
items are embedded once and appended with :func:`pictext.rank.grow.add_rows`, no rebuild).

Writes need a token (``pictext serve --token`` or ``PICTEXT_TOKEN``), compared in constant
time and never logged; it travels in the ``Authorization: Bearer`` header, never a cookie,
so a page of another site cannot write (CSRF). Reads stay open.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pictext.data.collection import Collection, ItemState
from pictext.service.errors import ServiceError

if TYPE_CHECKING:
    from pictext.service.backend import Backend

log = logging.getLogger("pictext.service")
TOKEN_ENV = "PICTEXT_TOKEN"


class Curation:
    """Edits of the bundle's collection, kept in ``MODEL_DIR/collection.sqlite``."""

    def __init__(self, backend: Backend, token: str | None, cache_dir: Path | None) -> None:
        self.backend = backend
        self._token = bytes(token, "utf-8") if token else None
        self._cache_dir = cache_dir
        self._lock = threading.RLock()  # one writer at a time keeps catalog and index in step
        self.root = Path(backend.bundle.root)
        self.collection: Collection | None = None
        if Collection.exists(self.root):
            self.collection = Collection.open(self.root)
            self._apply_all()

    # ---- authorisation -------------------------------------------------------------------
    def authorise(self, header: str | None) -> None:
        """Let a write through only with the right ``Authorization: Bearer`` token."""
        if self._token is None:
            raise ServiceError(
                401,
                "writes_disabled",
                "writes are off: start the service with --token TOKEN (or set "
                f"{TOKEN_ENV}) and send 'Authorization: Bearer TOKEN'",
            )
        scheme, _, given = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            bytes(given.strip(), "utf-8"), self._token
        ):
            raise ServiceError(
                401, "unauthorised", "this write needs the header 'Authorization: Bearer TOKEN'"
            )

    # ---- reading ---------------------------------------------------------------------------
    def describe(self, item_id: str) -> dict[str, Any] | None:
        """The item's curation state and history; None while nothing was ever written."""
        if self.collection is None:
            return None
        state = self.collection.get(item_id, removed=True)
        return {**state.to_dict(), "history": self.collection.history(item_id)}

    def counts(self) -> dict[str, int]:
        if self.collection is None:
            return {"items": len(self.backend.catalog.items), "reviewed": 0, "ignored": 0,
                    "removed": 0}  # fmt: skip
        return self.collection.count()

    # ---- writing ---------------------------------------------------------------------------
    def _coll(self) -> Collection:
        if self.collection is None:
            from pictext.data import load_dataset

            base = load_dataset(self.backend.bundle.dataset)  # type: ignore[arg-type]
            self.collection = Collection.create(self.root, base)
            log.info("collection database created: %s", self.collection.path)
        return self.collection

    def edit(
        self, item_id: str, changes: dict[str, Any], version: int | None, by: str
    ) -> ItemState:
        self.backend.catalog.get(item_id)  # 404 for an id the service does not show
        with self._lock:
            state = self._coll().edit(item_id, changes, by=by, version=version)
            self._apply(state)
        return state

    def accept(self, suggestions: dict[str, str], by: str) -> list[ItemState]:
        for item_id in suggestions:
            self.backend.catalog.get(item_id)
        with self._lock:
            states = self._coll().accept(suggestions, by=by, reason="accepted suggestion")
            for s in states:
                self._apply(s)
        return states

    def undo(self, item_id: str, version: int | None, by: str) -> ItemState:
        with self._lock:
            state = self._coll().undo(item_id, by=by, version=version)
            self._apply(state)
        return state

    def remove(self, item_id: str, version: int | None, by: str) -> ItemState:
        self.backend.catalog.get(item_id)
        with self._lock:
            state = self._coll().remove(item_id, by=by, version=version)
            self._apply(state)
        return state

    def add(self, data: bytes, suffix: str, fields: dict[str, Any], by: str) -> ItemState:
        with self._lock:
            state, _ = self._coll().add(data, suffix, by=by, **fields)
            self._apply(state)
        return state

    # ---- applying to what the service answers --------------------------------------------
    def _apply_all(self) -> None:
        assert self.collection is not None
        for state in self.collection.items(removed=True):
            if state.removed or state.origin == "added" or state.version > 1:
                self._apply(state)

    def _apply(self, state: ItemState) -> None:
        from pictext.rank.grow import remove_rows

        self.backend.collection_changed()
        catalog, index = self.backend.catalog, self.backend.index
        if state.removed:
            catalog.items.pop(state.id, None)  # and so from browse and map selections
            if catalog.map_view is not None:
                catalog.map_view.hide({state.id})
            if index is not None and state.id in index:
                remove_rows(index, [state.id])
            return
        old = catalog.items.get(state.id)
        item = state.item()
        if old is not None and old.pixels is not None:
            item = replace(item, pixels=old.pixels)
        catalog.items[state.id] = item
        if index is None:
            return
        if state.id in index:
            index.labels[index.row(state.id)] = state.label
            index.titles[index.row(state.id)] = state.title
        elif item.has_image():
            self._index_new(item)

    def _index_new(self, item: Any) -> None:
        from pictext.rank.grow import add_rows
        from pictext.rank.queries import space_features

        index = self.backend.index
        feats = space_features(
            index, [item], encoders=self.backend.encoders, cache_dir=self._cache_dir,
            memory=self.backend.memory,
        )  # fmt: skip
        if not index.usable(feats)[0]:
            return
        add_rows(index, [item.id], index.to_space(feats), labels=[item.label],
                 titles=[item.title])  # fmt: skip


def curation_for(backend: Backend, token: str | None, cache_dir: str | Path | None) -> Curation:
    """The app's curation: ``token`` else ``$PICTEXT_TOKEN`` guards the writes."""
    token = token or os.environ.get(TOKEN_ENV) or None
    return Curation(backend, token, None if cache_dir is None else Path(cache_dir))
