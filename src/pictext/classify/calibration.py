"""Temperature scaling: one scalar that makes a classifier's confidences honest."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (float64, numerically stable)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true classes under ``softmax(logits / T)``."""
    p = softmax(logits, temperature)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None))))


def fit_temperature(
    logits: np.ndarray, y: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0)
) -> float:
    """The temperature ``T`` that minimises validation NLL of ``softmax(logits / T)``.

    A bounded 1-D search over ``log T`` (the NLL is smooth and unimodal in it).

    Args:
        logits: validation logits ``[N, C]``.
        y: validation class indices ``[N]``.
        bounds: smallest and largest temperature considered.

    Returns:
        The fitted temperature (> 0).
    """
    from scipy.optimize import minimize_scalar

    y = np.asarray(y)
    if len(y) == 0:
        raise ValueError("cannot fit a temperature on an empty validation set")
    res = minimize_scalar(
        lambda log_t: nll(logits, y, float(np.exp(log_t))),
        bounds=(float(np.log(bounds[0])), float(np.log(bounds[1]))),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(res.x))
