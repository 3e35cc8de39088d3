"""Write routes over the bundle's curated collection: edit, undo, remove and add items.

The collection lives in ``BUNDLE/collection.sqlite`` (:mod:`pictext.collection.store`),
created from the bundle's dataset on the first write; edits survive restarts and are applied
to what the page and the API show at start-up. Reads stay open. Writes need
``Authorization: Bearer TOKEN`` with the token ``pictext serve --token`` (or
``PICTEXT_TOKEN``) was given, compared in constant time and never logged; a token in a
header, not a cookie, is also what keeps cross-site requests out. With no token configured,
every write is refused with a 401 that says how to enable writes.

Removed items leave the browse grid, the map and every similar / divergent answer at once
(their hits are filtered out). An added image is stored once by content hash beside the
database, embedded once, and appended to the in-memory index when it is an exact one, so
similar and divergent find it with no rebuild.
"""

from __future__ import annotations

import hmac
import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from pictext.collection.store import Collection, CollectionItem
from pictext.service.errors import ServiceError
from pictext.service.forms import decode, read_upload, text_input

log = logging.getLogger("pictext.service")
COLLECTION_FILE = "collection.sqlite"  # inside the bundle folder
ENABLE_HINT = (
    "writes are disabled: start `pictext serve BUNDLE --token TOKEN` (or set PICTEXT_TOKEN) "
    "and send the header 'Authorization: Bearer TOKEN'"
)

router = APIRouter(tags=["curation"])


class Curation:
    """The collection behind the write routes, and what it changes in the loaded bundle."""

    def __init__(self, backend: Any, token: str | None) -> None:
        self.backend = backend
        self._token = bytes(token, "utf-8") if token else None
        bundle = backend.bundle
        self.path = Path(bundle.root) / COLLECTION_FILE
        self.dataset = bundle.dataset
        self._collection: Collection | None = None
        self._lock = threading.Lock()
        if self.path.exists():  # edits of earlier runs: shown from the start
            for it in self.collection().items(include_hidden=True):
                if it.version > 1 or it.added or it.removed:
                    self.show(it)
                if it.added and not it.removed:  # the index on disk predates them
                    _index(self, it.id)

    def check(self, authorization: str | None) -> None:
        """Refuse a write without the right bearer token (401 without, 403 wrong)."""
        if self._token is None:
            raise ServiceError(401, "writes_disabled", ENABLE_HINT)
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise ServiceError(
                401, "unauthorized", "this route needs the header 'Authorization: Bearer TOKEN'"
            )
        if not hmac.compare_digest(bytes(given.strip(), "utf-8"), self._token):
            raise ServiceError(403, "forbidden", "the bearer token is not this service's token")

    def collection(self) -> Collection:
        """The collection, opened once (created from the bundle's dataset on first use)."""
        with self._lock:
            if self._collection is None:
                if self.dataset is None and not self.path.exists():
                    raise ServiceError(
                        503, "no_collection", "this bundle names no dataset to curate"
                    )
                from pictext.data.registry import load_dataset

                self._collection = Collection.open_or_create(
                    self.path, str(self.dataset), lambda: load_dataset(self.dataset)
                )
            return self._collection

    def show(self, it: CollectionItem) -> None:
        """Make the loaded catalog, map and index labels show the item as edited."""
        catalog = self.backend.catalog
        index = self.backend.index
        if it.removed:
            catalog.items.pop(it.id, None)
            catalog.points = [p for p in catalog.points if p["id"] != it.id]
            self.backend.hidden.add(it.id)
            return
        self.backend.hidden.discard(it.id)
        old = catalog.items.get(it.id)
        new = it.to_item(old.source if old else str(self.dataset))
        if old is not None and old.pixels is not None and new.image is None:
            new = replace(new, pixels=old.pixels)
        catalog.items[it.id] = new
        if index is not None and it.id in index:
            index.labels[index.row(it.id)] = it.label
        for p in catalog.points:
            if p["id"] == it.id:
                p["label"] = it.label

    def view(self, item_id: str) -> dict[str, Any]:
        """The item's edited state and history (version 1, no history before any write)."""
        if self._collection is None and not self.path.exists():
            item = self.backend.catalog.get(item_id)
            return {
                "id": item.id, "label": item.label, "fine_label": item.fine_label,
                "title": item.title, "description": item.description, "tags": list(item.tags),
                "reviewed": False, "ignored": False, "removed": False, "added": False,
                "version": 1, "history": [],
            }  # fmt: skip
        return self.collection().get(item_id).to_dict()


def _curation(request: Request) -> Curation:
    return request.app.state.curation


def _writer(request: Request) -> Curation:
    cur = _curation(request)
    cur.check(request.headers.get("authorization"))
    return cur


def _by(request: Request) -> str:
    """Who writes, for the history: ``X-Pictext-User`` when sent (never the token)."""
    return (request.headers.get("x-pictext-user") or "api").strip()[:100] or "api"


Writer = Annotated[Curation, Depends(_writer)]


class ItemEdit(BaseModel):
    """The fields a PATCH may change; ``version`` is the one the change is based on."""

    model_config = ConfigDict(extra="forbid")
    label: str | None = None
    fine_label: str | None = None
    title: str | None = None
    description: str | None = None
    tags: list[str] | None = Field(default=None, max_length=1000)
    reviewed: bool | None = None
    ignored: bool | None = None
    version: int | None = Field(default=None, description="current version (409 when stale)")
    reason: str | None = Field(default=None, max_length=1000)


async def _run(cur: Curation, work: Any) -> dict[str, Any]:
    item: CollectionItem = await run_in_threadpool(work, cur.collection())
    cur.show(item)
    return item.to_dict()


@router.get("/items/{item_id:path}/history", summary="An item's edited state and history")
def history(request: Request, item_id: str) -> dict[str, Any]:
    return _curation(request).view(item_id)


@router.patch("/items/{item_id:path}", summary="Edit an item (label, tags, review state)")
async def edit(request: Request, item_id: str, body: ItemEdit, cur: Writer) -> dict[str, Any]:
    """Change the fields given; ``version`` (from ``GET /items/{id}/history``) makes a write
    based on a stale version fail with 409 instead of overwriting another client's edit."""
    values = body.model_dump(exclude_unset=True, exclude={"version", "reason"})
    if not values:
        raise ServiceError(422, "invalid", "give at least one field to change")
    by = _by(request)
    return await _run(
        cur, lambda c: c.edit(item_id, values, version=body.version, by=by, reason=body.reason)
    )


class SelectionEdit(BaseModel):
    """One change to a selection (e.g. accepting the suggested label of several items)."""

    model_config = ConfigDict(extra="forbid")
    ids: list[str] = Field(min_length=1, max_length=10_000)
    label: str | None = None
    fine_label: str | None = None
    tags: list[str] | None = Field(default=None, max_length=1000)
    reviewed: bool | None = None
    ignored: bool | None = None
    reason: str | None = Field(default=None, max_length=1000)


@router.patch("/items", summary="Edit a selection of items at once (all or none)")
async def edit_selection(request: Request, body: SelectionEdit, cur: Writer) -> dict[str, Any]:
    """The same change to every id, in one transaction: an unknown id changes nothing."""
    values = body.model_dump(exclude_unset=True, exclude={"ids", "reason"})
    if not values:
        raise ServiceError(422, "invalid", "give at least one field to change")
    by = _by(request)
    items = await run_in_threadpool(
        lambda: cur.collection().edit_many(body.ids, values, by=by, reason=body.reason)
    )
    for it in items:
        cur.show(it)
    return {"items": [it.to_dict() for it in items]}


@router.post("/items/{item_id:path}/undo", summary="Undo an item's latest edit")
async def undo(request: Request, item_id: str, cur: Writer) -> dict[str, Any]:
    by = _by(request)
    return await _run(cur, lambda c: c.undo(item_id, by=by))


@router.delete("/items/{item_id:path}", summary="Remove an item from the collection")
async def remove(
    request: Request,
    item_id: str,
    cur: Writer,
    version: Annotated[int | None, Query(description="current version (409 when stale)")] = None,
) -> dict[str, Any]:
    by = _by(request)
    return await _run(cur, lambda c: c.remove(item_id, version=version, by=by))


@router.post("/items", summary="Add an image to the collection")
async def add(
    request: Request,
    cur: Writer,
    image: Annotated[UploadFile, File(description="the image (size and pixel limits apply)")],
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    tags: Annotated[str, Form(description="comma- or semicolon-separated")] = "",
    label: Annotated[str, Form()] = "",
) -> dict[str, Any]:
    """Stored once by content hash beside the database; embedded once and added to an exact
    in-memory index (``indexed`` in the answer says whether similar can find it)."""
    st = request.app.state.pictext
    raw = await read_upload(image, "image", st.config)
    text = text_input(st.config, title=title, description=description, tags=tags, label=label)
    by = _by(request)

    def work(col: Collection) -> CollectionItem:
        from pictext.service.timing import Timing

        decode(raw, st.config, st.backend.image_size, Timing())  # refuse what is no image
        suffix = Path(raw.filename).suffix or ".png"  # type: ignore[union-attr]
        return col.add(raw.data, suffix, title=text.title, description=text.description,
                       tags=text.tags, label=text.label or None, by=by)  # type: ignore[union-attr]  # fmt: skip

    out = await _run(cur, work)
    out["indexed"] = await run_in_threadpool(_index, cur, out["id"])
    return out


def _index(cur: Curation, item_id: str) -> bool:
    """Embed an added item once and append it to the in-memory index (exact indexes)."""
    backend = cur.backend
    if backend.index is None:
        return False
    from pictext.rank.queries import add_items

    try:
        add_items(backend.index, [backend.catalog.items[item_id]], **backend._embedding())
    except (ValueError, NotImplementedError) as err:
        log.warning("added item %s not indexed: %s", item_id, err)
    return item_id in backend.index


def install(app: Any, backend: Any, token: str | None) -> None:
    """Add the write routes to ``app`` (called once by ``create_app``)."""
    backend.hidden = getattr(backend, "hidden", set())
    app.state.curation = Curation(backend, token)
    app.include_router(router)
