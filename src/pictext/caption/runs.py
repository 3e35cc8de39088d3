"""Library side of ``pictext caption-train`` / ``caption-eval``: references, split, BLEU table.

References are single and short (a tuxpaint description, an openclipart title with its
description when it has one), so BLEU is low for every system and BLEU-3/4 are often zero:
one reference cannot reward a synonym, and a four-word caption has one 4-gram. The table
therefore sets each model beside two baselines on the same held-out images.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.caption.bleu import (
    bleu_scores,
    caption_stats,
    most_frequent_caption,
    nearest_caption,
)
from pictext.caption.text import clean_caption
from pictext.core import defaults

if TYPE_CHECKING:
    from pictext.caption.captioner import Captioner
    from pictext.data.dataset import Dataset
    from pictext.data.split import DatasetSplit, Split
    from pictext.store.features import Features

FIELDS: tuple[str, ...] = ("auto", "description", "title", "title+description")


@dataclass
class CaptionRunConfig:
    """One caption experiment: what to train, how to split, how to decode."""

    archs: tuple[str, ...] = ("merge", "transformer", "retrieval")  # decoders to compare
    field: str = "auto"  # reference text: see reference_captions
    holdout: float = defaults.CAPTION_HOLDOUT  # share of each class held out (val + test)
    seed: int = defaults.SPLIT_SEED  # split, initialisation and shuffling seed
    epochs: int = defaults.CAPTION_EPOCHS  # most passes (best epoch on held-back pairs kept)
    max_len: int = 16  # most words per caption
    min_count: int = 2  # vocabulary minimum count
    beam_size: int = 3  # beam width for the beam-search rows
    threads: int = 1  # torch CPU threads


def reference_captions(dataset: Dataset, field: str = "auto") -> list[str]:
    """Cleaned reference caption per item.

    Args:
        dataset: The items.
        field: ``description``; ``title``; ``title+description`` (the description appended
            when it adds words); ``auto``: description for tuxpaint (its titles are file
            names), title+description otherwise.
    """
    if field not in FIELDS:
        raise ValueError(f"unknown caption field {field!r}; use one of {FIELDS}")
    if field == "auto":
        field = "description" if dataset.name == "tuxpaint" else "title+description"
    out = []
    for item in dataset.items:
        title, desc = clean_caption(item.title), clean_caption(item.description)
        if field == "description":
            out.append(desc)
        elif field == "title":
            out.append(title)
        else:
            out.append(title if not desc or desc == title else f"{title} {desc}".strip())
    return out


def caption_sides(split: Split, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Train and test rows of a split: its val and test sides together are the test set.

    The split is drawn by :func:`pictext.data.split.split_dataset` (stratified by class,
    duplicate groups on one side). Only ``usable`` rows are returned.
    """
    test = np.sort(np.concatenate([split.val, split.test]))
    return split.train[usable[split.train]], test[usable[test]]


def bleu_row(
    name: str,
    decoding: str,
    hyps: list[str],
    refs: list[str],
    train_refs: list[str],
    seconds: float | None = None,
) -> dict[str, Any]:
    """One line of the BLEU table: all test images, and those whose caption is new."""
    seen = set(train_refs)
    novel = [i for i, r in enumerate(refs) if r not in seen]
    row: dict[str, Any] = {"model": name, "decoding": decoding}
    row.update(bleu_scores(hyps, refs))
    if novel:
        sub = bleu_scores([hyps[i] for i in novel], [refs[i] for i in novel])
        row.update({f"{k}_novel": v for k, v in sub.items()})
    row.update(caption_stats(hyps, train_refs))
    row["captions_per_s"] = len(hyps) / seconds if seconds else None
    return row


def run_captions(
    dataset: Dataset,
    feats: Features,
    cfg: CaptionRunConfig,
    log: Callable[[str], None] = print,
    *,
    split: DatasetSplit | None = None,
) -> dict[str, Any]:
    """Train each decoder on the train side and score all systems on the test side.

    Args:
        dataset: the items (their order matches ``feats``).
        feats: their image embeddings.
        cfg: decoders, reference field, holdout, seed and decoding.
        log: called with progress lines.
        split: the split to use; default drawn by
            :func:`pictext.data.split.split_dataset` from ``cfg.holdout`` and ``cfg.seed``.

    Returns:
        ``rows`` (the BLEU table), ``models`` (fitted captioners), ``captions`` (system ->
        test captions), ``train`` / ``test`` indices, ``split`` (the
        :class:`~pictext.data.split.DatasetSplit` to save), ``references`` and ``config``.
    """
    from pictext.data.split import duplicate_groups, split_dataset

    if feats.image is None or feats.image_mask is None:
        raise ValueError(f"{dataset.name}: features have no image embeddings")
    refs = reference_captions(dataset, cfg.field)
    usable = feats.image_mask & np.array([bool(r) for r in refs])
    groups = duplicate_groups(dataset)
    if split is None:
        split = split_dataset(dataset, holdout=cfg.holdout, seed=cfg.seed, groups=groups)
    train, test = caption_sides(split.rows([it.id for it in dataset.items]), usable)
    x, r = feats.image, np.array(refs, dtype=object)
    tr_refs, te_refs = list(r[train]), list(r[test])
    log(
        f"{dataset.name}: {len(train)} train, {len(test)} test images "
        f"({int((~usable).sum())} without image or caption left out)"
    )
    rows, models, captions = [], {}, {}
    for arch in cfg.archs:
        models[arch] = _fit_decoder(
            arch, x[train], tr_refs, feats.image_encoder, cfg, log, groups[train]
        )
        for beam in sorted({1, cfg.beam_size}):
            t0 = time.perf_counter()
            hyps = models[arch].predict(x[test], beam_size=beam)
            decoding = "greedy" if beam == 1 else f"beam {beam}"
            rows.append(bleu_row(arch, decoding, hyps, te_refs, tr_refs, time.perf_counter() - t0))
            captions[f"{arch} {decoding}"] = hyps
    baselines = {
        "nearest caption": nearest_caption(x[train], tr_refs, x[test]),
        "most frequent caption": most_frequent_caption(tr_refs, len(test)),
    }
    for name, hyps in baselines.items():
        rows.append(bleu_row(name, "-", hyps, te_refs, tr_refs))
        captions[name] = hyps
    return {
        "rows": rows,
        "models": models,
        "captions": captions,
        "train": train,
        "test": test,
        "split": split,
        "references": refs,
        "config": asdict(cfg),
    }


def _fit_decoder(
    arch: str,
    image: np.ndarray,
    refs: list[str],
    image_encoder: str | None,
    cfg: CaptionRunConfig,
    log: Callable[[str], None],
    groups: np.ndarray | None = None,
) -> Captioner:
    """Fit one decoder; its early-stopping rows keep duplicate ``groups`` together."""
    from pictext.caption.captioner import Captioner

    model = Captioner(
        arch=arch,
        epochs=cfg.epochs,
        max_len=cfg.max_len,
        min_count=cfg.min_count,
        seed=cfg.seed,
        threads=cfg.threads,
    ).fit(image, refs, image_encoder=image_encoder, clean=False, groups=groups)
    log(
        f"  {arch}: {len(model.vocab)} words, best epoch {model.history.best_epoch + 1}, "
        f"{model.history.seconds:.0f}s"
    )
    return model


def format_bleu_table(rows: list[dict[str, Any]]) -> str:
    """The BLEU rows as a Markdown table (scores x 100)."""
    head = (
        "| system | decoding | BLEU-1 | BLEU-2 | BLEU-3 | BLEU-4 | BLEU-1 / BLEU-2 new "
        "captions | distinct | copied | words | captions/s |"
    )
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        rate = f"{r['captions_per_s']:.0f}" if r.get("captions_per_s") else "-"
        novel = (
            f"{100 * r['bleu1_novel']:.1f} / {100 * r['bleu2_novel']:.1f}"
            if "bleu1_novel" in r
            else "-"
        )
        lines.append(
            f"| {r['model']} | {r['decoding']} | "
            + " | ".join(f"{100 * r[f'bleu{n}']:.1f}" for n in range(1, 5))
            + f" | {novel} | {100 * r['distinct']:.0f}% | {100 * r['copied']:.0f}% | "
            f"{r['mean_words']:.1f} | {rate} |"
        )
    return "\n".join(lines)
