"""Classify-and-tag speed: fusion-head training on cached embeddings, and ``tag`` throughput.

    .venv/bin/python bench/classify.py                      # openclipart, all items
    .venv/bin/python bench/classify.py --dataset tuxpaint --tag-items 64

Training: one FusionClassifier (default hyperparameters, early stopping on a 20% val split)
on every labelled item's cached lite0 + USE embeddings, with torch using ``--threads``.
Tagging: the library's tag path (``embed_for_model`` then ``tag``, what ``tag_items`` runs)
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


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dataset", default="openclipart")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for training")
    ap.add_argument("--epochs", type=int, default=200, help="maximum epochs (early stopping)")
    ap.add_argument("--tag-items", type=int, default=128, help="batch size of the tag benchmark")
    args = ap.parse_args()
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
