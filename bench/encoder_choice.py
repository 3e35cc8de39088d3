"""Choosing the towers on validation: single encoders against composites (``a+b``).

    python bench/encoder_choice.py                      # tuxpaint, openclipart stripped; seed 0
    python bench/encoder_choice.py --datasets tuxpaint --timing --json-out runs/choice.json

For each dataset (openclipart with label words stripped, as Table 3 reads it), the Table-3
split of each seed is drawn and the Table-3 head (``FusionConfig()``) is trained on train,
early-stopped on validation, and scored on **validation** only: the image-only head for
lite0, lite2 and lite0+lite2 (with use's text present but unread), the text-only head for
use, minilm and use+minilm, and the fusion head for the pairs below. The test sets are not
read, so the table can choose a default. Head size is its parameter count.

``--timing``: preprocessing + network per item, one thread, each encoder's rounds interleaved
with the others' on the same inputs (64 tuxpaint images decoded once; 512 distinct openclipart
texts), the median round kept: the ratios, not the absolute times, are what carries over.

Embeddings come from the cache (``PICTEXT_CACHE``); what is missing is embedded first.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

L0, L2, USE, ML = "efficientnet-lite0", "efficientnet-lite2", "use", "minilm"
IMAGES = (L0, L2, f"{L0}+{L2}")
TEXTS = (USE, ML, f"{USE}+{ML}")
PAIRS = (
    (L0, USE),
    (L2, USE),
    (f"{L0}+{L2}", USE),
    (L0, ML),
    (L0, f"{USE}+{ML}"),
    (L2, ML),
    (f"{L0}+{L2}", f"{USE}+{ML}"),
)
STRIP = {"tuxpaint": False, "openclipart": True}


def validation_rows(name: str, seeds: tuple[int, ...]) -> list[dict[str, Any]]:
    """One row per (seed, head): validation top-1 (%), head parameters, seconds."""
    from pictext.classify.fusion import FusionClassifier
    from pictext.classify.metrics import topk_accuracy
    from pictext.classify.runs import load_labelled
    from pictext.classify.table3 import Table3Config, draw_splits
    from pictext.store import embed_dataset
    from pictext.store.inputs import IMAGE_ONLY

    ds = load_labelled(name, strip_label_words=STRIP.get(name, False))
    cfg = Table3Config(seeds=seeds)
    ids, y = [it.id for it in ds.items], ds.labels()
    feats: dict[tuple[str, str], Any] = {}
    jobs = [("image-only", ie, USE, IMAGE_ONLY) for ie in IMAGES]
    jobs += [("text-only", L0, te, cfg.text_inputs) for te in TEXTS]
    jobs += [("fusion", ie, te, (*IMAGE_ONLY, *cfg.text_inputs)) for ie, te in PAIRS]
    rows = []
    for seed, recorded in zip(seeds, draw_splits(ds, cfg), strict=True):
        s = recorded.rows(ids)
        for kind, ie, te, inputs in jobs:
            if (ie, te) not in feats:
                feats[(ie, te)] = embed_dataset(ds, ie, te, progress=False)
            f, start = feats[(ie, te)], time.perf_counter()
            head = dataclasses.replace(cfg.head, inputs=tuple(inputs), seed=1000 * seed)
            clf = FusionClassifier(head).fit(
                f.subset(s.train), y[s.train], f.subset(s.val), y[s.val], classes=ds.classes
            )
            p = clf.predict_proba(f.subset(s.val))
            rows.append(
                {
                    "dataset": name,
                    "seed": seed,
                    "head": kind,
                    "image": ie if kind != "text-only" else "",
                    "text": te if kind != "image-only" else "",
                    "val_top1": 100 * topk_accuracy(p, y[s.val], 1),
                    "n_val": len(s.val),
                    "params": sum(int(q.numel()) for q in clf.net_.parameters()),
                    "seconds": time.perf_counter() - start,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def _interleaved(encoders: dict[str, Any], inputs: list[Any], rounds: int = 4) -> dict[str, float]:
    for enc in encoders.values():
        enc.prepare()
        enc.encode(inputs[:8])  # warm-up
    times: dict[str, list[float]] = {k: [] for k in encoders}
    for r in range(rounds):
        for k in list(encoders)[:: 1 if r % 2 == 0 else -1]:
            start = time.perf_counter()
            encoders[k].encode(inputs)
            times[k].append(1000 * (time.perf_counter() - start) / len(inputs))
    return {k: statistics.median(v) for k, v in times.items()}


def timing() -> dict[str, dict[str, float]]:
    """ms per item of each tower, measured interleaved in this run (one thread)."""
    from pictext.data import load_dataset
    from pictext.data.images import load_image
    from pictext.encoders.registry import create_encoder

    images = [load_image(it) for it in load_dataset("tuxpaint").items[:64]]
    oc = load_dataset("openclipart", strip_label_words=True)
    texts = list(dict.fromkeys(it.text for it in oc.items if it.text.strip()))[:512]
    return {
        "image": _interleaved({k: create_encoder(k, threads=1) for k in (L0, L2)}, images),
        "text": _interleaved({k: create_encoder(k, threads=1) for k in (USE, ML)}, texts),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: validation top-1 mean over the seeds run, per dataset column."""
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    heads = list(dict.fromkeys((r["head"], r["image"], r["text"]) for r in rows))
    lines = [
        "| head | image | text | " + " | ".join(f"{d} val top-1" for d in datasets) + " | params |",
        "|---|---|---|" + "---|" * len(datasets) + "---|",
    ]
    for head in heads:
        got = [r for r in rows if (r["head"], r["image"], r["text"]) == head]
        cells = []
        for d in datasets:
            vals = [r["val_top1"] for r in got if r["dataset"] == d]
            cells.append(f"{statistics.mean(vals):.1f}" if vals else "")
        lines.append(f"| {' | '.join(head)} | {' | '.join(cells)} | {got[0]['params']:,} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="tuxpaint,openclipart")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--timing", action="store_true", help="also time the towers")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    seeds = tuple(int(s) for s in args.seeds.split(","))
    rows = [r for d in args.datasets.split(",") for r in validation_rows(d, seeds)]
    print(table(rows))
    out: dict[str, Any] = {"rows": rows, "load_average": os.getloadavg()}
    if args.timing:
        out["ms_per_item"] = timing()
        for kind, ms in out["ms_per_item"].items():
            base = ms[L0 if kind == "image" else USE]
            print(kind, ", ".join(f"{k} {v:.1f} ms (x{v / base:.2f})" for k, v in ms.items()))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
