"""``pictext datasets list`` and ``pictext datasets info NAME``."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from pictext.core.console import print_table

datasets_app = typer.Typer(
    help="List packaged datasets and describe any dataset.", no_args_is_help=True
)


@datasets_app.command("list")
def list_command(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The packaged datasets, with the Debian package each one is read from."""
    from pictext.data.registry import DEBIAN_PACKAGES, list_datasets

    names = list_datasets()
    if json_out:
        print(json.dumps([{"name": n, "package": DEBIAN_PACKAGES[n]} for n in names]))
        return
    from rich.table import Table

    table = Table(title="Packaged datasets (or pass a folder, WebVision tree or manifest)")
    table.add_column("name")
    table.add_column("Debian package")
    for name in names:
        table.add_row(name, DEBIAN_PACKAGES[name])
    print_table(table, "Datasets shipped with pictext; pass any of these names to a command.")


@datasets_app.command("info")
def info_command(
    name: str = typer.Argument(..., help="Packaged name, folder, WebVision tree or manifest."),
    strip_label_words: bool = typer.Option(
        False, "--strip-label-words", help="Remove label and folder words from the text first."
    ),
    verify: bool = typer.Option(
        False, "--verify", help="Decode every image (rasterise SVGs) and drop unreadable ones."
    ),
    duplicates: bool = typer.Option(True, help="Count exact duplicate groups (hashes images)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    problems: int = typer.Option(10, help="How many problems to list."),
) -> None:
    """Items, classes, per-class counts, missing text per field, image sizes, duplicates."""
    from pictext.data import DatasetNotFoundError, load_dataset
    from pictext.data.info import dataset_info

    try:
        dataset = load_dataset(name)  # stripped in dataset_info, which measures both
    except (DatasetNotFoundError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    if verify:
        from pictext.data.images import drop_unreadable

        dataset = drop_unreadable(dataset)
    info = dataset_info(dataset, duplicates=duplicates, strip_label_words=strip_label_words)
    info["strip_label_words"] = strip_label_words
    info["problem_list"] = dataset.problems
    if json_out:
        json.dump(info, sys.stdout, indent=1)
        print()
        return
    _print_info(info, problems)


def _print_info(info: dict[str, Any], n_problems: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    summary = Table(title=f"dataset {info['name']}", show_header=False)
    summary.add_row("items", f"{info['items']:,}")
    summary.add_row("classes", str(info["classes"]))
    summary.add_row("fine labels", str(info["fine_labels"]))
    for side, count in info.get("predefined", {}).items():
        summary.add_row(f"predefined set {side}", f"{count:,}")
    if info["unlabelled"]:
        summary.add_row("unlabelled", str(info["unlabelled"]))
    summary.add_row("problems (skipped or kept, see below)", str(info["problems"]))
    if "duplicate_groups" in info:
        summary.add_row(
            "exact duplicate groups (same image or text)",
            f"{info['duplicate_groups']:,} ({info['items_in_duplicate_groups']:,} items)",
        )
        summary.add_row("distinct texts", f"{info['distinct_texts']:,}")
    summary.add_row("label words stripped", str(info["strip_label_words"]))
    print_table(summary, "Items, classes and text of the collection.")

    text = Table(title="Text per field")
    for col in ("field", "missing", "mean words"):
        text.add_column(col, justify="right" if col != "field" else "left")
    for field, rate in info["missing_rate"].items():
        text.add_row(field, f"{100 * rate:.1f}%", f"{info['mean_words'][field]:.1f}")
    print_table(text, "How many items have each text field, and how long it is.")
    _print_sources(console, info)
    _print_leakage(console, info["label_leakage"])

    if "images" in info:
        _print_images(console, info["images"])

    classes = Table(title="Items per class")
    classes.add_column("class")
    classes.add_column("items", justify="right")
    classes.add_column("share", justify="right")
    total = max(info["items"], 1)
    for cls, count in info["per_class"].items():
        classes.add_row(cls, f"{count:,}", f"{100 * count / total:.1f}%")
    print_table(classes, "Items per class; a small class is harder to learn and to score.")

    for line in info["problem_list"][:n_problems]:
        console.print(f"  problem: {line}", markup=False, highlight=False)
    if len(info["problem_list"]) > n_problems:
        console.print(f"  ... {len(info['problem_list']) - n_problems} more (use --json)")


def _print_sources(console: Any, info: dict[str, Any]) -> None:
    from rich.table import Table

    by_source = info["missing_rate_by_source"]
    if len(by_source) < 2:
        return
    fields = list(info["missing_rate"])
    table = Table(title="Missing text per source (share of its items)")
    for col in ("source", "items", *fields):
        table.add_column(col, justify="left" if col == "source" else "right")
    for source, rates in by_source.items():
        cells = [f"{100 * rates[f]:.1f}%" for f in fields]
        table.add_row(source, f"{info['sources'][source]:,}", *cells)
    print_table(table, "Share of items with no text, per source; lower is better.")


def _print_leakage(console: Any, leakage: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="Items whose text names their own label (before -> after stripping)")
    vocabularies = {"fine_label": "own fine label / query", "class": "own class (+ synonyms)"}
    table.add_column("field")
    for name in vocabularies.values():
        table.add_column(name, justify="right")
    for field in leakage["before"]["class"]:
        cells = [
            f"{100 * leakage['before'][v][field]:.1f}% -> {100 * leakage['after'][v][field]:.1f}%"
            for v in vocabularies
        ]
        table.add_row(field, *cells)
    print_table(table, "Label words in the text, which make text-only scores look too good.")


def _print_images(console: Any, images: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="Image sizes (px; SVG: intrinsic size)")
    for col in ("", "min", "median", "max"):
        table.add_column(col, justify="right")
    for dim in ("width", "height"):
        stats = images[dim]
        if stats:
            table.add_row(dim, str(stats["min"]), f"{stats['median']:g}", str(stats["max"]))
    print_table(table, "Image width and height in pixels across the collection.")
    formats = ", ".join(f"{k}: {v:,}" for k, v in images["formats"].items())
    console.print(f"formats: {formats}; unreadable headers: {images['unreadable_headers']}")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the ``pictext`` app."""
    app.add_typer(datasets_app, name="datasets")
