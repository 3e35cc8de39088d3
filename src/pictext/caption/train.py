"""Teacher-forced training of a caption decoder, keeping the best epoch on held-back pairs."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from pictext.caption.captioner import CaptionerConfig


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
    module: nn.Module, image: np.ndarray, tokens: np.ndarray, cfg: CaptionerConfig
) -> TrainHistory:
    """Fit ``module`` on image embeddings ``[N, Di]`` and padded token ids ``[N, T]``.

    With ``cfg.val_fraction > 0`` a seeded share of the pairs is held back and scored after
    every epoch (by ``cfg.select``: greedy-caption word overlap, or token loss); the best
    epoch's weights are kept and training stops after ``cfg.patience`` epochs without a
    better one. Otherwise all epochs run and the last one is kept.
    """
    rng = np.random.default_rng(cfg.seed)
    train_idx, val_idx = _holdout(len(image), cfg.val_fraction, rng)
    x, y = torch.from_numpy(image), torch.from_numpy(tokens)
    set_image_stats(module, image[train_idx])
    if hasattr(module, "set_store"):
        module.set_store(x, y)
        module.exclude_identical = True
    opt = torch.optim.AdamW(module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    hist, best, best_state, t0 = TrainHistory(), -float("inf"), None, time.perf_counter()
    for epoch in range(cfg.epochs):
        order = torch.from_numpy(rng.permutation(train_idx))
        hist.train_loss.append(_epoch(module, opt, x, y, order, cfg.batch_size))
        score = -hist.train_loss[-1]
        if len(val_idx):
            loss, overlap = _validate(module, x, y, torch.from_numpy(val_idx), cfg.max_len)
            hist.val_loss.append(loss)
            hist.val_overlap.append(overlap)
            score = overlap if cfg.select == "overlap" else -loss
        if score > best or not len(val_idx):
            best, best_state, hist.best_epoch = score, copy.deepcopy(module.state_dict()), epoch
        elif cfg.patience and epoch - hist.best_epoch >= cfg.patience:
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    if hasattr(module, "exclude_identical"):
        module.exclude_identical = False
    hist.seconds = time.perf_counter() - t0
    return hist


def _epoch(
    module: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    order: torch.Tensor,
    batch_size: int,
) -> float:
    module.train()
    total = 0.0
    for lo in range(0, len(order), batch_size):
        idx = order[lo : lo + batch_size]
        loss = token_loss(module, x[idx], y[idx])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(module.parameters(), 5.0)
        opt.step()
        total += float(loss.detach()) * len(idx)
    return total / max(len(order), 1)


@torch.no_grad()
def _validate(
    module: nn.Module, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor, max_len: int
) -> tuple[float, float]:
    """Token loss and mean unigram F1 of greedy captions on the held-back pairs."""
    from pictext.caption.bleu import sentence_overlap
    from pictext.caption.decode import greedy_decode

    module.eval()
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


def _holdout(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n_val = round(n * fraction) if fraction > 0 and n >= 10 else 0
    perm = rng.permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])
