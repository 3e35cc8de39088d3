"""``pictext demo``: the main job, end to end on the embedded default dataset.

It chains the commands a user would run, each step printing what it measured: dataset
summary, cached embeddings, the classification table (fusion vs single inputs vs anchors),
a trained and calibrated classifier that tags and verifies an unseen image, a ranking head
with its index and retrieval grid, a captioner, an audit of the collection (suspect labels,
duplicates, outliers), and a report page that links it all. The folder it writes is also a
bundle for ``pictext serve``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from pictext.core import defaults
from pictext.core.budget import EXAMPLES, SCALE_FROM

LARGE_BUDGET = 120.0  # seconds per training run by default above SCALE_FROM items

# An image from another collection (openclipart) to tag and search with, as an upload would be.
EXAMPLE_DATASET = "openclipart"
EXAMPLE_LABEL = "animals"


def _step(title: str) -> float:
    typer.secho(f"\n== {title}", bold=True)
    return time.perf_counter()


def _done(start: float) -> None:
    typer.echo(f"   ({time.perf_counter() - start:.1f} s)")


def _example_upload() -> tuple[Path, str]:
    """The first openclipart animal that renders: a path and its title."""
    from pictext.data import load_dataset
    from pictext.data.errors import ItemError
    from pictext.data.images import load_image

    for item in load_dataset(EXAMPLE_DATASET).items:
        if item.label == EXAMPLE_LABEL and item.image and item.title:
            try:
                load_image(item)
            except ItemError:
                continue
            return Path(item.image), item.title
    raise RuntimeError(f"no {EXAMPLE_LABEL} image in {EXAMPLE_DATASET} renders")


def _example_for(dataset: str, out: Path) -> tuple[Path, str, str]:
    """The upload the demo tags: an openclipart animal when the collection has the class
    ``animals``; else the first item of the classifier's test split, written as a PNG."""
    from pictext.data import load_dataset
    from pictext.data.images import load_image
    from pictext.data.split import DatasetSplit

    items = load_dataset(dataset).items
    if EXAMPLE_LABEL in {it.label for it in items}:
        return (*_example_upload(), EXAMPLE_LABEL)
    test = DatasetSplit.load(out / "classifier" / "split.json").test
    item = next(it for it in items if it.id == test[0])
    path = out / "example.png"
    load_image(item).save(path)
    return path, item.title, str(item.label)


def demo(
    dataset: Annotated[str, typer.Option(help="Dataset to run on.")] = "tuxpaint",
    out: Annotated[
        Path, typer.Option(help="Output folder (also a `pictext serve` bundle).")
    ] = Path("runs/demo"),
    seeds: Annotated[str, typer.Option(help="Seeds of the classification table.")] = ",".join(
        map(str, defaults.TABLE3_SEEDS)
    ),
    rank_epochs: Annotated[
        int, typer.Option(min=1, help="Ranking head epochs.")
    ] = defaults.RANK_EPOCHS,
    caption_epochs: Annotated[
        int, typer.Option(min=1, help="Captioner epochs.")
    ] = defaults.CAPTION_EPOCHS,
    time_budget: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds each training run (one head, one fold) may take; it keeps its best "
            f"epoch so far. 0: none up to {SCALE_FROM:,} items, {LARGE_BUDGET:.0f} s above.",
        ),
    ] = 0.0,
) -> None:
    """Train, evaluate, tag an example and write the report, end to end."""
    from pictext.core.budget import training_budget
    from pictext.data import load_dataset
    from pictext.service.bundle import write_bundle_info

    write_bundle_info(out, dataset=dataset, title=f"pictext demo on {dataset}")
    items = load_dataset(dataset).items
    has_text = any(it.title or it.description or it.tags for it in items)
    budget = time_budget or (LARGE_BUDGET if len(items) > SCALE_FROM else None)
    typer.secho(f"pictext demo on {dataset}: {len(items):,} items", bold=True)
    typer.echo(plan(len(items), has_text, budget))
    with training_budget(budget):
        _run(dataset, out, seeds, rank_epochs, caption_epochs, has_text)
    typer.echo(f"serve it: pictext serve {out}")


def plan(n: int, has_text: bool, budget: float | None) -> str:
    """What the demo will do for a collection of ``n`` items, said before it starts."""
    lines = []
    if not has_text:
        lines.append(
            "   no text in this collection: image-only classification rows (no text or fusion "
            "rows), no captioner (it learns from titles and descriptions), no text search"
        )
    if n > SCALE_FROM:
        lines.append(
            f"   {n:,} items: heads train with larger batches and fewer epochs (about "
            f"{EXAMPLES:,} examples each), early-stopped on validation; the audit reads a "
            "k-NN graph (FAISS); the index is approximate with its recall measured"
        )
    lines.append(
        f"   time budget per training run: {budget:.0f} s (--time-budget)"
        if budget
        else "   time budget per training run: none (--time-budget SECONDS sets one)"
    )
    return "\n".join(lines)


def _run(
    dataset: str, out: Path, seeds: str, rank_epochs: int, caption_epochs: int, has_text: bool
) -> None:
    """The demo's steps (see :func:`demo`)."""
    from pictext.cli import audit, caption, classify, embed, rank
    from pictext.report import write_report

    towers = f"{defaults.IMAGE_ENCODER} + {defaults.TEXT_ENCODER}"
    t = _step(f"1/8 embeddings of {dataset} ({towers}; cached after the first run)")
    embed.embed(dataset, progress=True)
    _done(t)

    rows = "image-only, text-only, fusion, three anchors" if has_text else "image-only, LogReg"
    t = _step(f"2/8 classification table: {rows}")
    classify.evaluate(
        dataset,
        out / "table",
        image_encoders=defaults.IMAGE_ENCODER,
        text_encoders=defaults.TEXT_ENCODER,
        seeds=seeds,
        threads=0,
    )
    _done(t)

    kind = "fusion" if has_text else "image-only"
    t = _step(f"3/8 one {kind} classifier, calibrated, with its curves and maps")
    if has_text:
        classify.train(dataset, out / "classifier")
    else:
        classify.train(dataset, out / "classifier", inputs="image", routes=False)
    _done(t)

    image, title, label = _example_for(dataset, out)
    where = "another collection" if label == EXAMPLE_LABEL else "the classifier's test split"
    t = _step(f"4/8 tag and verify an unseen image (from {where}) with its title")
    typer.echo(f"   upload: {image} (title {title!r}, label {label!r})")
    classify.tag([image], model=out / "classifier", title=title)
    classify.verify([image], label=label, model=out / "classifier", title=title)
    _done(t)

    t = _step("5/8 ranking head (triplet loss), index, similar and divergent images")
    rank.rank_train(dataset, out=out / "rank", epochs=rank_epochs, holdout=0.4, threads=2)
    rank.rank_evaluate(out / "rank", threads=2)
    rank.index_build(
        dataset, head=out / "rank" / "head", out=out / "index", current=False, threads=2
    )
    rank.similar(str(image), k=5, index=out / "index")
    rank.divergent(str(image), k=5, index=out / "index")
    _done(t)

    if has_text:
        t = _step("6/8 captioners: consensus of nearest captions vs the report's merge LSTM")
        # The transformer decoders are left to `pictext caption-eval` (minutes on two cores);
        # the bundle keeps whichever of these two scores best on validation.
        caption.caption_train(
            dataset, out / "captioner", arch="consensus,merge", epochs=caption_epochs
        )
        caption.caption([image], model=out / "captioner")
        _done(t)
    else:
        typer.secho("\n== 6/8 captioners: skipped (no text to learn captions from)", bold=True)

    t = _step("7/8 audit: suspected label errors, duplicates, uniqueness (the page sorts by them)")
    audit.audit(dataset, out=out / "audit", show=5)
    _done(t)

    t = _step("8/8 report")
    page = write_report(out)
    _done(t)
    typer.secho(f"\nreport: {page}", bold=True)


def register(app: typer.Typer) -> None:
    """Add ``pictext demo``."""
    app.command("demo")(demo)
