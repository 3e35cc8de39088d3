"""Training that grows with the collection: epochs and batches that follow the rows, and a
time budget per training run that the user sets and sees.

A head tuned on a thousand items (200 epochs of batches of 64) would run for hours on 70,000.
Above :data:`SCALE_FROM` rows the training loop therefore

- takes batches that grow with the rows (:func:`scaled_batch`: x2 per doubling past
  ``SCALE_FROM``, at most x8), so an epoch costs fewer optimiser steps;
- runs at most the epochs that show it about :data:`EXAMPLES` examples
  (:func:`scaled_epochs`), and waits proportionally fewer epochs without progress before it
  stops (:func:`scaled_patience`).

Below ``SCALE_FROM`` nothing changes, so the small collections' published figures stand.

:func:`training_budget` sets a wall-clock budget in seconds for *each* training run started
inside it (every head of a table, every fold of an audit): the loop of
:mod:`pictext.core.train` keeps its best epoch so far and stops once the run has used its
budget, and its history says it was stopped by the budget.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

SCALE_FROM = 10_000  # training rows above which epochs, patience and batches follow the rows
EXAMPLES = 2_000_000  # examples one head sees at most above SCALE_FROM (200 epochs x 10k rows)
MIN_EPOCHS = 5  # fewest epochs a scaled run may get

_budget: list[float | None] = [None]  # seconds per training run; process-wide (threads too)


def scaled_epochs(n_rows: int, epochs: int) -> int:
    """At most ``epochs``; above :data:`SCALE_FROM` rows, about :data:`EXAMPLES` examples."""
    if n_rows <= SCALE_FROM:
        return epochs
    return min(epochs, max(MIN_EPOCHS, math.ceil(EXAMPLES / n_rows)))


def scaled_patience(n_rows: int, epochs: int, patience: int | None) -> int | None:
    """``patience`` scaled like the epochs (at least 3; None stays None)."""
    if patience is None or n_rows <= SCALE_FROM:
        return patience
    return min(patience, max(3, scaled_epochs(n_rows, epochs) // 5))


def scaled_batch(n_rows: int, batch_size: int) -> int:
    """``batch_size``, doubled per doubling of the rows past :data:`SCALE_FROM` (<= x8)."""
    if n_rows <= SCALE_FROM:
        return batch_size
    return batch_size * 2 ** min(3, int(math.log2(n_rows / SCALE_FROM)))


def current_budget() -> float | None:
    """Seconds each training run may take now (None: no budget)."""
    return _budget[0]


@contextmanager
def training_budget(seconds: float | None) -> Iterator[float | None]:
    """Within the block, every training run stops after ``seconds`` (None: no limit).

    Raises:
        ValueError: a budget that is not positive.
    """
    if seconds is not None and not seconds > 0:
        raise ValueError(f"a time budget is a positive number of seconds, got {seconds}")
    before = _budget[0]
    _budget[0] = seconds
    try:
        yield seconds
    finally:
        _budget[0] = before
