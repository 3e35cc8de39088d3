"""``pictext train | evaluate | tag | verify``: the classify-and-tag commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from pictext.bundle.parts import check_encoder_names, open_model
from pictext.cli.errors import report_batch
from pictext.cli.show import tag_line, verdict_line
from pictext.core import defaults
from pictext.core.errors import InputError, UsageError
from pictext.core.limits import check_k
from pictext.data.item import Item
from pictext.store.failures import Failure

_DATASET = typer.Argument(help="dataset name (openclipart, tuxpaint, ...) or folder/manifest")
_STRIP = typer.Option("--strip-label-words", help="remove class words from the text first")
_CACHE = typer.Option("--cache-dir", help="embedding cache root (default $PICTEXT_CACHE)")
_MODEL = typer.Option("--model", help="saved classifier folder, or a bundle holding one")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _log(line: str) -> None:
    """Progress on stdout, warnings on stderr."""
    typer.echo(line, err=line.startswith("warning:"))


def train(
    dataset: Annotated[str, _DATASET],
    out: Annotated[Path, typer.Option("--out", help="folder for the model")],
    image_encoder: Annotated[
        str, typer.Option(help="Image tower (see `pictext models`).")
    ] = defaults.IMAGE_ENCODER,
    text_encoder: Annotated[
        str, typer.Option(help="Text tower (see `pictext models`).")
    ] = defaults.TEXT_ENCODER,
    inputs: Annotated[
        str, typer.Option(help="comma-separated inputs")
    ] = "image,title,description,tags",
    holdout: Annotated[
        float, typer.Option(help="held-out share, halved into val/test")
    ] = defaults.CLASSIFY_HOLDOUT,
    seed: Annotated[
        int, typer.Option(help="Random seed (split, initialisation, sampling).")
    ] = defaults.SPLIT_SEED,
    optimizer: Annotated[str, typer.Option(help="adamw or sgd.")] = "adamw",
    epochs: Annotated[
        int, typer.Option(help="Training epochs (the best on validation is kept).")
    ] = defaults.FUSION_EPOCHS,
    members: Annotated[
        int, typer.Option(help="seed-ensemble size of each head")
    ] = defaults.CLASSIFY_MEMBERS,
    routes: Annotated[
        bool, typer.Option(help="image-only and text-only heads for rows missing an input")
    ] = True,
    strip_label_words: Annotated[bool, _STRIP] = False,
    cache_dir: Annotated[Path | None, _CACHE] = None,
    figures: Annotated[bool, typer.Option(help="learning curve, t-SNE maps, confusions")] = True,
) -> None:
    """Train the fusion (or single-input) head and, for rows without an image or without
    text, an image-only and a text-only head, each route kept only where it wins on
    validation; calibrate them, save them as one classifier with its learning curve and the
    split it used (split.json)."""
    from pictext.classify.jobs import TrainConfig, train_classifier

    check_encoder_names(image_encoder, text_encoder)
    cfg = TrainConfig(
        dataset,
        image_encoder=image_encoder,
        text_encoder=text_encoder,
        inputs=_csv(inputs),
        holdout=holdout,
        seed=seed,
        optimizer=optimizer,
        epochs=epochs,
        members=members,
        routes=routes,
        strip_label_words=strip_label_words,
        cache_dir=cache_dir,
    )
    result = train_classifier(cfg)
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    result.save(out, figures=figures)
    typer.echo(f"{result.describe()} -> {out}")


def evaluate(
    dataset: Annotated[str, _DATASET],
    out: Annotated[Path, typer.Option("--out", help="folder for the tables")],
    image_encoders: Annotated[
        str, typer.Option(help="Comma-separated image towers to compare.")
    ] = ",".join(defaults.TABLE3_IMAGE_ENCODERS),
    text_encoders: Annotated[
        str, typer.Option(help="Comma-separated text towers to compare.")
    ] = ",".join(defaults.TABLE3_TEXT_ENCODERS),
    seeds: Annotated[
        str, typer.Option(help="Comma-separated seeds; the table gives mean ± std over them.")
    ] = ",".join(map(str, defaults.TABLE3_SEEDS)),
    holdout: Annotated[
        float, typer.Option(help="held-out share per class (study: 0.04)")
    ] = defaults.CLASSIFY_HOLDOUT,
    members: Annotated[
        int, typer.Option(help="seed-ensemble size per head")
    ] = defaults.CLASSIFY_MEMBERS,
    strip_label_words: Annotated[bool, _STRIP] = False,
    cache_dir: Annotated[Path | None, _CACHE] = None,
    threads: Annotated[int, typer.Option(help="torch threads (0: torch's default)")] = 0,
) -> None:
    """The study's Table 3 and the missing-input table, mean ± std over seeds."""
    from pictext.classify.jobs import evaluate_table
    from pictext.classify.table3 import Table3Config
    from pictext.core.console import print_table
    from pictext.core.threads import set_torch_threads

    set_torch_threads(threads)
    check_encoder_names(*_csv(image_encoders), *_csv(text_encoders))
    cfg = Table3Config(
        image_encoders=_csv(image_encoders),
        text_encoders=_csv(text_encoders),
        seeds=tuple(int(s) for s in _csv(seeds)),
        holdout=holdout,
        members=members,
    )
    table = evaluate_table(
        dataset, cfg, strip_label_words=strip_label_words, cache_dir=cache_dir, log=_log
    )
    files = table.save(out)
    print_table(table.describe())
    typer.echo(f"wrote {', '.join(str(p) for p in files.values())}")


def _items(
    images: list[Path], manifest: Path | None, title: str, description: str, tags: str
) -> tuple[list[Item], list[str]]:
    """The items asked about, and the manifest rows that were skipped (their problems)."""
    if manifest is not None:
        from pictext.data.manifest import read_manifest

        # The rows name the files asked about, as file arguments would: no root applies
        # (the dataset-root policy of docs/DATA.md is for collections).
        ds = read_manifest(manifest, allow_outside_root=True)
        if not ds.items:
            why = f": {ds.problems[0]}" if ds.problems else ""
            raise InputError(
                f"{manifest}: no usable rows ({len(ds.problems)} skipped{why})",
                item=str(manifest),
            )
        skipped = [p for p in ds.problems if p.endswith("skipped")]
        for note in (p for p in ds.problems if p not in skipped):
            typer.echo(f"warning: {note}", err=True)
        return ds.items, skipped
    if not images:
        raise UsageError("give IMAGE paths or --manifest FILE", item="IMAGE")
    tag_tuple = _csv(tags.replace(";", ","))
    items = [
        Item(str(p), str(p), title=title, description=description, tags=tag_tuple) for p in images
    ]
    return items, []


def tag(
    images: Annotated[list[Path] | None, typer.Argument(help="image files")] = None,
    model: Annotated[Path, _MODEL] = Path("model"),
    title: Annotated[str, typer.Option(help="Title of the image(s), used with the pixels.")] = "",
    description: Annotated[
        str, typer.Option(help="Description of the image(s), used with the pixels.")
    ] = "",
    tags: Annotated[str, typer.Option(help="comma-separated tags")] = "",
    manifest: Annotated[Path | None, typer.Option(help="CSV/JSONL of many items")] = None,
    k: Annotated[
        int, typer.Option("-k", "--k", help=f"labels (1 to {defaults.MAX_K})")
    ] = defaults.TAG_K,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per item")] = False,
) -> None:
    """Suggested labels for images (with their text): the top-k with probabilities.

    An item that cannot be read (a missing, truncated or oversized image, a text that is
    binary data) gets an error line instead of labels, and the exit status is 1.
    """
    from pictext.classify.tagging import ignored_inputs

    check_k(k, name="-k")
    items, skipped = _items(images or [], manifest, title, description, tags)
    answering = open_model(model, "classifier")
    results = answering.tag(items, k)
    clf = answering.require("classifier")

    def show(pair: tuple[Item, Any]) -> str:
        item, top = pair
        return tag_line(item.id, top, as_json, ignored_inputs(clf, item))

    paired = [
        r if isinstance(r, Failure) else (it, r) for it, r in zip(items, results, strict=True)
    ]
    report_batch(paired, as_json, show, skipped)


def verify(
    images: Annotated[list[Path] | None, typer.Argument(help="image files")] = None,
    label: Annotated[str, typer.Option("--label", help="claimed label (for IMAGE arguments)")] = "",
    model: Annotated[Path, _MODEL] = Path("model"),
    title: Annotated[str, typer.Option(help="Title of the image(s), used with the pixels.")] = "",
    description: Annotated[
        str, typer.Option(help="Description of the image(s), used with the pixels.")
    ] = "",
    tags: Annotated[str, typer.Option(help="comma-separated tags")] = "",
    manifest: Annotated[
        Path | None, typer.Option(help="CSV/JSONL; claimed labels from 'label'")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per item")] = False,
) -> None:
    """Agree or disagree with a claimed label, with calibrated confidence and the top-5.

    An item that cannot be read gets an error line instead of a verdict (exit status 1).
    """
    from pictext.classify.tagging import ignored_inputs

    if manifest is None and not label:
        raise UsageError("missing option --label (the label to check the images against)")
    items, skipped = _items(images or [], manifest, title, description, tags)
    claimed = [it.label or "" for it in items] if manifest is not None else [label] * len(items)
    answering = open_model(model, "classifier")
    results = answering.verify(items, claimed)
    clf = answering.require("classifier")

    by_id = {it.id: it for it in items}

    def show(v: Any) -> str:
        ignored = ignored_inputs(clf, by_id[v.item_id]) if v.item_id in by_id else []
        return verdict_line(v, as_json, ignored)

    report_batch(results, as_json, show, skipped)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the ``pictext`` app."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("tag")(tag)
    app.command("verify")(verify)
