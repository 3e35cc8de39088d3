"""A row-normalised confusion matrix and a reliability diagram (before and after
calibration, with the ECE of each), for the report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pictext.classify.metrics import confusion_matrix, expected_calibration_error
from pictext.core.figures import figure, save_png


def plot_confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str], path: str | Path, title: str
) -> Path:
    """The confusion matrix, each row divided by its class size (the diagonal is recall)."""
    cm = confusion_matrix(y_true, y_pred, len(classes)).astype(np.float64)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    n = len(classes)
    side = min(max(4.0, 0.32 * n + 2), 14.0)
    fig, ax = figure(figsize=(side + 1.5, side))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), classes, rotation=90, fontsize=7 if n > 20 else 9)
    ax.set_yticks(range(n), classes, fontsize=7 if n > 20 else 9)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if n <= 15:
        for i in range(n):
            for j in range(n):
                if cm[i, j]:
                    color = "white" if share[i, j] > 0.5 else "black"
                    ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=8,
                            color=color)  # fmt: skip
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ax.set_title(title)
    return save_png(fig, path)


def reliability_bins(
    proba: np.ndarray, y: np.ndarray, n_bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per confidence bin: mean confidence, accuracy and item count (the ECE's bins)."""
    conf = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y).astype(np.float64)
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore"):
        mean_conf = np.bincount(bins, conf, n_bins) / count
        acc = np.bincount(bins, correct, n_bins) / count
    return mean_conf, acc, count


def plot_reliability(
    before: np.ndarray, after: np.ndarray, y: np.ndarray, path: str | Path, title: str
) -> tuple[Path, float, float]:
    """Accuracy against confidence per bin, before and after calibration; returns the path
    and the two ECEs (percent)."""
    eces = [100 * expected_calibration_error(p, y) for p in (before, after)]
    fig, ax = figure(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    for p, ece, name, marker in zip(
        (before, after), eces, ("before calibration", "after calibration"), ("s", "o"),
        strict=True,
    ):  # fmt: skip
        conf, acc, count = reliability_bins(p, y)
        ok = count > 0
        ax.plot(conf[ok], acc[ok], marker=marker, label=f"{name}: ECE {ece:.1f}%")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence of the top class")
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left", fontsize=9)
    ax.set_title(title)
    return save_png(fig, path), eces[0], eces[1]
