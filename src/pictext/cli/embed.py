"""``pictext embed``: cache the embeddings of a dataset."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pictext.core.console import print_table
from pictext.core.defaults import IMAGE_ENCODER, STORE_DTYPE, TEXT_ENCODER
from pictext.core.errors import UsageError
from pictext.core.paths import cache_dir
from pictext.data.dataset import Dataset
from pictext.store.cache import VECTOR_DTYPES

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from pictext.store import EmbedReport


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
    image_encoder: Annotated[
        str, typer.Option(help="Image encoder name; 'none' to skip.")
    ] = IMAGE_ENCODER,
    text_encoder: Annotated[
        str, typer.Option(help="Text encoder name; 'none' to skip.")
    ] = TEXT_ENCODER,
    strip_label_words: Annotated[
        bool, typer.Option(help="Remove class and folder words from the text first.")
    ] = False,
    allow_outside_root: Annotated[
        bool,
        typer.Option(
            help="Follow symlinks (folders) and manifest paths that lead outside the dataset's "
            "folder; by default they are named and skipped."
        ),
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per encoder call.")] = 32,
    workers: Annotated[int, typer.Option(min=1, help="Image decoding threads.")] = 2,
    limit: Annotated[int, typer.Option(min=0, help="Embed only the first N items (0: all).")] = 0,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    store_dtype: Annotated[
        str, typer.Option(help="How new vectors are stored: float32 (exact) or float16 (half).")
    ] = STORE_DTYPE,
    use_ray: Annotated[
        bool,
        typer.Option(
            "--ray", help="Embed on Ray Data (the pictext ray extra): one encoder actor per core."
        ),
    ] = False,
    address: Annotated[
        str | None, typer.Option(help="With --ray: a Ray cluster's address (default: local Ray).")
    ] = None,
    num_cpus: Annotated[
        int | None, typer.Option(min=1, help="With --ray: cores of the local Ray (default: all).")
    ] = None,
) -> None:
    """Compute and cache image and text embeddings; a second run only reads the cache."""
    from rich.console import Console

    from pictext.data import load_dataset
    from pictext.store import EmbedReport, embed_dataset

    console = Console()
    if store_dtype not in VECTOR_DTYPES:
        raise UsageError(
            f"--store-dtype must be one of {', '.join(VECTOR_DTYPES)}, not {store_dtype}",
            item="--store-dtype",
        )
    if not use_ray and (address is not None or num_cpus is not None):
        raise UsageError("--address and --num-cpus need --ray", item="--ray")
    if use_ray:
        from pictext.store.ray_embed import require_ray

        require_ray()  # before reading the dataset: say what to install first
        # Ray Data's own progress lines would interleave with ours (rate and ETA).
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    ds = load_dataset(
        dataset, strip_label_words=strip_label_words, allow_outside_root=allow_outside_root
    )
    kept = len(ds)
    if limit:
        ds = Dataset(ds.name, ds.items[:limit], ds.problems, class_names=ds.classes)
    report = EmbedReport()
    image = None if image_encoder == "none" else image_encoder
    text = None if text_encoder == "none" else text_encoder
    if use_ray:
        from pictext.store.ray_embed import embed_dataset_ray

        run = embed_dataset_ray(
            ds,
            image,
            text,
            address=address,
            num_cpus=num_cpus,
            batch_size=batch_size,
            dtype=store_dtype,
            progress=progress,
            report=report,
        )
        specs = run.image_encoder, run.text_encoder
    else:
        feats = embed_dataset(
            ds,
            image,
            text,
            batch_size=batch_size,
            workers=workers,
            progress=progress,
            report=report,
            store_dtype=store_dtype,
        )
        specs = feats.image_encoder, feats.text_encoder
    print_table(
        summary_table(dataset, ds, kept, report, *specs),
        "What was embedded, read from the cache or skipped, and where the vectors are.",
    )
    if use_ray:
        console.print(
            f"Ray: {run.actors} encoder actors, {len(run.written)} new image shards, "
            f"manifest {run.manifest or '(no images)'}",
            highlight=False,
            soft_wrap=True,
        )
    _print_problems(console, dataset, ds, report)


def summary_table(
    name: str, ds: Dataset, kept: int, report: EmbedReport, image_spec: str, text_spec: str
) -> Table:
    """The run's counts; they add up: read = skipped + kept, items = embedded + failed (+ items
    with nothing to embed); items with empty text are kept and counted among them."""
    from rich.table import Table

    table = Table(title=f"pictext embed {name}", show_header=False)
    table.add_row("entries read", str(kept + ds.skipped))
    table.add_row("  skipped while reading", str(ds.skipped))
    table.add_row("  kept as items", str(kept))
    shown = "" if report.items == kept else f" (first {report.items}, --limit)"
    table.add_row("items embedded" + shown, str(report.items))
    table.add_row("  with vectors", str(report.embedded))
    table.add_row("  failed", str(report.failed))
    if report.no_input:
        table.add_row("  nothing to embed", str(report.no_input))
    table.add_row("  of them with empty text (kept)", str(report.empty_text))
    if report.set_aside:
        table.add_row("damaged cache shards set aside", str(len(report.set_aside)))
    if report.refused_text:
        table.add_row("  texts refused (not text; image kept)", str(len(report.refused_text)))
    if image_spec:
        table.add_row("image encoder", image_spec)
        table.add_row(
            "images cached / computed", f"{report.images_cached} / {report.images_computed}"
        )
        if report.images_computed:
            table.add_row("images/s (decode + encode)", f"{report.images_per_second:.1f}")
    if text_spec:
        table.add_row("text encoder", text_spec)
        table.add_row("texts cached / computed", f"{report.texts_cached} / {report.texts_computed}")
    table.add_row("seconds", f"{report.seconds:.2f}")
    return table


def _print_problems(console: Console, name: str, ds: Dataset, report: EmbedReport) -> None:
    """The first problems, each marked skipped / failed / note, and where the full list is."""
    from pictext.data.dataset import SKIPPED

    lines: list[tuple[str, str, str]] = []  # (kind, id, problem)
    for p in ds.problems:
        item, _, problem = p.partition(": ")
        if problem.endswith(SKIPPED):
            lines.append(("skipped", item, problem.removesuffix(SKIPPED)))
        else:
            lines.append(("note", item, problem))
    lines += [("failed", f.item_id, f.problem) for f in report.failures]
    lines += [("note", *r.split(": ", 1)) for r in report.refused_text]  # type: ignore[misc]
    if not lines:
        return
    log = write_failure_log(name, [(item, f"{kind}: {problem}") for kind, item, problem in lines])
    colour = {"skipped": "yellow", "failed": "red", "note": "cyan"}
    for kind, item, problem in lines[:10]:
        console.print(
            f"[{colour[kind]}]{kind}[/] {item}: {problem}", highlight=False, soft_wrap=True
        )
    more = f" ({len(lines) - 10} more)" if len(lines) > 10 else ""
    notes = len(lines) - ds.skipped - len(report.failures)
    console.print(
        f"{ds.skipped} skipped, {len(report.failures)} failed, {notes} noted{more}; "
        f"full list in {log}",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add ``pictext embed``."""
    app.command("embed")(embed)
