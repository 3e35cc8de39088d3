"""The FastAPI application: ``create_app(model_dir)`` loads a bundle once and serves it.

Besides the API routes (:mod:`pictext.service.routes`) it serves the web page from
``static/``, the OpenAPI schema at ``/openapi.json`` and Swagger UI at ``/docs`` from local
files (the ``swagger-ui-py`` package ships them; nothing comes from a CDN). Every request
is logged with its status, time and model time, and answered with a ``Server-Timing``
header; bodies above the size limit are refused before they are parsed.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pictext.bundle.layout import find_bundle
from pictext.core.errors import PictextError
from pictext.core.lru import LruCache
from pictext.service.backend import Backend, EncoderFactory
from pictext.service.config import ServiceConfig
from pictext.service.curation import curation_for
from pictext.service.errors import ServiceError, bad_request, internal, unprocessable
from pictext.service.routes import ServiceState, router
from pictext.service.routes_items import router as items_router
from pictext.service.timing import Gate, Timing

log = logging.getLogger("pictext.service")
STATIC = Path(__file__).parent / "static"


def create_app(
    model_dir: str | Path,
    config: ServiceConfig | None = None,
    *,
    dataset: str | None = None,
    encoder_factory: EncoderFactory | None = None,
    cache_dir: str | Path | None = None,
    token: str | None = None,
) -> FastAPI:
    """Load the bundle in ``model_dir`` (once) and build the app.

    Args:
        model_dir: a bundle folder (see :mod:`pictext.bundle.layout`).
        config: limits and concurrency; defaults when None.
        dataset: overrides the collection's dataset name or path.
        encoder_factory: builds encoders by registry name (tests pass toy encoders).
        cache_dir: embedding and caption cache root (default ``$PICTEXT_CACHE``).
        token: the bearer token writes need (default ``$PICTEXT_TOKEN``; none: writes off).

    Raises:
        BundleError: ``model_dir`` holds no usable model.

    Example:
        >>> app = create_app("bundle")  # doctest: +SKIP
        >>> import uvicorn; uvicorn.run(app, port=8000)  # doctest: +SKIP
    """
    config = config or ServiceConfig()
    bundle = find_bundle(model_dir, dataset=dataset)
    start = time.perf_counter()
    backend = Backend.load(bundle, config, encoder_factory=encoder_factory, cache_dir=cache_dir)
    backend.warm_up()
    log.info("bundle %s loaded in %.1f s", bundle.root, time.perf_counter() - start)
    app = FastAPI(
        title="pictext",
        version=_version(),
        summary="Tag, verify, search and caption images with their text.",
        docs_url=None,  # replaced below by a page that loads Swagger UI from local files
        redoc_url=None,
    )
    app.state.pictext = ServiceState(
        backend,
        config,
        Gate(config.concurrency, config.max_queue, config.queue_timeout_s),
        LruCache(config.upload_cache),
        Gate(config.decode_concurrency, config.max_queue, config.queue_timeout_s),
    )
    app.include_router(router)
    app.state.curation = curation_for(backend, token, cache_dir)
    app.include_router(items_router)
    _add_errors(app)
    _add_pages(app)
    app.add_middleware(RequestMiddleware, max_body=config.max_request_bytes)
    return app


def _version() -> str:
    from pictext import __version__

    return __version__


def error_response(err: BaseException) -> JSONResponse:
    """The service's one answer to an error: its JSON body and status, never a stack trace.

    A :class:`~pictext.core.errors.PictextError` (the library's, or a
    :class:`~pictext.service.errors.ServiceError`) answers with its own status and code;
    anything else is a bug, answered 500 naming only its type.
    """
    if not isinstance(err, PictextError):
        err = internal(err)
    return JSONResponse(err.to_dict(), status_code=err.status)


def _add_errors(app: FastAPI) -> None:
    @app.exception_handler(PictextError)
    async def library_error(request: Request, exc: PictextError) -> JSONResponse:
        # The library's error family and the service's own: the same object as the CLI's line.
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(_validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}; see /docs"
        code = codes.get(exc.status_code, "http_error")
        response = error_response(ServiceError(exc.status_code, code, detail))
        for name, value in (exc.headers or {}).items():  # 405 carries Allow: the methods
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        # The last resort of the server: log the traceback, answer JSON instead of a bare 500.
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(exc)


def _validation_error(exc: RequestValidationError) -> ServiceError:
    """FastAPI's field checks (types, bounds, missing fields) as one 422 naming the field."""
    problems, fields = [], []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
        name = ".".join(loc) or "request"
        fields.append(name)
        missing = e.get("type") == "missing"
        problems.append(f"missing field {name!r}" if missing else f"{name}: {e.get('msg')}")
    return unprocessable("; ".join(problems), field=fields[0] if fields else None)


def _add_pages(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    swagger = _swagger_dir()
    if swagger is not None:
        app.mount("/docs-assets", StaticFiles(directory=swagger), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        from fastapi.openapi.docs import get_swagger_ui_html

        if swagger is None:
            return HTMLResponse(
                "<p>Swagger UI is not installed: <code>pip install swagger-ui-py</code>. "
                'The API schema is at <a href="/openapi.json">/openapi.json</a>.</p>',
                status_code=404,
            )
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="pictext API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


def _swagger_dir() -> Path | None:
    """Swagger UI's files from the ``swagger-ui-py`` package, when installed."""
    try:
        import swagger_ui
    except ImportError:
        return None
    folder = Path(swagger_ui.__file__).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


class RequestMiddleware:
    """Body size limit, ``Server-Timing`` header and one log line per request (pure ASGI)."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body  # bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        timing = Timing()
        scope.setdefault("state", {})["timing"] = timing
        status = {"code": 0}

        async def send_timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                value = timing.header(time.perf_counter() - start)
                headers.append((b"server-timing", bytes(value, "latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            refusal, receive = await self._limit(scope, receive)
            if refusal is not None:
                await refusal(scope, receive, send_timed)
            else:
                await self.app(scope, receive, send_timed)
        finally:
            # status 0: the app crashed before answering (the server's 500 handler answers)
            self._log(scope, status["code"] or 500, time.perf_counter() - start, timing)

    async def _limit(self, scope: Scope, receive: Receive) -> tuple[ASGIApp | None, Receive]:
        """Refuse a body over the limit: by its declared length, or by counting a chunked one."""
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length")
        too_big = error_response(
            ServiceError(
                413, "request_too_large", f"request body over {self.max_body} bytes; send less"
            )
        )
        if length is not None:
            if not length.isdigit():
                return error_response(bad_request("invalid Content-Length")), receive
            return (too_big if int(length) > self.max_body else None), receive
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return None, receive
        chunks, size = [], 0  # chunked upload: buffer it, at most max_body bytes
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_body:
                return too_big, receive
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return None, replay

    @staticmethod
    def _log(scope: Scope, status: int, total: float, timing: Timing) -> None:
        client = scope.get("client") or ("-", 0)
        phases = " ".join(f"{k}={v * 1000:.1f}ms" for k, v in timing.phases.items())
        log.info(
            '%s "%s %s" %d %.1fms %s',
            client[0],
            scope["method"],
            json.dumps(scope["path"])[1:-1],  # escaped: a path cannot forge log lines
            status,
            total * 1000,
            phases,
        )
