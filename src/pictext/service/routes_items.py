"""Write routes of the collection: edit, accept, undo, add and remove items, with a token.

``PATCH /items/{id}``, ``POST /items/{id}/undo``, ``POST /items/accept``, ``POST /items``
and ``DELETE /items/{id}`` need ``Authorization: Bearer TOKEN`` (see
:mod:`pictext.service.curation`); ``GET /collection`` (the review counter) stays open, and
``GET /items/{id}`` shows each item's curation state and history. A write naming a stale
``version`` answers 409 and changes nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Form, Header, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from pictext.service.curation import Curation
from pictext.service.errors import unprocessable
from pictext.service.forms import decode, read_upload
from pictext.service.timing import Timing

router = APIRouter(tags=["curate"])
Auth = Annotated[str | None, Header(description="Bearer TOKEN (writes only)")]
User = Annotated[str | None, Header(description="who edits, recorded in the history")]
_SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "WEBP": ".webp", "BMP": ".bmp",
           "TIFF": ".tiff", "SVG": ".svg"}  # fmt: skip


def _curation(request: Request) -> Curation:
    return request.app.state.curation


def _writer(request: Request, authorization: str | None, user: str | None) -> Curation:
    cur = _curation(request)
    cur.authorise(authorization)
    return cur


def _by(user: str | None) -> str:
    name = " ".join((user or "").split())[:64]
    return name or "token holder"


def _out(cur: Curation, item_id: str) -> dict[str, Any]:
    return cur.describe(item_id) or {}


@router.get("/collection", summary="Review progress: items, reviewed, ignored, removed")
def collection_counts(request: Request) -> dict[str, Any]:
    cur = _curation(request)
    return {**cur.counts(), "database": str(cur.root / "collection.sqlite")}


@router.patch("/items/{item_id:path}", summary="Edit an item: label, tags, review state")
def patch_item(
    request: Request,
    item_id: str,
    changes: Annotated[
        dict[str, Any],
        Body(
            description='any of {"label", "fine_label", "title", "description", "tags", '
            '"reviewed", "ignored", "version", "reason"}',
            examples=[{"label": "dog", "tags": ["checked"], "reviewed": True, "version": 1}],
        ),
    ],
    authorization: Auth = None,
    x_pictext_user: User = None,
) -> dict[str, Any]:
    """Apply the changes in one transaction; 409 when ``version`` is stale."""
    cur = _writer(request, authorization, x_pictext_user)
    changes = dict(changes)
    version = changes.pop("version", None)
    changes.pop("reason", None)
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise unprocessable("version must be an integer", field="version")
    cur.edit(item_id, changes, version, _by(x_pictext_user))
    return _out(cur, item_id)


@router.post("/items/accept", summary="Accept the suggested label for one item or a selection")
def accept(
    request: Request,
    suggestions: Annotated[
        dict[str, str], Body(description="item id -> suggested label", examples=[{"a/1": "cat"}])
    ],
    authorization: Auth = None,
    x_pictext_user: User = None,
) -> dict[str, Any]:
    cur = _writer(request, authorization, x_pictext_user)
    states = cur.accept(suggestions, _by(x_pictext_user))
    return {"items": [s.to_dict() for s in states]}


@router.post("/items/{item_id:path}/undo", summary="Undo the item's last edit")
def undo(
    request: Request,
    item_id: str,
    authorization: Auth = None,
    x_pictext_user: User = None,
) -> dict[str, Any]:
    cur = _writer(request, authorization, x_pictext_user)
    cur.undo(item_id, None, _by(x_pictext_user))
    return _out(cur, item_id)


@router.delete("/items/{item_id:path}", summary="Remove an item from the collection")
def delete_item(
    request: Request,
    item_id: str,
    authorization: Auth = None,
    x_pictext_user: User = None,
) -> dict[str, Any]:
    cur = _writer(request, authorization, x_pictext_user)
    cur.remove(item_id, None, _by(x_pictext_user))
    return _out(cur, item_id)


@router.post("/items", summary="Add an image to the collection (embedded once, indexed at once)")
async def add_item(
    request: Request,
    image: Annotated[UploadFile, File(description="the image")],
    label: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    tags: Annotated[str, Form(description="comma- or semicolon-separated")] = "",
    authorization: Auth = None,
    x_pictext_user: User = None,
) -> dict[str, Any]:
    cur = _writer(request, authorization, x_pictext_user)
    st = request.app.state.pictext
    raw = await read_upload(image, "image", st.config)
    assert raw is not None
    from pictext.data.text import split_tags

    def run() -> dict[str, Any]:
        decoded = decode(raw, st.config, st.backend.image_size, Timing(), st.uploads)
        suffix = _SUFFIX.get(decoded.format.upper(), ".png") if decoded else ".png"
        fields = {"label": label.strip() or None, "title": title.strip(),
                  "description": description.strip(), "text_tags": split_tags(tags)}  # fmt: skip
        state = cur.add(raw.data, suffix, fields, _by(x_pictext_user))
        return _out(cur, state.id)

    return await run_in_threadpool(run)
