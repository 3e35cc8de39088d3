"""``pictext store info|compact|verify``: the vector store's figures, merging its small shards,
checking every shard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pictext.core.console import print_table
from pictext.core.defaults import COMPACT_ROWS
from pictext.core.errors import NotFoundError, UsageError
from pictext.store.cache import VECTOR_DTYPES
from pictext.store.compact import open_folder

store_app = typer.Typer(help="The vector store: figures, compaction.", no_args_is_help=True)

EncoderOpt = Annotated[
    str | None,
    typer.Option("--encoder", help="One encoder folder, e.g. efficientnet-lite0@<version>."),
]


def _folders(encoder: str | None) -> list[Path]:
    """The store's encoder folders (``<cache>/embeddings/<name@version>``), or the one asked."""
    from pictext.store.embed import store_root

    root = store_root(None) / "embeddings"
    folders = sorted(p for p in root.glob("*@*") if p.is_dir()) if root.is_dir() else []
    if encoder is not None:
        folders = [p for p in folders if p.name == encoder or p.name.split("@")[0] == encoder]
        if not folders:
            raise NotFoundError(f"no vectors of encoder {encoder} in {root}", item=encoder)
    return folders


def info(encoder: EncoderOpt = None) -> None:
    """Shards, rows, bytes per row, dtypes and small shards of each encoder's vectors."""
    from rich.console import Console
    from rich.table import Table

    from pictext.store.compact import store_info

    console = Console()
    folders = _folders(encoder)
    if not folders:
        console.print("the store holds no vectors yet (run `pictext embed DATASET`)")
        return
    for folder in folders:
        table = Table(title=f"store {folder.name}", show_header=False)
        for name, value in store_info(open_folder(folder), COMPACT_ROWS).items():
            shown = f"{value:,.1f}" if isinstance(value, float) else str(value)
            table.add_row(name, f"{value:,}" if isinstance(value, int) else shown)
        print_table(table, "The vectors held per encoder, and their size on disk.")


def compact(
    encoder: EncoderOpt = None,
    rows: Annotated[
        int, typer.Option(min=1, help="Merge shards under this many rows into shards of it.")
    ] = COMPACT_ROWS,
    dtype: Annotated[
        str | None, typer.Option(help="Also rewrite the vectors as float32 or float16.")
    ] = None,
) -> None:
    """Merge small shards (and optionally convert to float16); safe to interrupt."""
    from pictext.store.compact import compact as compact_store

    if dtype is not None and dtype not in VECTOR_DTYPES:
        raise UsageError(
            f"--dtype must be one of {', '.join(VECTOR_DTYPES)}, not {dtype}", item="--dtype"
        )
    for folder in _folders(encoder):
        done = compact_store(open_folder(folder), target_rows=rows, dtype=dtype)
        typer.echo(
            f"{folder.name}: {done.shards_before} -> {done.shards_after} shards "
            f"({done.merged} merged or rewritten), {done.rows:,} rows"
        )


def verify(encoder: EncoderOpt = None) -> None:
    """Check every shard (checksum, NaN/inf); damaged ones are set aside and named, their items
    embedded again by the next run. Exit 1 when any was damaged."""
    damaged = 0
    for folder in _folders(encoder):
        shards, unchecked, bad = open_folder(folder).verify()
        damaged += len(bad)
        legacy = f", {unchecked} written before checksums (values checked)" if unchecked else ""
        typer.echo(f"{folder.name}: {shards} shards, {len(bad)} damaged{legacy}")
    if damaged:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``pictext store info``, ``pictext store compact`` and ``pictext store verify``."""
    store_app.command("info")(info)
    store_app.command("compact")(compact)
    store_app.command("verify")(verify)
    app.add_typer(store_app, name="store")
