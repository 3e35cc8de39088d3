"""The HTTP API: one route per job, each with a batch form, plus items, thumbnails and the map.

Routes check what is cheap (types, sizes, fields) before waiting for a slot; uploads are
decoded in the decode slots (``decode_concurrency``), then model calls run in the model slots
(``concurrency``), both in the thread pool: a slow upload never holds a model slot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from pictext.audit.mapview import MAP_POINTS, GeometryError, parse_box, parse_polygon
from pictext.core import defaults
from pictext.core.lru import LruCache
from pictext.data.item import Item
from pictext.rank.divergent import Divergence
from pictext.service.backend import Backend
from pictext.service.config import ServiceConfig
from pictext.service.errors import ServiceError, unprocessable
from pictext.service.forms import (
    RawUpload,
    TextInput,
    batch_items,
    decode,
    make_query,
    read_upload,
    text_input,
)
from pictext.service.timing import Gate, Timing
from pictext.service.uploads import DecodedImage


@dataclass
class ServiceState:
    """What every route needs: the loaded models, the limits and the gate."""

    backend: Backend  # models, loaded once
    config: ServiceConfig  # limits
    gate: Gate  # bounded concurrency of model work
    uploads: LruCache[DecodedImage]  # decoded uploads by content hash
    decoder: Gate = field(default_factory=lambda: Gate(2, 32, 30.0))  # decoding, apart


Work = Callable[[Backend, list[Item], list[TextInput], Timing], list[dict[str, Any]]]

ImageField = Annotated[
    UploadFile | None,
    File(description="image: PNG, JPEG, GIF, WebP, BMP, TIFF or SVG (size and pixel limits apply)"),
]
ImagesField = Annotated[list[UploadFile], File(description="images of the batch")]
ItemsField = Annotated[
    str,
    Form(description='JSON list, one object per image: {"title", "description", "tags", "label"}'),
]
TitleField = Annotated[str, Form(description="title of the image")]
DescriptionField = Annotated[str, Form(description="description of the image")]
TagsField = Annotated[str, Form(description="tags, comma- or semicolon-separated")]
K = Annotated[int, Form(ge=1, description="number of results (at most the service's max_k)")]

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


async def _form_body(request: Request) -> None:
    """Every POST route reads a form: a body of another type (JSON, raw bytes) is refused
    with a 415 naming the accepted types, not read as an empty form."""
    if request.method != "POST":
        return
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared in FORM_TYPES or (not declared and not await request.body()):
        return
    raise ServiceError(
        415,
        "unsupported_media_type",
        f"request body of type {declared or '(none)'!r}: this API reads forms; "
        f"send {' or '.join(FORM_TYPES)}",
        field="content-type",
    )


router = APIRouter(dependencies=[Depends(_form_body)])


def _state(request: Request) -> ServiceState:
    return request.app.state.pictext


def _timing(request: Request) -> Timing:
    timing = getattr(request.state, "timing", None)
    if timing is None:  # the app's middleware sets it; a bare router in a test may not
        timing = request.state.timing = Timing()
    return timing


async def _answer(
    request: Request,
    part: str,
    uploads: Sequence[RawUpload | None],
    texts: list[TextInput],
    work: Work,
) -> list[dict[str, Any]]:
    """Decode uploads and run ``work`` inside the gate; attach what was decoded to each result."""
    st = _state(request)
    st.backend.require(part)
    timing = _timing(request)

    decoded = await _decode_all(st, uploads, timing)

    def run() -> list[dict[str, Any]]:
        names = [u.field if u else f"item {i}" for i, u in enumerate(uploads)]
        queries = [make_query(d, t, n) for d, t, n in zip(decoded, texts, names, strict=True)]
        for q, n in zip(queries, names, strict=True):
            if not q.has_image() and not q.text.strip():
                raise unprocessable(
                    f"{n}: give an image or some text", field="image", code="missing_input"
                )
        results = work(st.backend, queries, texts, timing)
        for r, d in zip(results, decoded, strict=True):
            r["image"] = None if d is None else d.describe()
        return results

    async with st.gate.slot(timing):
        return await run_in_threadpool(run)


async def _decode_all(
    st: ServiceState, uploads: Sequence[RawUpload | None], timing: Timing
) -> list[DecodedImage | None]:
    """Decode the uploads in the decode slots, before and apart from the model slots: a slow
    upload (an SVG rendered up to its CPU budget) delays other uploads, never model work."""
    if not any(u is not None for u in uploads):
        return [None] * len(uploads)
    size = st.backend.image_size

    def run() -> list[DecodedImage | None]:
        return [decode(u, st.config, size, timing, st.uploads) for u in uploads]

    async with st.decoder.slot(timing):
        return await run_in_threadpool(run)


async def _single(
    request: Request,
    part: str,
    image: UploadFile | None,
    text: TextInput,
    work: Work,
) -> dict[str, Any]:
    upload = await read_upload(image, "image", _state(request).config)
    result = (await _answer(request, part, [upload], [text], work))[0]
    result["answered_by"] = _state(request).backend.answered_by(part)
    return result


async def _batch(
    request: Request,
    part: str,
    images: list[UploadFile],
    items: str,
    work: Work,
    *,
    need_label: bool = False,
) -> dict[str, Any]:
    cfg = _state(request).config
    texts = batch_items(items, len(images), cfg, need_label=need_label)
    uploads = [await read_upload(f, f"images[{i}]", cfg) for i, f in enumerate(images)]
    results = await _answer(request, part, uploads, texts, work)
    return {"results": results, "answered_by": _state(request).backend.answered_by(part)}


def _check_k(request: Request, k: int) -> None:
    """Refuse a ``k`` above the service's limit (``ServiceConfig.max_k``)."""
    limit = _state(request).config.max_k
    if k > limit:
        raise unprocessable(f"k={k} is above this service's limit of {limit}", field="k")


def _text(request: Request, title: str, description: str, tags: str, label: str = "") -> TextInput:
    return text_input(
        _state(request).config, title=title, description=description, tags=tags, label=label
    )


# ---- classify and tag ----------------------------------------------------------------------
@router.post("/tag", tags=["classify"], summary="Suggested tags: the top-k labels")
async def tag(
    request: Request,
    image: ImageField = None,
    title: TitleField = "",
    description: DescriptionField = "",
    tags: TagsField = "",
    k: K = defaults.TAG_K,
) -> dict[str, Any]:
    """Top-``k`` labels with calibrated probabilities for an image and/or its text."""
    _check_k(request, k)
    text = _text(request, title, description, tags)
    return await _single(request, "classifier", image, text, lambda b, q, t, tm: b.tag(q, k, tm))


@router.post("/tag/batch", tags=["classify"], summary="Suggested tags for several images")
async def tag_batch(
    request: Request, images: ImagesField, items: ItemsField = "", k: K = defaults.TAG_K
) -> dict[str, Any]:
    _check_k(request, k)
    return await _batch(request, "classifier", images, items, lambda b, q, t, tm: b.tag(q, k, tm))


@router.post("/verify", tags=["classify"], summary="Agree or disagree with a claimed label")
async def verify(
    request: Request,
    label: Annotated[str, Form(description="the claimed label")],
    image: ImageField = None,
    title: TitleField = "",
    description: DescriptionField = "",
    tags: TagsField = "",
    k: K = defaults.TAG_K,
) -> dict[str, Any]:
    """Machine-in-the-loop check of a human's label, with calibrated confidence."""
    _check_k(request, k)
    text = _text(request, title, description, tags, label)
    if not text.label:
        raise unprocessable("label is empty: give the claimed label", field="label")
    return await _single(
        request,
        "classifier",
        image,
        text,
        lambda b, q, t, tm: b.verify(q, [x.label for x in t], k, tm),
    )


@router.post(
    "/verify/batch", tags=["classify"], summary="Verify the claimed labels of several images"
)
async def verify_batch(
    request: Request, images: ImagesField, items: ItemsField = "", k: K = defaults.TAG_K
) -> dict[str, Any]:
    _check_k(request, k)
    return await _batch(
        request,
        "classifier",
        images,
        items,
        lambda b, q, t, tm: b.verify(q, [x.label for x in t], k, tm),
        need_label=True,
    )


# ---- similar, divergent, recommend ---------------------------------------------------------
ModeField = Annotated[
    str, Form(description="diverse: far from the query and spread out; farthest: the farthest")
]
SpreadField = Annotated[
    float, Form(ge=0.0, le=1.0, description="diverse: 0 = farthest first, 1 = most spread out")
]
QuantileField = Annotated[
    float, Form(ge=0.0, lt=1.0, description="diverse: only items beyond this distance quantile")
]


def _divergence(mode: str, spread: float, quantile: float) -> Divergence:
    try:
        return Divergence(mode, spread, quantile)
    except ValueError as err:  # spread and quantile are range-checked by their fields
        raise unprocessable(str(err), field="mode") from None


def _search_work(k: int, farthest: bool, div: Divergence | None = None) -> Work:
    return lambda b, q, t, tm: b.nearest(q, k, farthest, tm, div)


async def _search(
    request: Request,
    image: UploadFile | None,
    text: TextInput,
    item_id: str,
    k: int,
    farthest: bool,
    div: Divergence | None = None,
) -> dict[str, Any]:
    st = _state(request)
    if item_id:
        st.backend.require("index")
        if not st.backend.indexed(item_id):
            st.backend.catalog.get(item_id)  # 404 when the collection does not know it either
            raise unprocessable(
                f"item {item_id!r} is not in the index", field="item_id", code="unknown_item"
            )
        return {
            "hits": st.backend.neighbours(item_id, k, farthest, div),
            "item": item_id,
            "image": None,
            "answered_by": st.backend.answered_by("index"),
        }
    return await _single(request, "index", image, text, _search_work(k, farthest, div))


@router.post("/similar", tags=["search"], summary="The k most similar collection images")
async def similar(
    request: Request,
    image: ImageField = None,
    title: TitleField = "",
    description: DescriptionField = "",
    tags: TagsField = "",
    item_id: Annotated[str, Form(description="search from a collection item instead")] = "",
    k: K = defaults.SEARCH_K,
) -> dict[str, Any]:
    """Nearest items in the ranking space (an image), or by text when no image is given."""
    _check_k(request, k)
    return await _search(
        request, image, _text(request, title, description, tags), item_id, k, False
    )


@router.post("/similar/batch", tags=["search"], summary="Similar images for several images")
async def similar_batch(
    request: Request, images: ImagesField, items: ItemsField = "", k: K = defaults.SEARCH_K
) -> dict[str, Any]:
    _check_k(request, k)
    return await _batch(request, "index", images, items, _search_work(k, False))


@router.post("/divergent", tags=["search"], summary="The k most divergent collection images")
async def divergent(
    request: Request,
    image: ImageField = None,
    title: TitleField = "",
    description: DescriptionField = "",
    tags: TagsField = "",
    item_id: Annotated[str, Form(description="search from a collection item instead")] = "",
    k: K = defaults.SEARCH_K,
    mode: ModeField = defaults.DIVERGENT_MODE,
    spread: SpreadField = defaults.DIVERGENT_SPREAD,
    quantile: QuantileField = defaults.DIVERGENT_QUANTILE,
) -> dict[str, Any]:
    """Items far from the query in the ranking space, spread out (diverse) or the farthest."""
    _check_k(request, k)
    div = _divergence(mode, spread, quantile)
    text = _text(request, title, description, tags)
    out = await _search(request, image, text, item_id, k, True, div)
    return out | {"divergence": div.to_dict()}


@router.post("/divergent/batch", tags=["search"], summary="Divergent images for several images")
async def divergent_batch(
    request: Request,
    images: ImagesField,
    items: ItemsField = "",
    k: K = defaults.SEARCH_K,
    mode: ModeField = defaults.DIVERGENT_MODE,
    spread: SpreadField = defaults.DIVERGENT_SPREAD,
    quantile: QuantileField = defaults.DIVERGENT_QUANTILE,
) -> dict[str, Any]:
    _check_k(request, k)
    div = _divergence(mode, spread, quantile)
    out = await _batch(request, "index", images, items, _search_work(k, True, div))
    return out | {"divergence": div.to_dict()}


@router.post("/recommend", tags=["search"], summary="Relevant yet diverse items for a history")
async def recommend(
    request: Request,
    history: Annotated[
        list[str] | None, Form(description="ids of items the user has seen (repeat the field)")
    ] = None,
    image: ImageField = None,
    k: K = defaults.SEARCH_K,
    method: Annotated[
        str, Form(description="knn, mmr, kcenter or dpp")
    ] = defaults.RECOMMEND_METHOD,
    lambda_: Annotated[
        float, Form(alias="lambda", ge=0.0, le=1.0, description="1 = relevance only")
    ] = defaults.MMR_LAMBDA,
    pool: Annotated[int, Form(ge=1, le=5000, description="candidates considered")] = defaults.POOL,
) -> dict[str, Any]:
    """A list relevant to the history (item ids and/or an uploaded image) yet diverse."""
    _check_k(request, k)
    st = _state(request)
    ids = [h for h in history or [] if h.strip()]  # ids may hold commas: repeat the field
    upload = await read_upload(image, "image", st.config)
    st.backend.require("index")
    timing = _timing(request)

    (decoded,) = await _decode_all(st, [upload], timing)

    def run() -> dict[str, Any]:
        query = None if decoded is None else make_query(decoded, TextInput(), "image")
        hits = st.backend.recommend(
            ids, query, k, method=method, lambda_=lambda_, pool=pool, timing=timing
        )
        return {
            "hits": hits,
            "history": ids,
            "image": None if decoded is None else decoded.describe(),
            "answered_by": st.backend.answered_by("index"),
        }

    async with st.gate.slot(timing):
        return await run_in_threadpool(run)


# ---- caption -------------------------------------------------------------------------------
@router.post("/caption", tags=["caption"], summary="Caption an image; images of similar captions")
async def caption(
    request: Request,
    image: Annotated[UploadFile, File(description="the image to caption")],
    k: K = defaults.SEARCH_K,
) -> dict[str, Any]:
    """A generated caption, and collection images whose captions are similar (cosine >= 0.90)
    or divergent (0.50-0.60)."""
    _check_k(request, k)
    return await _single(
        request, "captioner", image, TextInput(), lambda b, q, t, tm: b.caption(q, k, tm)
    )


@router.post("/caption/batch", tags=["caption"], summary="Caption several images")
async def caption_batch(
    request: Request, images: ImagesField, k: K = defaults.SEARCH_K
) -> dict[str, Any]:
    _check_k(request, k)
    return await _batch(request, "captioner", images, "", lambda b, q, t, tm: b.caption(q, k, tm))


# ---- collection ----------------------------------------------------------------------------
@router.get("/info", tags=["collection"], summary="What this bundle can do")
def info(request: Request) -> dict[str, Any]:
    st = _state(request)
    out = st.backend.info()
    out["limits"] = {
        "max_upload_bytes": st.config.max_upload_bytes,
        "max_pixels": st.config.max_pixels,
        "max_k": st.config.max_k,
        "max_batch": st.config.max_batch,
        "concurrency": st.config.concurrency,
    }
    return out


@router.get("/map", tags=["collection"], summary="2-D map of the collection's embeddings")
def collection_map(
    request: Request,
    x0: Annotated[float, Query(description="view, left edge (map coordinates, 0..1)")] = 0.0,
    y0: Annotated[float, Query(description="view, bottom edge")] = 0.0,
    x1: Annotated[float, Query(description="view, right edge")] = 1.0,
    y1: Annotated[float, Query(description="view, top edge")] = 1.0,
    limit: Annotated[
        int, Query(ge=1, le=MAP_POINTS, description="most points returned (a random sample)")
    ] = MAP_POINTS,
) -> Response:
    """The points of a view of the map: all of them up to ``limit``, else a random sample of
    ``limit`` (``in_view`` counts them all); ``method`` is the projection that was run."""
    st = _state(request)
    st.backend.require("index")
    box = parse_box(f"{x0},{y0},{x1},{y1}")
    body = st.backend.catalog.map_view.points_json(box, limit)
    return Response(body, media_type="application/json")  # encoded once, not per point


@router.post(
    "/browse", tags=["collection"], summary="A page of the collection, filtered and sorted"
)
async def browse(
    request: Request,
    label: Annotated[str, Form(description="keep items of this label")] = "",
    fine_label: Annotated[str, Form(description="keep items of this fine label")] = "",
    has_text: Annotated[str, Form(description="yes: items with text; no: without")] = "",
    ids: Annotated[
        list[str] | None, Form(description="keep only these ids (a map selection; repeat)")
    ] = None,
    box: Annotated[
        str, Form(description="keep the items inside this box of the map: x0,y0,x1,y1")
    ] = "",
    polygon: Annotated[
        str, Form(description="keep the items inside this lasso of the map: x,y;x,y;...")
    ] = "",
    sort: Annotated[
        str, Form(description="dataset, uniqueness, error (suspected label error) or similarity")
    ] = "dataset",
    q: Annotated[str, Form(description="search text (sort=similarity)")] = "",
    page: Annotated[int, Form(ge=0, description="page number, from 0")] = 0,
    per_page: Annotated[int, Form(ge=1, le=200, description="items per page")] = 48,
) -> dict[str, Any]:
    """The collection browser: filter by label, fine label and text, sort by uniqueness,
    suspected-error score or similarity to a search text, one page at a time."""
    from pictext.audit.browse import BrowseQuery

    if has_text not in ("", "yes", "no"):
        raise unprocessable("has_text must be yes, no or empty", field="has_text")
    query = BrowseQuery(
        label=label or None,
        fine_label=fine_label or None,
        has_text=None if not has_text else has_text == "yes",
        ids=None if ids is None else [i for i in ids if i],
        sort=sort,
        page=page,
        per_page=per_page,
    )
    st = _state(request)
    rows = None
    if box.strip() or polygon.strip():
        st.backend.require("index")
        try:
            geometry = parse_box(box), parse_polygon(polygon)
        except GeometryError as err:
            raise unprocessable(str(err), field="polygon" if polygon.strip() else "box") from None
        rows = st.backend.map_rows(*geometry)
    timing = _timing(request)
    async with st.gate.slot(timing):
        return await run_in_threadpool(st.backend.browse, query, q, timing, rows)


# The thumbnail route comes first: "{item_id:path}" would otherwise swallow "/thumbnail".
@router.get(
    "/items/{item_id:path}/thumbnail",
    tags=["collection"],
    summary="PNG thumbnail of a collection image",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def thumbnail(
    request: Request, item_id: str, size: Annotated[int, Query(description="side in pixels")] = 128
) -> Response:
    data = _state(request).backend.catalog.thumbnail(item_id, size)
    return Response(data, media_type="image/png", headers={"Cache-Control": "max-age=3600"})


@router.get("/items/{item_id:path}", tags=["collection"], summary="A collection item")
def item(
    request: Request,
    item_id: str,
    neighbours: Annotated[int, Query(ge=0, le=50, description="similar and divergent items")] = 5,
) -> dict[str, Any]:
    """An item's text, label and caption, and its most similar and divergent items."""
    backend = _state(request).backend
    out = backend.catalog.describe(item_id)
    out["indexed"] = backend.indexed(item_id)
    out["similar"] = backend.neighbours(item_id, neighbours, False) if neighbours else []
    out["divergent"] = backend.neighbours(item_id, neighbours, True) if neighbours else []
    out["divergence"] = Divergence().to_dict()
    out["audit"] = backend.flags(item_id)
    out["curation"] = request.app.state.curation.describe(item_id)  # state and history
    return out
