"""``pictext add`` and ``pictext export``: grow a bundle's collection, write it out corrected.

The collection of a bundle ``MODEL_DIR`` is kept in ``MODEL_DIR/collection.sqlite`` (created
by the first edit or add; see :mod:`pictext.data.collection.store`). Name it as a dataset with
``collection:MODEL_DIR`` to train, audit or evaluate on it with its edits applied.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer

from pictext.core.errors import InputError


def bundle_collection(model_dir: Path, *, create: bool):
    """The bundle's collection (created from its dataset when ``create``), else None."""
    from pictext.data.collection import Collection

    if Collection.exists(model_dir):
        return Collection.open(model_dir)
    if not create:
        return None
    return Collection.create(model_dir, _base_dataset(model_dir))


def _base_dataset(model_dir: Path):
    from pictext.bundle.layout import BundleError, find_bundle
    from pictext.data.registry import load_dataset

    try:
        name = find_bundle(model_dir).dataset
    except BundleError:  # no model part yet: bundle.json alone names the collection
        info = model_dir / "bundle.json"
        name = json.loads(info.read_text()).get("dataset") if info.is_file() else None
        if name and not Path(name).is_absolute() and (model_dir / name).exists():
            name = str(model_dir / name)
    if not name:
        raise InputError(
            f"{model_dir}: the bundle names no dataset; write bundle.json with "
            '{"dataset": "NAME_OR_PATH"}',
            item=str(model_dir),
        )
    return load_dataset(name)


def collection_dataset(model_dir: Path):
    """The bundle's collection as a dataset, edits applied (the dataset itself if unedited)."""
    coll = bundle_collection(model_dir, create=False)
    if coll is None:
        return _base_dataset(model_dir)
    from pictext.data.registry import load_dataset

    coll.close()
    return load_dataset(f"collection:{model_dir}")


def export_command(
    model_dir: Annotated[Path, typer.Argument(help="bundle folder (or a collection.sqlite)")],
    fmt: Annotated[str, typer.Option("--format", help="folder, csv or jsonl")] = "jsonl",
    out: Annotated[Path, typer.Option("--out", help="new folder or manifest file")] = ...,
) -> None:
    """Write the collection with its edits applied: a folder with sidecars, CSV or JSONL."""
    from pictext.data.collection.export import export

    dataset = collection_dataset(model_dir)
    left_out = export(dataset, fmt, out)
    for line in left_out:
        typer.echo(f"note: {line}", err=True)
    typer.echo(f"exported {len(dataset) - len(left_out)} items as {fmt} to {out}")


def add_command(
    model_dir: Annotated[Path, typer.Argument(help="bundle folder")],
    images: Annotated[list[Path], typer.Argument(help="image files to add")],
    label: Annotated[str | None, typer.Option(help="their label")] = None,
    title: Annotated[str, typer.Option(help="their title")] = "",
    description: Annotated[str, typer.Option(help="their description")] = "",
    by: Annotated[str | None, typer.Option(help="who adds (default: the user name)")] = None,
) -> None:
    """Add images to the bundle's collection (stored once by content hash beside it)."""
    from pictext.data.text import IMAGE_SUFFIXES

    for path in images:
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            raise InputError(f"{path}: not an image file", item=str(path))
    coll = bundle_collection(model_dir, create=True)
    try:
        for path in images:
            state, new = coll.add(
                path.read_bytes(),
                path.suffix,
                by=by or getpass.getuser(),
                label=label,
                title=title,
                description=description,
            )
            typer.echo(f"{'added' if new else 'already there'}: {path} -> {state.id}")
    finally:
        coll.close()


def register(app: typer.Typer) -> None:
    """Add ``add`` and ``export`` to the ``pictext`` app."""
    app.command("export")(export_command)
    app.command("add")(add_command)
