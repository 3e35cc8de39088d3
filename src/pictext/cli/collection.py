"""``pictext export`` and ``pictext add``: a curated collection out, new images in.

A collection is ``BUNDLE/collection.sqlite`` (what ``pictext serve BUNDLE --token`` writes)
or any collection database file; ``load_dataset("collection:PATH")`` reads it with its edits.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pictext.core.errors import UsageError

if TYPE_CHECKING:
    from pictext.collection.store import Collection

COLLECTION_FILE = "collection.sqlite"  # inside a bundle folder

_WHERE_HELP = "a bundle folder (its collection.sqlite) or a collection database file"


def open_collection(where: Path) -> Collection:
    """The collection a bundle folder or a database file names; a bundle's is created from
    the bundle's dataset on first use."""
    from pictext.collection.store import Collection

    if not where.is_dir():
        return Collection(where)
    from pictext.bundle.layout import find_bundle
    from pictext.data.registry import load_dataset

    dataset = find_bundle(where).dataset
    if dataset is None:
        raise UsageError(f"{where}: the bundle names no dataset", item=str(where))
    return Collection.open_or_create(
        where / COLLECTION_FILE, dataset, lambda: load_dataset(dataset)
    )


def export(
    where: Annotated[Path, typer.Argument(help=_WHERE_HELP)],
    fmt: Annotated[str, typer.Option("--format", help="csv, jsonl or folder")] = "jsonl",
    out: Annotated[Path, typer.Option("--out", help="manifest file or folder to write")] = Path(
        "export.jsonl"
    ),
) -> None:
    """Write the collection with its edits applied (ignored and removed items left out) as
    a CSV or JSONL manifest (images beside it) or a folder of class folders with sidecars;
    ``pictext`` reads each back as a dataset."""
    from pictext.collection.export import export_collection

    with open_collection(where) as col:
        count = export_collection(col, fmt, out)
    typer.echo(f"exported {count} items to {out} ({fmt})")


def add(
    where: Annotated[Path, typer.Argument(help=_WHERE_HELP)],
    image: Annotated[Path, typer.Argument(help="the image file to add (copied, by hash)")],
    label: Annotated[str | None, typer.Option(help="its class")] = None,
    title: Annotated[str, typer.Option(help="its title")] = "",
    description: Annotated[str, typer.Option(help="its description")] = "",
    tags: Annotated[str, typer.Option(help="tags, comma- or semicolon-separated")] = "",
    by: Annotated[str, typer.Option(help="who adds it, for the history")] = "cli",
) -> None:
    """Add an image to an existing collection: copied once, by content hash, into the managed
    folder beside the database. (A running ``serve`` sees it after a restart; ``POST /items``
    adds to its index at once.)"""
    from pictext.core.errors import InputError
    from pictext.data.text import split_tags

    try:
        data = image.read_bytes()
    except OSError as err:
        raise InputError(f"{image}: cannot read ({err.strerror or err})", item=str(image)) from None
    with open_collection(where) as col:
        item = col.add(
            data,
            image.suffix,
            title=title,
            description=description,
            tags=split_tags(tags),
            label=label,
            by=by,
        )
    typer.echo(f"added {item.id} ({item.source_path})")


def register(app: typer.Typer) -> None:
    """Add ``export`` and ``add`` to the ``pictext`` app."""
    app.command("export")(export)
    app.command("add")(add)
