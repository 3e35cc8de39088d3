"""Classification metrics: top-k accuracy, expected calibration error, confused pairs."""

from __future__ import annotations

import numpy as np


def topk_accuracy(proba: np.ndarray, y: np.ndarray, k: int = 1) -> float:
    """Fraction of rows whose true class is among the ``k`` highest scores.

    Ties are broken by class index (lower first), so the result is deterministic.

    Args:
        proba: scores ``[N, C]`` (probabilities or logits).
        y: true class indices ``[N]``.
        k: how many top classes count as a hit.

    Returns:
        Accuracy in ``[0, 1]``; ``nan`` for an empty input.
    """
    proba = np.asarray(proba)
    y = np.asarray(y)
    if proba.ndim != 2 or len(proba) != len(y):
        raise ValueError(f"proba must be [N, C] with N == len(y); got {proba.shape}, {y.shape}")
    if len(y) == 0:
        return float("nan")
    k = min(k, proba.shape[1])
    # stable sort on -score keeps the lower class index first among ties
    top = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == y[:, None], axis=1)))


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error of the top-1 confidence (equal-width bins).

    ``ECE = sum_b |B_b| / N * |accuracy(B_b) - mean confidence(B_b)|``; bin ``b`` holds the
    confidences in ``((b-1)/n_bins, b/n_bins]`` (the first bin also holds 0).

    Args:
        proba: probabilities ``[N, C]``.
        y: true class indices ``[N]``.
        n_bins: number of confidence bins.

    Returns:
        ECE in ``[0, 1]``; ``nan`` for an empty input.
    """
    proba = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y)
    if len(y) == 0:
        return float("nan")
    conf = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y).astype(np.float64)
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``[C, C]``: row = true class, column = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def most_confused_pairs(cm: np.ndarray, k: int = 10) -> list[tuple[int, int, int]]:
    """The ``k`` largest off-diagonal cells as ``(true, predicted, count)``, largest first."""
    off = np.array(cm, copy=True)
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None, kind="stable")[:k]
    pairs = [(int(i // off.shape[1]), int(i % off.shape[1])) for i in flat]
    return [(t, p, int(off[t, p])) for t, p in pairs if off[t, p] > 0]
