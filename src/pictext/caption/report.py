"""Files written by ``pictext caption-eval``: BLEU and retrieval tables, examples, models."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pictext.caption import CaptionThresholds
    from pictext.data.dataset import Dataset
    from pictext.store.features import Features

BLEU_NOTE = (
    "References are single and short (one caption per image, a few words), so BLEU is low "
    "for every system: a synonym or a different but correct word order earns nothing, and a "
    "caption of four words has one 4-gram, so BLEU-3/4 drop to zero unless the caption is "
    "copied exactly. BLEU-3/4 can even exceed BLEU-1 here: 3- and 4-gram precisions are "
    "taken only over the few captions long enough to have them, which are mostly copied "
    "verbatim (e.g. 'the sign for the letter in american sign language'), while the "
    "brevity penalty is the same for every n. Compare rows with each other, not with BLEU "
    "published on "
    "five-reference datasets (Flickr8k, COCO). 'new captions' = test images whose reference "
    "caption never occurs in training; 'copied' = generated captions identical to a "
    "training caption."
)


def write_caption_report(
    ds: Dataset,
    feats: Features,
    result: dict[str, Any],
    out: Path,
    *,
    text_encoder: str,
    thresholds: CaptionThresholds,
    k: int,
    cache_dir: Path | None,
    log: Callable[[str], None],
) -> list[Path]:
    """Write models, ``split.json`` (the split used), ``bleu.md/json``,
    ``retrieval.md/json``, ``captions.json`` (held-out captions of every system) and
    ``examples.png`` to ``out``."""
    from pictext.caption.retrieval_eval import (
        caption_retrieval_rows,
        format_retrieval_table,
        image_retrieval_rows,
    )
    from pictext.caption.runs import format_bleu_table
    from pictext.core.paths import cache_dir as default_cache
    from pictext.encoders import create_encoder

    out.mkdir(parents=True, exist_ok=True)
    result["split"].save(out / "split.json")
    for arch, model in result["models"].items():
        model.save(out / "models" / arch)
    bleu = format_bleu_table(result["rows"])
    head = (
        f"# Captions on {ds.name}: {len(result['train'])} training, "
        f"{len(result['test'])} held-out images\n\n"
    )
    _write(
        out / "bleu.md", f"{head}{bleu}\n\nBLEU x 100, corpus level (sacrebleu).\n\n{BLEU_NOTE}\n"
    )
    _write(
        out / "bleu.json",
        json.dumps({"config": result["config"], "rows": result["rows"]}, indent=2),
    )
    log(bleu)
    labels = ds.labels()
    tenc = create_encoder(text_encoder)
    root = Path(cache_dir) / "captions" if cache_dir else default_cache("captions")
    rows = image_retrieval_rows(feats, labels, result["train"], result["test"], k=k)
    for arch, model in result["models"].items():
        rows += caption_retrieval_rows(
            model,
            arch,
            feats,
            labels,
            result["train"],
            result["test"],
            result["references"],
            tenc,
            k=k,
            thresholds=thresholds,
            cache_dir=str(root),
        )
    table = format_retrieval_table(rows, log)
    _write(
        out / "retrieval.md",
        f"# Retrieval by caption on {ds.name}: queries = held-out "
        f"images, collection = training images; relevant = same class\n\n{table}\n",
    )
    _write(out / "retrieval.json", json.dumps(rows, indent=2))
    test_ids = [feats.ids[int(i)] for i in result["test"]]
    _write(
        out / "captions.json",
        json.dumps(
            {
                "ids": test_ids,
                "references": [result["references"][int(i)] for i in result["test"]],
                "captions": result["captions"],
            },
            indent=1,
        ),
    )
    png = _examples(ds, result, out / "examples.png")
    return [
        out / "bleu.md",
        out / "retrieval.md",
        out / "captions.json",
        png,
        out / "models",
        out / "split.json",
    ]


def _examples(ds: Dataset, result: dict[str, Any], path: Path) -> Path:
    from pictext.caption.plot_examples import pick_examples, plot_caption_examples
    from pictext.data.images import load_image

    test = result["test"]
    refs = [result["references"][int(i)] for i in test]
    systems = {
        name: caps
        for name, caps in result["captions"].items()
        if "greedy" in name or name == "nearest caption"
    }
    first = next(iter(systems))
    test_items = [ds.items[int(i)] for i in test]
    idx = pick_examples(systems[first], refs, groups=[it.label for it in test_items])
    items = [test_items[i] for i in idx]
    return plot_caption_examples(
        [load_image(it, size=160) for it in items],
        {name: [caps[i] for i in idx] for name, caps in systems.items()},
        [refs[i] for i in idx],
        path,
        title=f"{ds.name}: held-out images, top row best and bottom row worst by '{first}' "
        "(unigram F1 with the reference)",
        labels=[_label(it) for it in items],
    )


def _label(item: object) -> str:
    name = Path(item.image).stem if item.image else item.id  # type: ignore[attr-defined]
    name = name if len(name) <= 22 else name[:20] + "..."
    return f"{item.label}  ({name})"  # type: ignore[attr-defined]


def _write(path: Path, text: str) -> None:
    from pictext.core.atomic import atomic_write_text

    atomic_write_text(path, text)
