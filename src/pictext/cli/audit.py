"""``pictext audit DATASET``: suspected label errors, duplicates and uniqueness, saved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pictext.cli.show import print_audit
from pictext.core import defaults


def audit(
    dataset: Annotated[
        str, typer.Argument(help="Packaged name, folder, WebVision tree or manifest.")
    ],
    out: Annotated[Path, typer.Option(help="Folder the audit is saved in.")] = Path("runs/audit"),
    image_encoder: Annotated[str, typer.Option(help="Image tower.")] = defaults.IMAGE_ENCODER,
    text_encoder: Annotated[str, typer.Option(help="Text tower.")] = defaults.TEXT_ENCODER,
    folds: Annotated[int, typer.Option(min=2, help="Folds of the out-of-fold heads.")] = 5,
    seed: Annotated[int, typer.Option(help="Seeds the folds and the heads.")] = 0,
    label_errors: Annotated[
        bool, typer.Option(help="Look for label errors (trains one fusion head per fold).")
    ] = True,
    label_method: Annotated[
        str,
        typer.Option(
            help="Label probabilities: heads (out-of-fold fusion heads), knn (neighbour votes "
            "of the audit's k-NN graph) or auto (heads up to 10,000 labelled items)."
        ),
    ] = "auto",
    knn_method: Annotated[
        str,
        typer.Option(help="The k-NN graph: exact, ivf (FAISS) or auto (exact up to 10,000 items)."),
    ] = "auto",
    strip_label_words: Annotated[
        bool, typer.Option(help="Remove label words from the text first, as the study does.")
    ] = True,
    show: Annotated[int, typer.Option(min=0, help="Suspects and conflicts to list.")] = 10,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Find suspected label errors (out-of-fold fusion + confident learning), duplicates
    (bytes, perceptual hash, embedding) with label conflicts, and a uniqueness score."""
    from pictext.audit import AuditConfig, audit_dataset

    cfg = AuditConfig(
        image_encoder=image_encoder,
        text_encoder=text_encoder,
        folds=folds,
        seed=seed,
        label_errors=label_errors,
        label_method=label_method,
        knn_method=knn_method,
        strip_label_words=strip_label_words,
    )
    result = audit_dataset(dataset, cfg, progress=not json_out)
    result.save(out)
    if json_out:
        print(json.dumps(result.summary() | {"saved": str(out)}))
        return
    print_audit(result, dataset, out, show)


def register(app: typer.Typer) -> None:
    """Add ``pictext audit``."""
    app.command("audit")(audit)
