"""``pictext caption | caption-train | caption-eval``.

Caption search (``pictext similar --by caption``) is
:meth:`pictext.bundle.model.Model.caption_search`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pictext.bundle.parts import check_encoder_names, open_model
from pictext.cli.errors import report_batch
from pictext.core import defaults
from pictext.data.item import Item
from pictext.encoders.registry import EncoderVersionError
from pictext.store.failures import Failure

if TYPE_CHECKING:
    from pictext.caption import Decoding

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
    try:
        texts = open_model(model, "captioner").caption(_image_items(images), beam=beam)
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
    from pictext.caption.jobs import train_captioner
    from pictext.caption.runs import CaptionRunConfig

    check_encoder_names(image_encoder)
    cfg = CaptionRunConfig(
        archs=_archs(arch),
        field=field,
        holdout=holdout,
        seed=seed,
        epochs=epochs,
        text_encoder=text_encoder,
    )
    trained = train_captioner(
        dataset, cfg, image_encoder=image_encoder, cache_dir=cache_dir, log=typer.echo
    )
    trained.save(out)
    typer.echo(trained.describe())
    extra = "" if trained.refit else " and its examples.png"
    typer.echo(f"saved {out}{extra}")


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
    from pictext.caption.jobs import train_captioner
    from pictext.caption.report import write_caption_report
    from pictext.caption.runs import CaptionRunConfig

    check_encoder_names(image_encoder, text_encoder)
    cfg = CaptionRunConfig(
        archs=_archs(arch),
        field=field,
        holdout=holdout,
        seed=seed,
        epochs=epochs,
        decoding=_decoding(beam),
        text_encoder=text_encoder,
    )
    trained = train_captioner(
        dataset, cfg, image_encoder=image_encoder, cache_dir=cache_dir, log=typer.echo
    )
    th = CaptionThresholds(similar, divergent_low, divergent_high)
    files = write_caption_report(
        trained.dataset,
        trained.features,
        trained.result,
        out,
        text_encoder=text_encoder,
        thresholds=th,
        k=k,
        cache_dir=cache_dir,
        log=typer.echo,
    )
    typer.echo("wrote " + ", ".join(str(p) for p in files))


def register(app: typer.Typer) -> None:
    """Add ``caption``, ``caption-train`` and ``caption-eval``."""
    app.command("caption")(caption)
    app.command("caption-train")(caption_train)
    app.command("caption-eval")(caption_eval)
