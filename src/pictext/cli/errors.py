"""How the commands refuse: one line on stderr naming what is wrong, and a non-zero exit."""

from __future__ import annotations

from typing import NoReturn

import typer

from pictext.store.failures import UnreadableItemsError


def refuse_unreadable(err: UnreadableItemsError) -> NoReturn:
    """Print the one-line error naming the unreadable item(s) and exit with status 1.

    A command never answers for an item it could not read (no labels, neighbours or
    caption made from a missing input).
    """
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(1)
