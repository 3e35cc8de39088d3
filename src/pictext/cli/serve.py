"""``pictext serve MODEL_DIR``: the HTTP API and the web page over a model bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pictext.core import defaults

_BUNDLE_HELP = """A bundle folder. Build its parts with:

  pictext train DATASET --out MODEL_DIR/classifier

  pictext rank train DATASET --out RUN

  pictext index build DATASET --head RUN/head --out MODEL_DIR/index

  pictext caption-train DATASET --holdout 0 --out MODEL_DIR/captioner

Every part is optional; the routes of a missing one answer 503 naming the command."""


def serve(
    model_dir: Annotated[Path, typer.Argument(help=_BUNDLE_HELP)],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    dataset: Annotated[
        str | None, typer.Option(help="collection dataset (default: bundle.json, else the index's)")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="requests running models at once")] = 2,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads per model call")] = 1,
    max_upload_mb: Annotated[
        float, typer.Option(help="largest image file, MiB")
    ] = defaults.MAX_UPLOAD_BYTES / (1 << 20),
    map_method: Annotated[str, typer.Option(help="collection map: tsne or pca")] = "tsne",
    log_level: Annotated[str, typer.Option(help="debug, info, warning")] = "info",
    token: Annotated[
        str | None,
        typer.Option(
            envvar="PICTEXT_TOKEN",
            show_envvar=True,
            help="bearer token that edits, adds and removals need (none: writes refused)",
        ),
    ] = None,
) -> None:
    """Serve tag, verify, similar, divergent, recommend and caption over HTTP, with a web page.

    Open http://HOST:PORT/ for the page and /docs for the API (both work offline).
    """
    import logging

    import uvicorn

    from pictext.bundle.layout import BundleError
    from pictext.core.logs import one_line_logging
    from pictext.service.app import create_app
    from pictext.service.config import MIB, ServiceConfig

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    one_line_logging("%(asctime)s %(levelname)s %(message)s")  # a name's newline stays escaped
    config = ServiceConfig(
        concurrency=concurrency,
        threads=threads,
        max_upload_bytes=int(max_upload_mb * MIB),
        max_request_bytes=max(int(max_upload_mb * MIB) * 4, defaults.MIN_REQUEST_BYTES),
        map_method=map_method,
    )
    try:
        app = create_app(model_dir, config, dataset=dataset, token=token)
    except BundleError as err:
        raise typer.BadParameter(str(err), param_hint="MODEL_DIR") from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"warning: listening on {host}: the API has no authentication", err=True)
    typer.echo(f"pictext serving {model_dir} on http://{host}:{port}/  (API docs: /docs)")
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        # Idle and slow clients are bounded (README, "Serving": connections): an idle
        # keep-alive connection is closed, headers over the cap are refused, and above
        # max_connections new requests get 503 at once instead of piling up.
        timeout_keep_alive=config.keep_alive_s,
        limit_concurrency=config.max_connections,
        h11_max_incomplete_event_size=config.max_header_bytes,
    )


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``pictext`` app."""
    app.command("serve")(serve)
