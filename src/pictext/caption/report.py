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
    from pictext.caption.tables import CAPTION_NOTE, format_caption_table, format_consensus_grid
    from pictext.core.paths import cache_dir as default_cache
    from pictext.encoders import create_encoder

    out.mkdir(parents=True, exist_ok=True)
    result["split"].save(out / "split.json")
    for arch, model in result["models"].items():
        model.save(out / "models" / arch)
    table = format_caption_table(result["rows"])
    grid = format_consensus_grid(result["consensus_grid"])
    head = (
        f"# Captions on {ds.name}: {len(result['train'])} training, {len(result['val'])} "
        f"validation, {len(result['test'])} test images\n\n"
    )
    grid_md = f"\n\n## Consensus captioner on validation\n\n{grid}\n" if grid else "\n"
    _write(out / "bleu.md", f"{head}{table}\n\n{CAPTION_NOTE}\n{grid_md}")
    _write(out / "bleu.json", json.dumps(caption_record(result), indent=2))
    log(table)
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
    png = caption_examples(ds, result, out / "examples.png")
    return [
        out / "bleu.md",
        out / "retrieval.md",
        out / "captions.json",
        png,
        out / "models",
        out / "split.json",
    ]


def caption_record(result: dict[str, Any]) -> dict[str, Any]:
    """What ``bleu.json`` keeps of a run: config, rows, the default and the consensus grid."""
    keys = ("config", "rows", "default", "consensus_grid")
    return {k: result[k] for k in keys}


def caption_examples(ds: Dataset, result: dict[str, Any], path: Path) -> Path:
    """``examples.png``: held-out test images, the best and worst of the default captioner,
    with the default's, the report merge model's and the nearest caption side by side."""
    from pictext.caption.plot_examples import pick_examples, plot_caption_examples
    from pictext.caption.registry import LABELS
    from pictext.caption.runs import REPORT_KEY
    from pictext.caption.text import clean_caption
    from pictext.data.images import load_image

    test = result["test"]
    refs = [result["references"][int(i)] for i in test]
    default = result["default"]
    shown = [default, REPORT_KEY, "nearest caption"]
    systems = {
        LABELS.get(name, name): result["captions"][name]
        for name in dict.fromkeys(shown)
        if name in result["captions"]
    }
    first = next(iter(systems))
    test_items = [ds.items[int(i)] for i in test]
    clean = [clean_caption(c) for c in systems[first]]
    idx = pick_examples(clean, refs, groups=[it.label for it in test_items])
    items = [test_items[i] for i in idx]
    return plot_caption_examples(
        [load_image(it, size=160) for it in items],
        {name: [caps[i] for i in idx] for name, caps in systems.items()},
        [refs[i] for i in idx],
        path,
        title=f"{ds.name}: test images, top row best and bottom row worst by '{first}' "
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
