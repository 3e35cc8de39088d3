"""A small, generic training loop for the heads: optimizers, early stopping, history.

The loop knows nothing about what is trained: the caller gives a function that returns the
loss of a batch and a function that scores the model on validation data (higher is better).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

OPTIMIZERS: tuple[str, ...] = ("adamw", "nadam", "adamax", "adagrad")


@dataclass
class LoopConfig:
    """How long and how to train."""

    optimizer: str = "adamw"  # one of OPTIMIZERS (the study used nadam, adamax, adagrad)
    lr: float = 1e-3  # learning rate
    weight_decay: float = 1e-4  # L2 / decoupled weight decay
    epochs: int = 100  # maximum number of passes over the training data
    patience: int = 10  # stop after this many epochs without a better validation score
    progress: bool = True  # show a progress bar over epochs
    desc: str = "train"  # progress bar label


@dataclass
class History:
    """Per-epoch records of one run, for learning curves."""

    loss: list[float] = field(default_factory=list)  # mean training loss per epoch
    val_score: list[float] = field(default_factory=list)  # validation score per epoch (if any)
    train_score: list[float] = field(default_factory=list)  # training score per epoch (if any)
    best_epoch: int = -1  # 0-based epoch whose weights were kept
    seconds: float = 0.0  # wall time of the run

    def to_dict(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "val_score": self.val_score,
            "train_score": self.train_score,
            "best_epoch": self.best_epoch,
            "seconds": self.seconds,
        }


def make_optimizer(
    params: Iterable[torch.nn.Parameter], name: str, lr: float, weight_decay: float
) -> torch.optim.Optimizer:
    """Build one of :data:`OPTIMIZERS` by name."""
    import torch

    name = name.lower()
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "nadam":
        return torch.optim.NAdam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamax":
        return torch.optim.Adamax(params, lr=lr, weight_decay=weight_decay)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; use one of {OPTIMIZERS}")


def train_loop(
    model: torch.nn.Module,
    batches: Callable[[int], Iterable[Any]],
    batch_loss: Callable[[Any], torch.Tensor],
    cfg: LoopConfig,
    val_score: Callable[[], float] | None = None,
    train_score: Callable[[], float] | None = None,
    params: Iterable[torch.nn.Parameter] | None = None,
) -> History:
    """Train ``model`` with early stopping; the best weights (by validation) are restored.

    Args:
        model: the module to train (its ``state_dict`` is snapshotted at the best epoch).
        batches: ``epoch -> iterable of batches`` (shuffle inside, seeded by the epoch).
        batch_loss: ``batch -> scalar loss`` in training mode.
        cfg: optimizer, learning rate, epochs and patience.
        val_score: scores the model on validation data, higher is better; without it the
            loop runs all epochs and keeps the last weights.
        train_score: optional training-set score per epoch, for learning curves.
        params: parameters to optimise (default: all of ``model``'s that require grad).

    Returns:
        The per-epoch history.
    """
    from tqdm.auto import tqdm

    opt = make_optimizer(
        params if params is not None else (p for p in model.parameters() if p.requires_grad),
        cfg.optimizer,
        cfg.lr,
        cfg.weight_decay,
    )
    hist = History()
    best, best_state, since_best = float("-inf"), None, 0
    start = time.perf_counter()
    bar = tqdm(range(cfg.epochs), desc=cfg.desc, disable=not cfg.progress, leave=False)
    for epoch in bar:
        hist.loss.append(_run_epoch(model, opt, batches(epoch), batch_loss))
        if train_score is not None:
            hist.train_score.append(_scored(model, train_score))
        if val_score is None:
            hist.best_epoch = epoch
            continue
        score = _scored(model, val_score)
        hist.val_score.append(score)
        bar.set_postfix(loss=f"{hist.loss[-1]:.3f}", val=f"{score:.3f}")
        if score > best:
            best, best_state, since_best = score, copy.deepcopy(model.state_dict()), 0
            hist.best_epoch = epoch
        else:
            since_best += 1
            if since_best >= cfg.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    hist.seconds = time.perf_counter() - start
    return hist


def _run_epoch(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    batches: Iterable[Any],
    batch_loss: Callable[[Any], torch.Tensor],
) -> float:
    model.train()
    total, n = 0.0, 0
    for batch in batches:
        opt.zero_grad(set_to_none=True)
        loss = batch_loss(batch)
        loss.backward()
        opt.step()
        total += float(loss.detach())
        n += 1
    return total / max(n, 1)


def _scored(model: torch.nn.Module, fn: Callable[[], float]) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        return float(fn())
