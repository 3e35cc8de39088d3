"""``pictext caption | caption-train | caption-eval``, and caption search for ``similar``.

``search_by_caption`` is what ``pictext similar --by caption`` and ``pictext divergent --by
caption`` call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pictext.cli.errors import report_batch
from pictext.cli.models import bundle_dataset, check_encoder_names, load_captioner
from pictext.core import defaults
from pictext.core.atomic import atomic_write_json as _write_json
from pictext.core.errors import NotFoundError, UsageError
from pictext.core.limits import check_k
from pictext.data.item import Item
from pictext.encoders.registry import EncoderVersionError
from pictext.store.failures import Failure

if TYPE_CHECKING:
    from pictext.caption import CaptionMatch, Decoding

_DATASET = typer.Argument(help="dataset name (tuxpaint, openclipart, ...) or folder/manifest")
_CACHE = typer.Option("--cache-dir", help="embedding cache root (default $PICTEXT_CACHE)")
_FIELD = typer.Option(help="reference text: auto, description, title, title+description")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _image_items(paths: list[Path]) -> list[Item]:
    return [Item(str(p), str(p)) for p in paths]


def _retrain(err: EncoderVersionError) -> EncoderVersionError:
    return EncoderVersionError(
        f"the model was {err}; retrain with caption-train", err.recorded, err.found
    )


def _decoding(beam: int) -> Decoding:
    from pictext.caption import Decoding

    return Decoding(beam_size=beam)


def _archs(value: str) -> tuple[str, ...]:
    from pictext.caption import CAPTIONERS

    archs = CAPTIONERS if value == "auto" else _csv(value)
    unknown = [a for a in archs if a not in CAPTIONERS]
    if unknown or not archs:
        raise typer.BadParameter(f"unknown captioner type {unknown}; use auto or {CAPTIONERS}")
    return archs


_TEXT = typer.Option(help="encoder of caption similarity, the cosine metric and retrieval")
_BEAM = typer.Option(min=1, help="beam width of trained decoders (1: greedy)")
_ARCH = typer.Option(
    "--arch",
    help="captioner types to fit, comma-separated (consensus, merge, transformer, retrieval); "
    "auto: all; the best on validation is kept",
)


def caption(
    images: Annotated[list[Path], typer.Argument(help="image files")],
    model: Annotated[
        Path, typer.Option("--model", help="saved captioner folder, or a bundle holding one")
    ],
    beam: Annotated[int, _BEAM] = defaults.CAPTION_BEAM,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per image")] = False,
) -> None:
    """Caption images with a captioner saved by `pictext caption-train`.

    An image that cannot be read gets an error line instead of a caption (exit status 1).
    """
    from pictext.caption.search import caption_each
    from pictext.store import MemoryCache

    captioner = load_captioner(model)
    try:
        texts = caption_each(
            captioner, _image_items(images), decoding=_decoding(beam), memory=MemoryCache(0)
        )
    except EncoderVersionError as err:
        raise _retrain(err) from None

    def show(pair: tuple[Path, str]) -> str:
        path, text = pair
        return json.dumps({"image": str(path), "caption": text}) if as_json else f"{path}: {text}"

    paired = [t if isinstance(t, Failure) else (p, t) for p, t in zip(images, texts, strict=True)]
    report_batch(paired, as_json, show)


def caption_train(
    dataset: Annotated[str, _DATASET],
    out: Annotated[Path, typer.Option("--out", help="folder for the model")],
    arch: Annotated[str, _ARCH] = "auto",
    image_encoder: Annotated[
        str, typer.Option(help="Image tower (see `pictext models`).")
    ] = defaults.IMAGE_ENCODER,
    text_encoder: Annotated[str, _TEXT] = defaults.CAPTION_TEXT_ENCODER,
    field: Annotated[str, _FIELD] = "auto",
    holdout: Annotated[
        float, typer.Option(help="held-out share per class; 0 refits the chosen type on all")
    ] = defaults.CAPTION_HOLDOUT,
    epochs: Annotated[
        int, typer.Option(help="Training epochs (the best on validation is kept).")
    ] = defaults.CAPTION_EPOCHS,
    seed: Annotated[
        int, typer.Option(help="Random seed (split, initialisation, sampling).")
    ] = defaults.SPLIT_SEED,
    cache_dir: Annotated[Path | None, _CACHE] = None,
) -> None:
    """Fit captioners, keep the best on validation and save it (with its table)."""
    from pictext.caption.report import caption_examples, caption_record
    from pictext.caption.runs import CaptionRunConfig, run_captions
    from pictext.caption.tables import format_caption_table
    from pictext.data import load_dataset
    from pictext.store import embed_dataset

    check_encoder_names(image_encoder)
    archs = _archs(arch)
    ds = load_dataset(dataset)
    feats = embed_dataset(ds, image_encoder, None, cache_dir=cache_dir)
    cfg = CaptionRunConfig(
        archs=archs,
        field=field,
        holdout=holdout or defaults.CAPTION_HOLDOUT,
        seed=seed,
        epochs=epochs,
        text_encoder=text_encoder,
    )
    result = run_captions(ds, feats, cfg, log=typer.echo)
    typer.echo(format_caption_table(result["rows"]))
    if holdout == 0:
        _train_on_all(ds, feats, cfg, result, out)
        return
    result["models"][result["default"]].save(out)
    result["split"].save(out / "split.json")
    _write_json(out / "bleu.json", caption_record(result))
    caption_examples(ds, result, out / "examples.png")
    typer.echo(f"saved {out} ({result['default']}, the best on validation) and its examples.png")


def _train_on_all(ds: Any, feats: Any, cfg: Any, result: dict[str, Any], out: Path) -> None:
    """Refit the type chosen on validation (with its chosen settings) on every item."""
    from dataclasses import asdict

    from pictext.caption import Captioner, ConsensusCaptioner
    from pictext.caption.references import reference_captions, training_captions
    from pictext.caption.runs import resolve_text_encoder
    from pictext.data.split import duplicate_groups

    chosen = result["models"][result["default"]]
    refs = reference_captions(ds, cfg.field)
    texts = training_captions(ds, refs, cfg.extra_fields)
    keep = [i for i, r in enumerate(refs) if r and feats.image_mask[i]]
    if isinstance(chosen, ConsensusCaptioner):
        model = ConsensusCaptioner(chosen.config).fit(
            feats.image[keep],
            [texts[i] for i in keep],
            resolve_text_encoder(chosen.text_encoder or cfg.text_encoder),
            image_encoder=feats.image_encoder,
            clean=False,
        )
    else:
        rows = [i for i in keep for _ in texts[i]]
        model = Captioner(**asdict(chosen.config)).fit(
            feats.image[rows],
            [t for i in keep for t in texts[i]],
            image_encoder=feats.image_encoder,
            clean=False,
            groups=duplicate_groups(ds)[rows],
        )
    model.save(out)
    typer.echo(f"refitted {result['default']} on all {len(keep)} captioned images; saved {out}")


def caption_eval(
    dataset: Annotated[str, _DATASET],
    out: Annotated[Path, typer.Option("--out", help="folder for tables, picture and models")],
    arch: Annotated[str, _ARCH] = "auto",
    image_encoder: Annotated[
        str, typer.Option(help="Image tower (see `pictext models`).")
    ] = defaults.IMAGE_ENCODER,
    text_encoder: Annotated[str, _TEXT] = defaults.CAPTION_TEXT_ENCODER,
    field: Annotated[str, _FIELD] = "auto",
    holdout: Annotated[
        float, typer.Option(help="Share of items held out, halved into validation and test.")
    ] = defaults.CAPTION_HOLDOUT,
    epochs: Annotated[
        int, typer.Option(help="Training epochs (the best on validation is kept).")
    ] = defaults.CAPTION_EPOCHS,
    beam: Annotated[int, _BEAM] = defaults.CAPTION_BEAM,
    seed: Annotated[
        int, typer.Option(help="Random seed (split, initialisation, sampling).")
    ] = defaults.SPLIT_SEED,
    similar: Annotated[
        float, typer.Option(help="cosine at or above: similar")
    ] = defaults.CAPTION_SIMILAR,
    divergent_low: Annotated[
        float, typer.Option(help="Lowest similarity of a divergent caption.")
    ] = defaults.CAPTION_DIVERGENT_LOW,
    divergent_high: Annotated[
        float, typer.Option(help="Highest similarity of a divergent caption.")
    ] = defaults.CAPTION_DIVERGENT_HIGH,
    k: Annotated[int, typer.Option("-k", "--k", help="Captions per image to list.")] = 10,
    cache_dir: Annotated[Path | None, _CACHE] = None,
) -> None:
    """Caption table (every type, baselines; chosen on validation, scored on test),
    retrieval precision table, examples."""
    from pictext.caption import CaptionThresholds
    from pictext.caption.report import write_caption_report
    from pictext.caption.runs import CaptionRunConfig, run_captions
    from pictext.data import load_dataset
    from pictext.store import embed_dataset

    check_encoder_names(image_encoder, text_encoder)
    ds = load_dataset(dataset)
    feats = embed_dataset(ds, image_encoder, None, cache_dir=cache_dir)
    cfg = CaptionRunConfig(
        archs=_archs(arch),
        field=field,
        holdout=holdout,
        seed=seed,
        epochs=epochs,
        decoding=_decoding(beam),
        text_encoder=text_encoder,
    )
    result = run_captions(ds, feats, cfg, log=typer.echo)
    th = CaptionThresholds(similar, divergent_low, divergent_high)
    files = write_caption_report(
        ds,
        feats,
        result,
        out,
        text_encoder=text_encoder,
        thresholds=th,
        k=k,
        cache_dir=cache_dir,
        log=typer.echo,
    )
    typer.echo("wrote " + ", ".join(str(p) for p in files))


def search_by_caption(
    images: list[Path],
    dataset: str,
    model: Path,
    *,
    mode: str = "similar",
    k: int = 10,
    similar: float = defaults.CAPTION_SIMILAR,
    divergent_low: float = defaults.CAPTION_DIVERGENT_LOW,
    divergent_high: float = defaults.CAPTION_DIVERGENT_HIGH,
    text_encoder: str = defaults.CAPTION_TEXT_ENCODER,
    cache_dir: Path | None = None,
) -> list[tuple[str, list[CaptionMatch]]]:
    """Caption each query image and return similar or divergent images of ``dataset``.

    The collection's captions are generated by the same model and cached (keyed by model
    weights, items and text encoder), so only the first search over a collection is slow.
    The library call is :class:`pictext.caption.search.CaptionSearch`, the service's too.

    Returns:
        Per query: its generated caption and the matches (id, cosine, caption).

    Raises:
        UnreadableItemsError: a query image could not be read.
    """
    from pictext.caption import CaptionThresholds
    from pictext.caption.search import CaptionSearch
    from pictext.data import load_dataset
    from pictext.store import MemoryCache

    if mode not in ("similar", "divergent"):
        raise UsageError(f"mode must be 'similar' or 'divergent', got {mode!r}", item="mode")
    captioner = load_captioner(model)
    th = CaptionThresholds(similar, divergent_low, divergent_high)
    try:
        search = CaptionSearch.over(
            captioner,
            load_dataset(dataset).items,
            text_encoder,
            thresholds=th,
            cache_dir=cache_dir,
        )
    except EncoderVersionError as err:
        raise _retrain(err) from None
    answers = search.answer(_image_items(images), k, memory=MemoryCache(0))
    return [(a.caption, a.similar if mode == "similar" else a.divergent) for a in answers]


def run_caption_search(
    query: str,
    *,
    mode: str,
    k: int,
    model: Path | None,
    dataset: str | None,
    similar: float = defaults.CAPTION_SIMILAR,
    divergent_low: float = defaults.CAPTION_DIVERGENT_LOW,
    divergent_high: float = defaults.CAPTION_DIVERGENT_HIGH,
    text_encoder: str = defaults.CAPTION_TEXT_ENCODER,
    as_json: bool = False,
) -> None:
    """Body of ``pictext similar|divergent QUERY --by caption``: search and print."""
    check_k(k, name="-k")
    check_encoder_names(text_encoder)
    if model is None:
        raise UsageError("--by caption needs --model CAPTIONER_OR_BUNDLE", item="--model")
    dataset = dataset or bundle_dataset(model)
    if dataset is None:
        raise UsageError(
            "--by caption needs --dataset NAME (or a bundle that names its collection)",
            item="--dataset",
        )
    path = Path(query.removeprefix("file:"))
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "is no such file"
        raise NotFoundError(
            f"{path} {what}: --by caption needs an image file as QUERY", item=str(path)
        )
    [(text, matches)] = search_by_caption(
        [path],
        dataset,
        model,
        mode=mode,
        k=k,
        similar=similar,
        divergent_low=divergent_low,
        divergent_high=divergent_high,
        text_encoder=text_encoder,
    )
    band = f">= {similar:.2f}" if mode == "similar" else f"{divergent_low:.2f}-{divergent_high:.2f}"
    meaning = f"cos = cosine of the generated captions' text embeddings ({mode}: {band})"
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "query": str(path),
                    "caption": text,
                    "model": str(model),
                    "dataset": dataset,
                    "distance": meaning,
                    "hits": [
                        {"rank": i, "id": m.id, "cosine": m.score, "caption": m.caption}
                        for i, m in enumerate(matches, 1)
                    ],
                }
            )
        )
        return
    typer.echo(f"captioner: {model}; collection: {dataset}")
    typer.echo(meaning)
    typer.echo(f"{path}: caption {text!r}; {mode} captions:")
    if not matches:
        typer.echo("  none in this band")
    for i, m in enumerate(matches, 1):
        typer.echo(f"{i:3d}  {m.id:40s}  cos={m.score:.3f}  {m.caption}")


def register(app: typer.Typer) -> None:
    """Add ``caption``, ``caption-train`` and ``caption-eval``."""
    app.command("caption")(caption)
    app.command("caption-train")(caption_train)
    app.command("caption-eval")(caption_eval)
