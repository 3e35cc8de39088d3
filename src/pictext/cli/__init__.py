"""The ``pictext`` command line: thin front ends, one module per area, over library calls.

:func:`main` is the one error boundary: a :class:`~pictext.core.errors.PictextError` becomes
one line on stderr and its exit code; anything else
becomes one line naming the exception, exit 1. ``--debug`` (anywhere on the command line)
shows the traceback instead.

Exit codes, one per kind of mistake: 0 done; 1 an input that could not be read or used
(a missing or corrupt file, a model that does not load); 2 a usage mistake (an unknown
option, dataset, encoder or label name, a missing or out-of-range option); 130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from pictext.cli import audit, caption, classify, data, demo, embed, rank, serve, store
from pictext.cli import collection as collection_cli

app = typer.Typer(
    name="pictext",
    help="Image collections with text: classify and tag, similar and divergent images, captions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from pictext import __version__

        typer.echo(f"pictext {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Image collections with text: classify and tag, similar and divergent images, captions."""


for area in (demo, data, embed, store, classify, rank, caption, audit, serve):
    area.register(app)
collection_cli.register(app)

DEBUG_FLAG = "--debug"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return (and, as the console script, exit with) its status."""
    from pictext.cli.errors import report
    from pictext.core.logs import one_line_logging

    one_line_logging()  # warnings naming files: one line each, control characters escaped

    args = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in args
    args = [a for a in args if a != DEBUG_FLAG]
    try:
        status = app(args=args, prog_name="pictext", standalone_mode=False)
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        return 130
    except typer.TyperException as err:  # usage: a bad option, a missing argument
        err.show()
        return getattr(err, "exit_code", 2)
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        return 130
    except Exception as err:  # the boundary: one line, never a traceback unless asked
        if debug:
            raise
        return report(err)
    return status if isinstance(status, int) else 0


def run() -> None:
    """The console script: ``pictext ...``."""
    sys.exit(main())


if __name__ == "__main__":
    run()
