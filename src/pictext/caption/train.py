"""Teacher-forced training of a caption decoder through the one training loop.

:func:`train_decoder` holds back a seeded share of the pairs (by the split policy of
:func:`pictext.data.split.holdout_rows`, duplicate groups kept together when given), trains
with :func:`pictext.core.train.train_loop` and keeps the epoch that scores best on them.
It takes a :class:`DecoderTraining`, not the captioner's config, so that this module does
not import :mod:`pictext.caption.captioner` (which imports it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from pictext.core.train import LoopConfig

SELECT: tuple[str, ...] = ("overlap", "loss")  # what picks the best epoch on held-back pairs
_MIN_PAIRS_TO_HOLD_BACK = 10  # fewer pairs than this: nothing is held back


@dataclass
class DecoderTraining:
    """How :func:`train_decoder` trains (the captioner fills it from its own config)."""

    epochs: int  # passes over the training pairs
    batch_size: int  # pairs per optimiser step
    lr: float  # AdamW learning rate
    weight_decay: float  # AdamW weight decay
    val_fraction: float  # share of the pairs held back to pick the best epoch (0: last kept)
    select: str  # best epoch by held-back "overlap" (greedy word F1) or "loss"
    patience: int  # stop after this many epochs without a better score (0: never)
    max_len: int  # most words of a greedy caption on the held-back pairs
    seed: int  # held-back pairs and shuffling
    clip_grad_norm: float = 5.0  # clip of the gradients' global norm at every step


@dataclass
class TrainHistory:
    """Per-epoch losses of one fit, for learning curves."""

    train_loss: list[float] = field(default_factory=list)  # mean token cross-entropy per epoch
    val_loss: list[float] = field(default_factory=list)  # on held-back pairs (empty if none)
    val_overlap: list[float] = field(default_factory=list)  # greedy captions' unigram F1 there
    best_epoch: int = -1  # 0-based epoch whose weights were kept
    seconds: float = 0.0  # wall time of the fit


def token_loss(module: nn.Module, image: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of every next token given the true prefix (padding ignored)."""
    width = int((tokens != 0).sum(dim=1).max())
    tokens = tokens[:, :width]
    logits = module(image, tokens[:, :-1])
    return nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1), ignore_index=0
    )


def train_decoder(
    module: nn.Module,
    image: np.ndarray,
    tokens: np.ndarray,
    cfg: DecoderTraining,
    *,
    groups: np.ndarray | None = None,
) -> TrainHistory:
    """Fit ``module`` on image embeddings ``[N, Di]`` and padded token ids ``[N, T]``.

    With ``cfg.val_fraction > 0`` (and at least 10 pairs) a seeded share of the pairs is
    held back and scored after every epoch (by ``cfg.select``: greedy-caption word overlap,
    or token loss); the best epoch's weights are kept and training stops after
    ``cfg.patience`` epochs without a better one. Otherwise all epochs run and the last one
    is kept.

    Args:
        module: a decoder from :func:`pictext.caption.models.build_decoder`.
        image: float32 image embeddings, one row per caption.
        tokens: int64 token ids ``[N, T]``, 0-padded.
        cfg: epochs, optimiser, held-back share and selection.
        groups: duplicate-group id per pair; a group is held back whole or not at all.
    """
    from pictext.core.train import train_loop

    if cfg.select not in SELECT:
        raise ValueError(f"select must be one of {SELECT}, got {cfg.select!r}")
    rng = np.random.default_rng(cfg.seed)
    train_idx, val_idx = _holdout(len(image), cfg.val_fraction, rng, groups)
    x, y = torch.from_numpy(image), torch.from_numpy(tokens)
    set_image_stats(module, image[train_idx])
    if hasattr(module, "set_store"):
        module.set_store(x, y)
        module.exclude_identical = True
    hist = TrainHistory()

    def batches(epoch: int) -> list[torch.Tensor]:
        order = torch.from_numpy(rng.permutation(train_idx))
        return list(order.split(cfg.batch_size))

    def val_score() -> float:
        loss, overlap = _validate(module, x, y, torch.from_numpy(val_idx), cfg.max_len)
        hist.val_loss.append(loss)
        hist.val_overlap.append(overlap)
        return overlap if cfg.select == "overlap" else -loss

    run = train_loop(
        module,
        batches,
        lambda idx: token_loss(module, x[idx], y[idx]),
        _loop_config(cfg),
        val_score if len(val_idx) else None,
    )
    if hasattr(module, "exclude_identical"):
        module.exclude_identical = False
    hist.train_loss, hist.best_epoch, hist.seconds = run.loss, run.best_epoch, run.seconds
    return hist


def _loop_config(cfg: DecoderTraining) -> LoopConfig:
    from pictext.core.train import LoopConfig, config_from

    return config_from(
        LoopConfig,
        cfg,
        optimizer="adamw",
        patience=cfg.patience or None,  # 0: never stop early
        loss_mean="example",  # a pair counts once, whatever its batch
        progress=False,
        desc="captioner",
    )


def _validate(
    module: nn.Module, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor, max_len: int
) -> tuple[float, float]:
    """Token loss and mean unigram F1 of greedy captions on the held-back pairs."""
    from pictext.caption.beam import greedy_decode
    from pictext.caption.bleu import sentence_overlap

    loss = float(token_loss(module, x[idx], y[idx]))
    hyps = greedy_decode(module, x[idx], start=2, end=3, max_len=max_len, banned=(0, 1, 2))
    refs = [[t for t in row if t not in (0, 2, 3)] for row in y[idx].tolist()]
    overlap = [
        sentence_overlap(" ".join(map(str, h.ids)), " ".join(map(str, r)))
        for h, r in zip(hyps, refs, strict=True)
    ]
    return loss, float(np.mean(overlap))


def set_image_stats(module: nn.Module, image: np.ndarray) -> None:
    """Store the training mean and spread of each image feature in the decoder."""
    mean = image.mean(axis=0)
    std = image.std(axis=0) + 1e-6
    module.image_norm.mean.copy_(torch.from_numpy(mean))
    module.image_norm.std.copy_(torch.from_numpy(std))


def _holdout(
    n: int, fraction: float, rng: np.random.Generator, groups: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """``(train, held back)`` rows by the split policy, drawn from ``rng``."""
    from pictext.data.split import holdout_rows

    if fraction <= 0 or n < _MIN_PAIRS_TO_HOLD_BACK:
        rng.permutation(n)  # the seed's first draw shuffles the pairs in every case
        return np.arange(n), np.zeros(0, np.int64)
    held = holdout_rows(np.zeros(n, np.int64), fraction, rng, groups=groups)
    return np.setdiff1d(np.arange(n), held), held
