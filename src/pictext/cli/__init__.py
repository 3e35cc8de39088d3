"""The ``pictext`` command line: thin front ends, one module per area, over library calls."""

from __future__ import annotations

import typer

from pictext.cli import caption, classify, data, demo, embed, rank, serve

app = typer.Typer(
    name="pictext",
    help="Image collections with text: classify and tag, similar and divergent images, captions.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

for area in (demo, data, embed, classify, rank, caption, serve):
    area.register(app)

if __name__ == "__main__":
    app()
