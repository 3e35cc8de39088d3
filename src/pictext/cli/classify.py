"""``pictext train | evaluate | tag | verify``: the classify-and-tag commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from pictext.cli.errors import report_batch
from pictext.cli.models import check_encoder_names, load_classifier
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
    image_encoder: str = defaults.IMAGE_ENCODER,
    text_encoder: str = defaults.TEXT_ENCODER,
    inputs: Annotated[
        str, typer.Option(help="comma-separated inputs")
    ] = "image,title,description,tags",
    holdout: Annotated[
        float, typer.Option(help="held-out share, halved into val/test")
    ] = defaults.CLASSIFY_HOLDOUT,
    seed: int = defaults.SPLIT_SEED,
    optimizer: str = "adamw",
    epochs: int = defaults.FUSION_EPOCHS,
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
    split it used (``split.json``)."""
    from pictext.classify.datacheck import split_check
    from pictext.classify.fusion import FusionConfig
    from pictext.classify.runs import (
        features_for,
        load_labelled,
        model_figures,
        train_fusion,
    )
    from pictext.classify.table3 import classify_split
    from pictext.core.atomic import atomic_write_json

    check_encoder_names(image_encoder, text_encoder)
    ds = load_labelled(dataset, strip_label_words=strip_label_words)
    split = classify_split(ds, holdout=holdout, seed=seed)
    warning = split_check(ds, split).warning()
    if warning:
        typer.echo(f"warning: {warning}", err=True)
    feats = features_for(ds, cache_dir)(image_encoder, text_encoder)
    cfg = FusionConfig(
        inputs=_csv(inputs), seed=seed, optimizer=optimizer, epochs=epochs, progress=True
    )
    if members < 1:
        raise UsageError(f"--members must be at least 1, not {members}", item="--members")
    model, metrics = train_fusion(ds, feats, cfg, split=split, members=members, routes=routes)
    model.save(out)
    split.save(out / "split.json")
    atomic_write_json(out / "metrics.json", metrics)
    if figures:
        model_figures(ds, feats, model, out, split=split)
    t = metrics["test"]
    routed = ", ".join(f"{r} -> {h} head" for r, h in model.routes.items()) or "none"
    typer.echo(
        f"{ds.name}: test top-1 {t['top1']:.1f}  top-5 {t['top5']:.1f}  "
        f"ECE {t['ece']:.1f}%  routes: {routed} -> {out}"
    )


def evaluate(
    dataset: Annotated[str, _DATASET],
    out: Annotated[Path, typer.Option("--out", help="folder for the tables")],
    image_encoders: str = ",".join(defaults.TABLE3_IMAGE_ENCODERS),
    text_encoders: str = ",".join(defaults.TABLE3_TEXT_ENCODERS),
    seeds: str = ",".join(map(str, defaults.TABLE3_SEEDS)),
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
    from rich.console import Console

    from pictext.classify.runs import evaluate_dataset, load_labelled
    from pictext.classify.table3 import Table3Config
    from pictext.classify.tables import rich_table, summary, write_outputs, write_plots

    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    check_encoder_names(*_csv(image_encoders), *_csv(text_encoders))
    ds = load_labelled(dataset, strip_label_words=strip_label_words)
    cfg = Table3Config(
        image_encoders=_csv(image_encoders),
        text_encoders=_csv(text_encoders),
        seeds=tuple(int(s) for s in _csv(seeds)),
        holdout=holdout,
        members=members,
    )
    result = evaluate_dataset(ds, cfg, cache_dir=cache_dir, log=_log)
    files = write_outputs(result, out)
    files.update({p.stem: p for p in write_plots(result, out)})
    Console().print(rich_table(summary(result)))
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
    title: str = "",
    description: str = "",
    tags: Annotated[str, typer.Option(help="comma-separated tags")] = "",
    manifest: Annotated[Path | None, typer.Option(help="CSV/JSONL of many items")] = None,
    k: Annotated[int, typer.Option("-k", "--k", help=f"labels (1 to {defaults.MAX_K})")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per item")] = False,
) -> None:
    """Suggested labels for images (with their text): the top-k with probabilities.

    An item that cannot be read (a missing, truncated or oversized image, a text that is
    binary data) gets an error line instead of labels, and the exit status is 1.
    """
    from pictext.classify.tagging import ignored_inputs, tag_each

    check_k(k, name="-k")
    items, skipped = _items(images or [], manifest, title, description, tags)
    clf = load_classifier(model)
    results = tag_each(clf, items, k)

    def show(pair: tuple[Item, Any]) -> str:
        item, top = pair
        ignored = ignored_inputs(clf, item)
        if as_json:
            answer = {"id": item.id, "top": [[lab, round(p, 4)] for lab, p in top]}
            return json.dumps({**answer, **({"ignored": ignored} if ignored else {})})
        line = f"{item.id}: " + ", ".join(f"{lab} {p:.2f}" for lab, p in top)
        return line + _ignored_note(ignored)

    paired = [
        r if isinstance(r, Failure) else (it, r) for it, r in zip(items, results, strict=True)
    ]
    report_batch(paired, as_json, show, skipped)


def verify(
    images: Annotated[list[Path] | None, typer.Argument(help="image files")] = None,
    label: Annotated[str, typer.Option("--label", help="claimed label (for IMAGE arguments)")] = "",
    model: Annotated[Path, _MODEL] = Path("model"),
    title: str = "",
    description: str = "",
    tags: Annotated[str, typer.Option(help="comma-separated tags")] = "",
    manifest: Annotated[
        Path | None, typer.Option(help="CSV/JSONL; claimed labels from 'label'")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per item")] = False,
) -> None:
    """Agree or disagree with a claimed label, with calibrated confidence and the top-5.

    An item that cannot be read gets an error line instead of a verdict (exit status 1).
    """
    from pictext.classify.tagging import ignored_inputs, verify_each

    items, skipped = _items(images or [], manifest, title, description, tags)
    clf = load_classifier(model)
    claimed = [it.label or "" for it in items] if manifest is not None else [label] * len(items)
    results = verify_each(clf, items, claimed)

    by_id = {it.id: it for it in items}

    def show(v: Any) -> str:
        ignored = ignored_inputs(clf, by_id[v.item_id]) if v.item_id in by_id else []
        if as_json:
            return json.dumps({**v.to_dict(), **({"ignored": ignored} if ignored else {})})
        word = "AGREE" if v.agree else "DISAGREE"
        top = ", ".join(f"{lab} {p:.2f}" for lab, p in v.top)
        line = f"{v.item_id}: {word} with {v.claimed!r} (p={v.confidence:.2f}); top-5: {top}"
        return line + _ignored_note(ignored)

    report_batch(results, as_json, show, skipped)


def _ignored_note(ignored: list[str]) -> str:
    """The CLI's note for fields the model was not fed (it never saw them in training)."""
    if not ignored:
        return ""
    return f"  (ignored: {', '.join(ignored)}: the model was trained without them)"


def register(app: typer.Typer) -> None:
    """Add this area's commands to the ``pictext`` app."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("tag")(tag)
    app.command("verify")(verify)
