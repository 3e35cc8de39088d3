"""Classify-and-tag speed: fusion-head training on cached embeddings, and ``tag`` throughput.

    .venv/bin/python bench/classify.py                      # openclipart, all items
    .venv/bin/python bench/classify.py --dataset tuxpaint --tag-items 64
    .venv/bin/python bench/classify.py --dataset tuxpaint --ensemble   # cost of the ensemble

Training: one FusionClassifier (default hyperparameters, early stopping on a 20% val split)
on every labelled item's cached lite0 + USE embeddings, with torch using ``--threads``.
``--ensemble``: what ``pictext train`` saves (:func:`pictext.classify.ensemble.train_ensemble`:
fusion, image-only and text-only heads, tuned linear model, selection on validation) against
the fusion head alone, on the split ``pictext train`` uses: fit seconds, saved size and the
head's answer latency (one row, and the whole test side) on cached embeddings, paired in one
process. Tagging: the library's tag path (``embed_for_model`` then ``tag``, what ``tag_items`` runs)
on a batch of items from the dataset with a fresh (empty) embedding cache, so encoding is
really paid; the time is split into encoding and the head.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from pictext.classify.fusion import FusionClassifier, FusionConfig
from pictext.classify.runs import load_labelled
from pictext.classify.tagging import embed_for_model, tag, tag_items
from pictext.data.split import stratified_split
from pictext.store import embed_dataset


def bench_training(
    name: str, threads: int, epochs: int
) -> tuple[dict[str, float], FusionClassifier]:
    """Seconds to fit the fusion head on all cached embeddings of ``name``."""
    import torch

    torch.set_num_threads(threads)
    ds = load_labelled(name)
    feats = embed_dataset(ds, progress=False)  # cached: only reads
    y = ds.labels()
    s = stratified_split(y, holdout=0.2, seed=0)  # train on 80%, stop early on 10%
    cfg = FusionConfig(epochs=epochs)
    t0 = time.perf_counter()
    clf = FusionClassifier(cfg).fit(
        feats.subset(s.train), y[s.train], feats.subset(s.val), y[s.val], classes=ds.classes
    )
    fit_s = time.perf_counter() - t0
    h = clf.history_
    return {
        "items": len(s.train),
        "epochs run": len(h.loss),
        "fit s": fit_s,
        "s / epoch": fit_s / max(len(h.loss), 1),
    }, clf


def bench_tag(name: str, clf: FusionClassifier, n: int, seed: int = 0) -> dict[str, float]:
    """items/s of the tag path on ``n`` random items, with an empty cache."""
    ds = load_labelled(name)
    idx = np.random.default_rng(seed).choice(len(ds), min(n, len(ds)), replace=False)
    items = [ds.items[int(i)] for i in idx]
    with tempfile.TemporaryDirectory() as warm:
        tag_items(clf, items[:2], cache_dir=warm)  # warm up the encoders
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        feats, failures = embed_for_model(clf, items, cache_dir=tmp)
        t1 = time.perf_counter()
        tag(clf, feats)
        t2 = time.perf_counter()
    total, encode_s, head_s = t2 - t0, t1 - t0, t2 - t1
    return {
        "items": len(items),
        "unreadable": len(failures),
        "items/s": len(items) / total,
        "encode share %": 100 * encode_s / total,
        "head share %": 100 * head_s / total,
        "head items/s": len(items) / max(head_s, 1e-9),
    }


def _folder_bytes(path) -> int:
    from pathlib import Path

    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def _latency(model, feats, repeats: int = 20) -> tuple[float, float]:
    """Milliseconds per call of ``predict_proba`` on one row, and on all of ``feats``."""
    one = feats.subset(np.arange(1))
    model.predict_proba(one)  # warm up
    t0 = time.perf_counter()
    for _ in range(repeats):
        model.predict_proba(one)
    t1 = time.perf_counter()
    model.predict_proba(feats)
    t2 = time.perf_counter()
    return 1000 * (t1 - t0) / repeats, 1000 * (t2 - t1)


def bench_ensemble(name: str, threads: int, seed: int = 0) -> dict[str, dict[str, float]]:
    """Fit seconds, saved bytes, answer latency and test top-1: fusion head vs ensemble."""
    import torch

    from pictext.classify.ensemble import train_ensemble
    from pictext.classify.routed import fit_members
    from pictext.classify.table3 import classify_split

    torch.set_num_threads(threads)
    ds = load_labelled(name)
    feats = embed_dataset(ds, progress=False)
    y = ds.labels()
    s = classify_split(ds, seed=seed).rows([it.id for it in ds.items])
    tr, va, te = feats.subset(s.train), feats.subset(s.val), feats.subset(s.test)
    cfg = FusionConfig(seed=seed)
    out = {}
    for label, fit in (
        ("fusion head", lambda: fit_members(cfg, 1, tr, y[s.train], va, y[s.val],
                                            classes=ds.classes)[0]),
        ("ensemble", lambda: train_ensemble(cfg, tr, y[s.train], va, y[s.val],
                                            classes=ds.classes)),
    ):  # fmt: skip
        t0 = time.perf_counter()
        model = fit()
        fit_s = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            model.save(f"{tmp}/m")
            size = _folder_bytes(f"{tmp}/m")
        one_ms, batch_ms = _latency(model, te)
        out[label] = {
            "fit s": fit_s,
            "saved MB": size / 1e6,
            "1-row answer ms": one_ms,
            f"test side ({te.n} rows) ms": batch_ms,
            "test top-1": 100 * float((model.predict(te) == y[s.test]).mean()),
        }
        if label == "ensemble":
            out[label]["weights"] = model.weights  # type: ignore[assignment]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dataset", default="openclipart")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for training")
    ap.add_argument("--epochs", type=int, default=200, help="maximum epochs (early stopping)")
    ap.add_argument("--tag-items", type=int, default=128, help="batch size of the tag benchmark")
    ap.add_argument("--ensemble", action="store_true", help="cost of the ensemble vs the head")
    args = ap.parse_args()
    if args.ensemble:
        res = bench_ensemble(args.dataset, args.threads)
        table = Table(title=f"ensemble cost: {args.dataset} (one process, paired)")
        table.add_column("measure")
        for label in res:
            table.add_column(label, justify="right")
        head, ens = res["fusion head"], res["ensemble"]
        for k in head:
            table.add_row(k, f"{head[k]:.2f}", f"{ens[k]:.2f}")
        table.add_row("weights", "fusion 1.0", str(ens["weights"]))
        Console().print(table)
        return
    train, clf = bench_training(args.dataset, args.threads, args.epochs)
    tag = bench_tag(args.dataset, clf, args.tag_items)
    table = Table(title=f"classify bench: {args.dataset}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for prefix, d in (("train", train), ("tag", tag)):
        for k, v in d.items():
            table.add_row(f"{prefix}: {k}", f"{v:.2f}" if isinstance(v, float) else str(v))
    Console().print(table)


if __name__ == "__main__":
    main()
