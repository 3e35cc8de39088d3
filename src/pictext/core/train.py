"""The one training loop of every head: optimizer, early stopping, best weights, history.

The fusion classifier, the ranking head and the captioner all train through
:func:`train_loop`. The loop knows nothing about what is trained: the task gives its batches
(``epoch -> batches``, shuffled inside), the loss of one batch and, optionally, a validation
score (higher is better) that picks the epoch whose weights are kept and stops the run
after ``patience`` epochs without a better one.

Rows larger than memory (a memory-mapped feature file) stream through the same loop:
:func:`epoch_order` visits contiguous chunks of rows in a shuffled order and shuffles the
rows inside each chunk, and :func:`read_rows` copies one chunk out of the file and hands its
pages back, so a run holds one chunk at a time whatever the file's size. With one chunk
(``chunk_rows >= N``, what in-memory data uses) the order is ``randperm(N)`` split into
batches, as a plain loader's.
"""

from __future__ import annotations

import copy
import mmap
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.core.budget import current_budget

if TYPE_CHECKING:
    import torch

CHUNK_ROWS = 65_536  # rows read from a memory-mapped file per step of a streamed epoch
OPTIMIZERS: tuple[str, ...] = ("adamw", "adam", "nadam", "adamax", "adagrad")
LOSS_MEANS: tuple[str, ...] = ("batch", "example")


def config_from(cls: type[Any], source: Any, **overrides: Any) -> Any:
    """A ``cls`` dataclass filled from ``source``'s attributes of the same names, then
    ``overrides``: how a head hands its own config's training settings to a loop config."""
    values = {f.name: getattr(source, f.name) for f in fields(cls) if hasattr(source, f.name)}
    return cls(**{**values, **overrides})


@dataclass
class LoopConfig:
    """How long and how to train."""

    optimizer: str = "adamw"  # one of OPTIMIZERS (the study used nadam, adamax, adagrad)
    lr: float = 1e-3  # learning rate
    weight_decay: float = 1e-4  # L2 (adam, nadam, adamax, adagrad) or decoupled (adamw) decay
    epochs: int = 100  # maximum number of passes over the training data
    patience: int | None = 10  # stop after this many epochs without a better score (None: never)
    restore_best: bool = True  # keep the best-scoring epoch's weights (False: the last epoch's)
    clip_grad_norm: float | None = None  # clip the gradients' global L2 norm to this (None: off)
    loss_mean: str = "batch"  # epoch loss: mean over batches, or over examples (len(batch))
    progress: bool = True  # show a progress bar over epochs
    desc: str = "train"  # progress bar label

    def __post_init__(self) -> None:
        if self.loss_mean not in LOSS_MEANS:
            raise ValueError(f"loss_mean must be one of {LOSS_MEANS}, got {self.loss_mean!r}")
        if self.patience is not None and self.patience < 0:
            raise ValueError(f"patience must be >= 0 or None, got {self.patience}")


@dataclass
class History:
    """Per-epoch records of one run, for learning curves."""

    loss: list[float] = field(default_factory=list)  # mean training loss per epoch
    val_score: list[float] = field(default_factory=list)  # validation score per epoch (if any)
    best_epoch: int = -1  # 0-based epoch whose weights were kept (-1: none scored; last kept)
    seconds: float = 0.0  # wall time of the run
    stopped: str = ""  # why it ended before cfg.epochs: "patience", "time budget" ("" ran all)

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON-ready values."""
        return {
            "loss": self.loss,
            "val_score": self.val_score,
            "best_epoch": self.best_epoch,
            "seconds": self.seconds,
            "stopped": self.stopped,
        }


def make_optimizer(
    params: Iterable[torch.nn.Parameter], name: str, lr: float, weight_decay: float
) -> torch.optim.Optimizer:
    """Build one of :data:`OPTIMIZERS` by name."""
    import torch

    classes = {
        "adamw": torch.optim.AdamW,
        "adam": torch.optim.Adam,
        "nadam": torch.optim.NAdam,
        "adamax": torch.optim.Adamax,
        "adagrad": torch.optim.Adagrad,
    }
    name = name.lower()
    if name not in classes:
        raise ValueError(f"unknown optimizer {name!r}; use one of {OPTIMIZERS}")
    return classes[name](params, lr=lr, weight_decay=weight_decay)


def train_loop(
    model: torch.nn.Module,
    batches: Callable[[int], Iterable[Any]],
    batch_loss: Callable[[Any], torch.Tensor],
    cfg: LoopConfig,
    val_score: Callable[[], float] | None = None,
    params: Iterable[torch.nn.Parameter] | None = None,
) -> History:
    """Train ``model``; with a validation score, keep the best epoch and stop early.

    After every epoch ``val_score`` is called (model in eval mode, no gradients). An epoch
    is better only when its score is strictly higher than every earlier one (ties keep the
    earlier epoch; a NaN score is never better). Without ``val_score`` all epochs run and
    the last weights are kept.

    Args:
        model: the module to train (its ``state_dict`` is snapshotted at the best epoch).
        batches: ``epoch -> iterable of batches``, called once at the start of each epoch
            (shuffle inside, from the task's seeded generator).
        batch_loss: ``batch -> scalar loss``, called in training mode.
        cfg: optimizer, learning rate, epochs, patience and what to keep.
        val_score: scores the model on validation data, higher is better.
        params: parameters to optimise (default: all of ``model``'s that require grad).

    Returns:
        The per-epoch history.
    """
    from pictext.core.console import progress

    params = list(
        params if params is not None else (p for p in model.parameters() if p.requires_grad)
    )
    opt = make_optimizer(params, cfg.optimizer, cfg.lr, cfg.weight_decay)
    hist = History()
    best, best_state, since_best = float("-inf"), None, 0
    start = time.perf_counter()
    budget = current_budget()  # seconds for this run (core/budget.py), None: no limit
    bar = progress(
        range(cfg.epochs), desc=cfg.desc, unit="epoch", enabled=cfg.progress, leave=False
    )
    for epoch in bar:
        hist.loss.append(_run_epoch(model, opt, params, batches(epoch), batch_loss, cfg))
        over = budget is not None and time.perf_counter() - start >= budget
        if val_score is None:
            hist.best_epoch = epoch
            if over and epoch + 1 < cfg.epochs:
                hist.stopped = "time budget"
                break
            continue
        score = _scored(model, val_score)
        hist.val_score.append(score)
        bar.set_postfix(loss=f"{hist.loss[-1]:.4f}", val=f"{score:.4f}")
        if score > best:
            best, since_best = score, 0
            if cfg.restore_best:
                best_state, hist.best_epoch = copy.deepcopy(model.state_dict()), epoch
        else:
            since_best += 1
            if cfg.patience is not None and since_best >= cfg.patience:
                hist.stopped = "patience"
                break
        if over and epoch + 1 < cfg.epochs:
            hist.stopped = "time budget"  # the best epoch so far is kept
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    elif not cfg.restore_best:
        hist.best_epoch = len(hist.loss) - 1
    model.eval()
    hist.seconds = time.perf_counter() - start
    return hist


def _run_epoch(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    params: list[torch.nn.Parameter],
    batches: Iterable[Any],
    batch_loss: Callable[[Any], torch.Tensor],
    cfg: LoopConfig,
) -> float:
    """One pass; returns the mean batch loss (per batch or per example, ``cfg.loss_mean``)."""
    import torch

    model.train()
    total, n = 0.0, 0
    for batch in batches:
        opt.zero_grad(set_to_none=True)
        loss = batch_loss(batch)
        loss.backward()
        if cfg.clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, cfg.clip_grad_norm)
        opt.step()
        weight = len(batch) if cfg.loss_mean == "example" else 1
        total += float(loss.detach()) * weight
        n += weight
    return total / max(n, 1)


def _scored(model: torch.nn.Module, fn: Callable[[], float]) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        return float(fn())


def epoch_order(
    n: int, batch_size: int, gen: torch.Generator, chunk_rows: int = CHUNK_ROWS
) -> Iterator[tuple[slice, list[torch.Tensor]]]:
    """One epoch's order: ``(rows, batches)`` per chunk, ``batches`` being positions inside
    the chunk ``rows``; chunks in random order, rows shuffled inside each (drawn lazily from
    ``gen``). One chunk when ``chunk_rows >= n``: ``randperm(n).split(batch_size)``."""
    import torch

    starts = list(range(0, n, max(1, chunk_rows)))
    if len(starts) > 1:
        starts = [starts[i] for i in torch.randperm(len(starts), generator=gen).tolist()]
    for start in starts:
        stop = min(n, start + chunk_rows)
        yield (
            slice(start, stop),
            list(torch.randperm(stop - start, generator=gen).split(batch_size)),
        )


def read_rows(array: Any, rows: slice, dtype: Any = np.float32) -> np.ndarray:
    """``array[rows]`` as an in-memory ``dtype`` array.

    An in-memory array of that dtype comes back as a view (no copy). From a memory-mapped
    array (``np.load(path, mmap_mode="r")``, ``np.memmap``) the rows are copied and the
    mapping's pages handed back to the kernel (they stay in the page cache, not in this
    process), so reading a file chunk by chunk never holds more than one chunk.
    """
    part = array[rows]
    mapped = getattr(part, "_mmap", None)
    if mapped is None:
        return np.asarray(part, dtype)
    out = np.array(part, dtype)
    dontneed = getattr(mmap, "MADV_DONTNEED", None)
    if dontneed is not None and hasattr(mapped, "madvise"):  # elsewhere: kept until unmapped
        mapped.madvise(dontneed)
    return out
