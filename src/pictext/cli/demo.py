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
from pictext.store.failures import all_read

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
) -> None:
    """Train, evaluate, tag an example and write the report, end to end."""
    from rich.console import Console

    import pictext
    from pictext.audit import AuditConfig, audit_dataset
    from pictext.bundle.layout import write_bundle_info
    from pictext.caption.jobs import train_captioner
    from pictext.caption.runs import CaptionRunConfig
    from pictext.classify.jobs import TrainConfig, evaluate_table, train_classifier
    from pictext.classify.table3 import Table3Config
    from pictext.core.threads import set_torch_threads
    from pictext.data import load_dataset
    from pictext.data.item import Item
    from pictext.rank import runs as rank_runs
    from pictext.rank.divergent import Divergence
    from pictext.rank.jobs import IndexConfig, build_index
    from pictext.report import write_report
    from pictext.store import embed_dataset

    write_bundle_info(out, dataset=dataset, title=f"pictext demo on {dataset}")

    towers = f"{defaults.IMAGE_ENCODER} + {defaults.TEXT_ENCODER}"
    t = _step(f"1/8 embeddings of {dataset} ({towers}; cached after the first run)")
    ds = load_dataset(dataset)
    feats = embed_dataset(ds, defaults.IMAGE_ENCODER, defaults.TEXT_ENCODER, progress=True)
    typer.echo(f"   {len(feats.ids)} items of {ds.name} embedded")
    _done(t)

    t = _step("2/8 classification table: image-only, text-only, fusion, three anchors")
    cfg = Table3Config(
        image_encoders=(defaults.IMAGE_ENCODER,),
        text_encoders=(defaults.TEXT_ENCODER,),
        seeds=tuple(int(s) for s in seeds.split(",") if s.strip()),
        holdout=defaults.CLASSIFY_HOLDOUT,
        members=defaults.CLASSIFY_MEMBERS,
    )
    table = evaluate_table(dataset, cfg, log=typer.echo)
    files = table.save(out / "table")
    Console().print(table.describe())
    typer.echo(f"wrote {', '.join(str(p) for p in files.values())}")
    _done(t)

    t = _step("3/8 one fusion classifier, calibrated, with its curves and maps")
    trained = train_classifier(TrainConfig(dataset))
    for warning in trained.warnings:
        typer.echo(f"warning: {warning}", err=True)
    trained.save(out / "classifier")
    typer.echo(f"{trained.describe()} -> {out / 'classifier'}")
    _done(t)

    t = _step("4/8 tag and verify an unseen image (from another collection) with its title")
    image, title = _example_upload()
    typer.echo(f"   upload: {image} (title {title!r})")
    model = pictext.load(out)
    upload = Item(str(image), str(image), title=title)
    [top] = all_read(model.tag([upload]))
    typer.echo(tag_line(upload.id, top))
    [verdict] = all_read(model.verify([upload], EXAMPLE_LABEL))
    typer.echo(verdict_line(verdict))
    _done(t)

    t = _step("5/8 joint image-text space (ranking head), index, similar and divergent images")
    set_torch_threads(2)
    spec = rank_runs.RunSpec(dataset, 0.4, defaults.SPLIT_SEED, text_encoder=defaults.TEXT_ENCODER)
    # the head reads image and text; its width, alignment weight and modality dropout are
    # chosen on validation among defaults.RANK_JOINT_GRID
    head = rank_runs.train(
        out / "rank", spec, {"epochs": rank_epochs}, grid=defaults.RANK_JOINT_GRID
    )
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

    t = _step("6/8 captioners: consensus of nearest captions vs the report's merge LSTM")
    # The transformer decoders are left to `pictext caption-eval` (minutes on two cores); the
    # bundle keeps whichever of these two scores best on validation.
    captions = CaptionRunConfig(archs=("consensus", "merge"), epochs=caption_epochs)
    captioned = train_captioner(dataset, captions, log=typer.echo)
    captioned.save(out / "captioner")
    typer.echo(captioned.describe())
    [text] = all_read(pictext.load(out).caption([image]))
    typer.echo(f"{image}: {text}")
    _done(t)

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
    typer.echo(f"serve it: pictext serve {out}")


def register(app: typer.Typer) -> None:
    """Add ``pictext demo``."""
    app.command("demo")(demo)
