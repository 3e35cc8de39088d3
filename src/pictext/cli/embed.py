"""``pictext embed``: cache the embeddings of a dataset."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from pictext.core.paths import cache_dir


def write_failure_log(name: str, failures: list[tuple[str, str]]) -> Path:
    """Write one ``id<TAB>problem`` line per failed item to the log folder; return the path."""
    from pictext.core.atomic import atomic_write_text

    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    path = cache_dir("logs") / f"embed-{safe}-{stamp}.log"
    atomic_write_text(path, "".join(f"{item}\t{problem}\n" for item, problem in failures))
    return path


def embed(
    dataset: Annotated[
        str, typer.Argument(help="Dataset name (see `pictext datasets list`) or path.")
    ],
    image_encoder: Annotated[str, typer.Option(help="Image encoder name; 'none' to skip.")] = (
        "efficientnet-lite0"
    ),
    text_encoder: Annotated[str, typer.Option(help="Text encoder name; 'none' to skip.")] = "use",
    strip_label_words: Annotated[
        bool, typer.Option(help="Remove class and folder words from the text first.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per encoder call.")] = 32,
    workers: Annotated[int, typer.Option(min=1, help="Image decoding threads.")] = 2,
    limit: Annotated[int, typer.Option(min=0, help="Embed only the first N items (0: all).")] = 0,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Compute and cache image and text embeddings; a second run only reads the cache."""
    from rich.console import Console
    from rich.table import Table

    from pictext.data import load_dataset
    from pictext.store import EmbedReport, embed_dataset

    console = Console()
    ds = load_dataset(dataset, strip_label_words=strip_label_words)
    if limit:
        ds = ds.subset(range(min(limit, len(ds))))
    report = EmbedReport()
    feats = embed_dataset(
        ds,
        None if image_encoder == "none" else image_encoder,
        None if text_encoder == "none" else text_encoder,
        batch_size=batch_size,
        workers=workers,
        progress=progress,
        report=report,
    )
    table = Table(title=f"pictext embed {dataset}", show_header=False)
    table.add_row("items", str(report.items))
    if feats.image_encoder:
        table.add_row("image encoder", feats.image_encoder)
        table.add_row(
            "images cached / computed", f"{report.images_cached} / {report.images_computed}"
        )
        if report.images_computed:
            table.add_row("images/s (decode + encode)", f"{report.images_per_second:.1f}")
    if feats.text_encoder:
        table.add_row("text encoder", feats.text_encoder)
        table.add_row("texts cached / computed", f"{report.texts_cached} / {report.texts_computed}")
    table.add_row("skipped items", str(len(report.failures) + len(ds.problems)))
    table.add_row("seconds", f"{report.seconds:.2f}")
    console.print(table)
    problems = [(p.split(":", 1)[0], p.split(":", 1)[-1].strip()) for p in ds.problems]
    failures = problems + report.failures
    if failures:
        log = write_failure_log(dataset, failures)
        for item, problem in failures[:10]:
            console.print(f"[yellow]skipped[/] {item}: {problem}")
        more = f" ({len(failures) - 10} more)" if len(failures) > 10 else ""
        console.print(f"{len(failures)} items skipped{more}; full list in {log}")


def register(app: typer.Typer) -> None:
    """Add ``pictext embed``."""
    app.command("embed")(embed)
