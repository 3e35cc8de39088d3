"""Audit benchmark on openclipart: planted label errors, pixel-identical groups, cost.

    python bench/audit.py                       # 5% and 10% flipped, seeds 0 1 2
    python bench/audit.py --rates 0.1 --seeds 0 --json-out runs/bench-audit.json

Label errors: a share of the labels is flipped on purpose (each to another class, uniformly),
then each model's out-of-fold probabilities (the audit's folds and head settings) go to
cleanlab's ``find_label_issues``. Fusion is the audit's head (image + title + description +
tags); image-only and text-only are the same head on one modality. Text has label words
stripped, as the classification study does. Scored against the planted flips only:

- precision@50: of the 50 most suspect items (lowest self-confidence), the share flipped;
- recall: of the flipped items, the share cleanlab flags;
- flagged: how many items cleanlab flags (the collection's own label noise counts as wrong).

Duplicates: the groups of items whose rendered pixels are identical and whose labels
differ, and how many of them each duplicate kind of the audit puts in one group.

Cost: seconds of each step of one full audit (``audit_dataset``) on this machine, measured
in one run; the load average is printed beside it (the CPUs may be shared).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from pictext.audit import AuditConfig, audit_dataset
from pictext.audit.labels import find_label_issues, out_of_fold_probs
from pictext.audit.run import head_config, labelled_rows

MODELS = {
    "fusion": ("image", "title", "description", "tags"),
    "image-only": ("image",),
    "text-only": ("title", "description", "tags"),
}


def flip(y: np.ndarray, rate: float, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels with ``rate`` of them moved to another class at random; the flipped rows."""
    rng = np.random.default_rng(1000 + seed)
    rows = rng.choice(len(y), round(rate * len(y)), replace=False)
    noisy = y.copy()
    noisy[rows] = (y[rows] + rng.integers(1, n_classes, len(rows))) % n_classes
    return noisy, rows


def score(noisy: np.ndarray, p: np.ndarray, flipped: np.ndarray, at: int = 50) -> dict:
    found = find_label_issues(noisy, p)
    truth = np.zeros(len(noisy), bool)
    truth[flipped] = True
    top = np.argsort(found.quality, kind="stable")[:at]
    return {
        "p@50": float(truth[top].mean()),
        "recall": float((found.issue & truth).sum() / truth.sum()),
        "flagged": int(found.issue.sum()),
    }


def label_errors(ds, feats, cfg: AuditConfig, rates, seeds) -> list[dict]:
    rows, y, classes = labelled_rows(ds, cfg.folds)
    f = feats.subset(rows)
    out = []
    for rate in rates:
        for seed in seeds:
            noisy, flipped = flip(y, rate, len(classes), seed)
            for model, inputs in MODELS.items():
                t = time.perf_counter()
                head = head_config(AuditConfig(seed=seed), inputs)
                p = out_of_fold_probs(f, noisy, head, folds=cfg.folds, seed=seed, classes=classes)
                row = {"rate": rate, "seed": seed, "model": model, **score(noisy, p, flipped)}
                row["seconds"] = round(time.perf_counter() - t, 1)
                print(json.dumps(row), flush=True)
                out.append(row)
    return out


def pixel_groups(ds) -> list[list[int]]:
    """Groups of 2+ items with identical rendered pixels and more than one label."""
    from pictext.data.errors import ItemError
    from pictext.data.images import load_image

    by = defaultdict(list)
    for i, it in enumerate(ds.items):
        try:
            img = load_image(it, size=64)
        except ItemError:
            continue
        by[hashlib.sha1(img.tobytes() + repr(img.size).encode()).digest()].append(i)
    return [g for g in by.values() if len(g) > 1 and len({ds.items[i].label for i in g}) > 1]


def found_groups(truth: list[list[int]], group: np.ndarray) -> int:
    """Truth groups whose items all share one audit group."""
    return sum(1 for g in truth if group[g[0]] >= 0 and len({int(group[i]) for i in g}) == 1)


def _ms(rows: list[dict], key: str) -> str:
    v = np.array([r[key] for r in rows])
    return f"{v.mean():.3f} ± {v.std():.3f}"


def table(rows: list[dict], title: str, cols: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for c in cols:
        t.add_column(c)
    for r in rows:
        t.add_row(*[str(r[c]) for c in cols])
    Console().print(t)


def label_table(rows: list[dict], rates: list[float], dataset: str) -> None:
    summary = []
    for rate in rates:
        for model in MODELS:
            sel = [r for r in rows if r["rate"] == rate and r["model"] == model]
            if sel:
                summary.append({
                    "flipped": f"{rate:.0%}", "model": model, "seeds": len(sel),
                    "precision@50": _ms(sel, "p@50"),
                    "recall": _ms(sel, "recall"),
                    "flagged": f"{np.mean([r['flagged'] for r in sel]):.0f}",
                })  # fmt: skip
    if summary:
        table(summary, f"Planted label errors on {dataset} (cleanlab on out-of-fold "
              "probabilities; mean ± sd over seeds)",
              ["flipped", "model", "seeds", "precision@50", "recall", "flagged"])  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="openclipart")
    ap.add_argument("--rates", type=float, nargs="+", default=[0.05, 0.10])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--skip-labels", action="store_true", help="duplicates and cost only")
    ap.add_argument("--labels-only", action="store_true", help="planted label errors only")
    ap.add_argument("--json-out", type=Path)
    ap.add_argument("--save", type=Path, help="also save the audit (a pictext-audit folder)")
    ap.add_argument(
        "--rows-from", type=Path, help="print the label table of rows a (partial) run logged"
    )
    args = ap.parse_args()

    from pictext.data import load_dataset
    from pictext.store import embed_dataset

    if args.rows_from:
        lines = args.rows_from.read_text().splitlines()
        rows = [json.loads(ln) for ln in lines if ln.startswith('{"rate"')]
        label_table(rows, sorted({r["rate"] for r in rows}), args.dataset)
        return
    cfg = AuditConfig()
    if args.labels_only:
        ds = load_dataset(args.dataset, strip_label_words=True)
        feats = embed_dataset(ds, cfg.image_encoder, cfg.text_encoder, progress=False)
        label_table(label_errors(ds, feats, cfg, args.rates, args.seeds), args.rates, args.dataset)
        return
    t0 = time.perf_counter()
    result = audit_dataset(args.dataset, cfg)
    cost = {"total": round(time.perf_counter() - t0, 1), **result.seconds}
    load = os.getloadavg()[0]
    if args.save:
        result.save(args.save)
    ds = load_dataset(args.dataset, strip_label_words=True)
    truth = pixel_groups(ds)
    dups = [
        {"kind": k, "groups": g.n_groups, "conflicting": g.n_conflicting,
         "pixel-identical conflicting found": f"{found_groups(truth, g.group)}/{len(truth)}"}
        for k, g in result.duplicates.items()
    ]  # fmt: skip
    hit_any = sum(
        1 for g in truth if any(found_groups([g], d.group) for d in result.duplicates.values())
    )
    dups.append({"kind": "any", "groups": "", "conflicting": "",
                 "pixel-identical conflicting found": f"{hit_any}/{len(truth)}"})  # fmt: skip

    cols = ["kind", "groups", "conflicting", "pixel-identical conflicting found"]
    table(dups, f"Duplicates on {args.dataset}: {len(truth)} pixel-identical groups with "
          "different labels", cols)  # fmt: skip
    cost_rows = [{"step": k, "seconds": f"{v:.1f}"} for k, v in cost.items()]
    table(cost_rows, f"Audit time on {args.dataset}, {len(ds)} items (load average {load:.1f} "
          "on this machine)", ["step", "seconds"])  # fmt: skip
    rows = []
    if not args.skip_labels:
        feats = embed_dataset(ds, cfg.image_encoder, cfg.text_encoder, progress=False)
        rows = label_errors(ds, feats, cfg, args.rates, args.seeds)
    label_table(rows, args.rates, args.dataset)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(
            {"labels": rows, "duplicates": dups, "cost": cost, "load": load,
             "pixel_groups": len(truth)}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
