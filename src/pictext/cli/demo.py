"""``pictext demo``: the main job, end to end on the embedded default dataset.

It chains the jobs the commands run (the same library calls, results passed in memory), each
step printing what it measured: dataset
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

from pictext.cli.show import (
    epoch_line,
    print_audit,
    print_table,
    show_answer,
    tag_line,
    verdict_line,
)
from pictext.core import defaults
from pictext.core.budget import EXAMPLES, SCALE_FROM
from pictext.store.failures import all_read

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
    from pictext.bundle.layout import write_bundle_info
    from pictext.core.budget import training_budget
    from pictext.data import load_dataset

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
    import pictext
    from pictext.audit import AuditConfig, audit_dataset
    from pictext.caption.jobs import train_captioner
    from pictext.caption.runs import CaptionRunConfig
    from pictext.classify.jobs import TrainConfig, evaluate_table, train_classifier
    from pictext.classify.table3 import Table3Config
    from pictext.core.console import print_table as print_rich_table
    from pictext.core.threads import set_torch_threads
    from pictext.data import load_dataset
    from pictext.data.item import Item
    from pictext.rank import runs as rank_runs
    from pictext.rank.divergent import Divergence
    from pictext.rank.jobs import IndexConfig, build_index
    from pictext.report import write_report
    from pictext.store import embed_dataset

    towers = f"{defaults.IMAGE_ENCODER} + {defaults.TEXT_ENCODER}"
    t = _step(f"1/8 embeddings of {dataset} ({towers}; cached after the first run)")
    ds = load_dataset(dataset)
    feats = embed_dataset(ds, defaults.IMAGE_ENCODER, defaults.TEXT_ENCODER, progress=True)
    typer.echo(f"   {len(feats.ids)} items of {ds.name} embedded")
    _done(t)

    rows = "image-only, text-only, fusion, three anchors" if has_text else "image-only, LogReg"
    t = _step(f"2/8 classification table: {rows}")
    cfg = Table3Config(
        image_encoders=(defaults.IMAGE_ENCODER,),
        text_encoders=(defaults.TEXT_ENCODER,),
        seeds=tuple(int(s) for s in seeds.split(",") if s.strip()),
        holdout=defaults.CLASSIFY_HOLDOUT,
        members=defaults.CLASSIFY_MEMBERS,
    )
    table = evaluate_table(dataset, cfg, log=typer.echo)
    files = table.save(out / "table")
    print_rich_table(table.describe())
    typer.echo(f"wrote {', '.join(str(p) for p in files.values())}")
    _done(t)

    kind = "fusion" if has_text else "image-only"
    t = _step(f"3/8 one {kind} classifier, calibrated, with its curves and maps")
    config = TrainConfig(dataset) if has_text else TrainConfig(
        dataset, inputs=("image",), routes=False
    )  # fmt: skip
    trained = train_classifier(config)
    for warning in trained.warnings:
        typer.echo(f"warning: {warning}", err=True)
    trained.save(out / "classifier")
    typer.echo(f"{trained.describe()} -> {out / 'classifier'}")
    _done(t)

    image, title, label = _example_for(dataset, out)
    where = "another collection" if label == EXAMPLE_LABEL else "the classifier's test split"
    t = _step(f"4/8 tag and verify an unseen image (from {where}) with its title")
    typer.echo(f"   upload: {image} (title {title!r}, label {label!r})")
    model = pictext.load(out)
    upload = Item(str(image), str(image), title=title)
    [top] = all_read(model.tag([upload]))
    typer.echo(tag_line(upload.id, top))
    [verdict] = all_read(model.verify([upload], label))
    typer.echo(verdict_line(verdict))
    _done(t)

    t = _step("5/8 joint image-text space (ranking head), index, similar and divergent images")
    set_torch_threads(2)
    # With text, the head reads image and text (the joint space); its width, alignment weight
    # and modality dropout are chosen on validation among defaults.RANK_JOINT_GRID.
    text_encoder = defaults.TEXT_ENCODER if has_text else None
    spec = rank_runs.RunSpec(dataset, 0.4, defaults.SPLIT_SEED, text_encoder=text_encoder)
    grid = defaults.RANK_JOINT_GRID if has_text else ()
    head = rank_runs.train(out / "rank", spec, {"epochs": rank_epochs}, grid=grid)
    for row in head.history:
        typer.echo(epoch_line(row))
    report = rank_runs.evaluate(out / "rank", divergence=Divergence())
    typer.echo(f"{report['dataset']}: {report['n_test']} test items")
    print_table(report["table"])
    index = build_index(IndexConfig(dataset, head=out / "rank" / "head", threads=2))
    index.save(out / "index")
    typer.echo(f"indexed {len(index)} items ({index.manifest.space}) -> {out / 'index'}")
    model = pictext.load(out)
    show_answer(model.similar(upload, 5), f"most similar to {str(image)!r} + its title:", False)
    far = model.divergent(upload, 5)
    what = f"{str(image)!r} + its title ({Divergence().describe()})"
    show_answer(far, f"most divergent from {what}:", False)
    _done(t)

    if has_text:
        t = _step("6/8 captioners: consensus of nearest captions vs the report's merge LSTM")
        # The transformer decoders are left to `pictext caption-eval` (minutes on two cores);
        # the bundle keeps whichever of these two scores best on validation.
        captions = CaptionRunConfig(archs=("consensus", "merge"), epochs=caption_epochs)
        captioned = train_captioner(dataset, captions, log=typer.echo)
        captioned.save(out / "captioner")
        typer.echo(captioned.describe())
        [text] = all_read(pictext.load(out).caption([image]))
        typer.echo(f"{image}: {text}")
        _done(t)
    else:
        typer.secho("\n== 6/8 captioners: skipped (no text to learn captions from)", bold=True)

    t = _step("7/8 audit: suspected label errors, duplicates, uniqueness (the page sorts by them)")
    audit = audit_dataset(dataset, AuditConfig(), progress=True)
    audit.save(out / "audit")
    print_audit(audit, dataset, out / "audit", 5)
    _done(t)

    t = _step("8/8 report")
    page = write_report(out)
    _done(t)
    typer.echo("")
    typer.secho(f"report: {page}", bold=True)


def register(app: typer.Typer) -> None:
    """Add ``pictext demo``."""
    app.command("demo")(demo)
