"""How the commands refuse: one line on stderr naming what is wrong, and a non-zero exit."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import typer

from pictext.core.errors import PictextError, one_line
from pictext.store.failures import Failure

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


def report_batch(
    results: Sequence[object],
    as_json: bool,
    show: Callable[[Any], str],
    skipped: Sequence[str] = (),
) -> None:
    """Print a batch: one line per answer on stdout, one ``error:`` line per item that could
    not be read (and per manifest row skipped, ``skipped``) on stderr; with ``--json``, an
    error row also takes the item's place on stdout.

    Nothing is answered for an unreadable item; when some were, the exit status is 1.
    """
    for problem in skipped:
        typer.echo(f"error: {problem}", err=True)
    failed = [r for r in results if isinstance(r, Failure)]
    for r in results:
        if isinstance(r, Failure):
            typer.echo(f"error: cannot read {r}", err=True)
            if as_json:
                typer.echo(json.dumps({"id": r.item_id, "error": r.problem}))
        else:
            typer.echo(show(r))
    bad, total = len(failed) + len(skipped), len(results) + len(skipped)
    if bad:
        if total > 1:
            typer.echo(
                f"error: {bad} of {total} items could not be read; "
                f"answered the other {total - bad}",
                err=True,
            )
        raise typer.Exit(1)
