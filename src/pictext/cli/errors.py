"""How the commands refuse: one line on stderr naming what is wrong, and a non-zero exit."""

from __future__ import annotations

from typing import NoReturn

import typer

from pictext.core.errors import PictextError, one_line
from pictext.store.failures import UnreadableItemsError

_INTERNAL_HINT = "this is a bug in pictext; rerun with --debug for the traceback"


def report(err: BaseException) -> int:
    """Print ``error: ...`` on one line for ``err`` and return the exit status to use.

    A :class:`PictextError` says what is wrong with which input; anything else is named by
    type with the hint to rerun with ``--debug``.
    """
    if isinstance(err, PictextError):
        typer.echo(f"error: {one_line(err)}", err=True)
        return err.exit_code
    if isinstance(err, MemoryError):
        typer.echo("error: out of memory (an input is larger than this machine can hold)", err=True)
        return 1
    if isinstance(err, OSError) and err.strerror:
        where = f"{err.filename}: " if err.filename else ""
        typer.echo(f"error: {where}{err.strerror}", err=True)
        return 1
    typer.echo(f"error: {one_line(err)} ({_INTERNAL_HINT})", err=True)
    return 1


def refuse_unreadable(err: UnreadableItemsError) -> NoReturn:
    """Print the one-line error naming the unreadable item(s) and exit with status 1.

    A command never answers for an item it could not read (no labels, neighbours or
    caption made from a missing input).
    """
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(1)
