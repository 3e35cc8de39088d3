from __future__ import annotations

import numpy as np
import pytest

from pictext.classify.calibration import fit_temperature, nll, softmax
from pictext.classify.metrics import (
    confusion_matrix,
    expected_calibration_error,
    most_confused_pairs,
    topk_accuracy,
)


def test_topk_known_answer() -> None:
    proba = np.array(
        [
            [0.1, 0.5, 0.2, 0.15, 0.05, 0.0],  # ranks: 1, 2, 3, 0, 4, 5
            [0.3, 0.1, 0.1, 0.2, 0.2, 0.1],  # ranks: 0, 3, 4, ...
            [0.0, 0.0, 0.0, 0.0, 0.1, 0.9],  # ranks: 5, 4, 0(tie, lowest index first), ...
        ]
    )
    y = np.array([0, 2, 3])
    assert topk_accuracy(proba, y, 1) == 0.0
    assert topk_accuracy(proba, y, 4) == pytest.approx(1 / 3)  # row 0 hit at rank 4
    # row 1: class 2 ties with 1 and 5 at 0.1; order by index gives 0,3,4,1,2 -> rank 5
    assert topk_accuracy(proba, y, 5) == pytest.approx(2 / 3)
    # row 2: class 3 comes after 5,4,0,1,2 -> rank 6
    assert topk_accuracy(proba, y, 6) == 1.0
    assert topk_accuracy(proba, np.array([1, 0, 5]), 1) == 1.0


def test_ece_known_answer() -> None:
    # confidences 0.9, 0.9 (one right) -> bin |0.5-0.9| ; 0.6 right -> |1-0.6|
    proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6]])
    y = np.array([0, 1, 1])
    expected = 2 / 3 * abs(0.5 - 0.9) + 1 / 3 * abs(1.0 - 0.6)
    assert expected_calibration_error(proba, y, n_bins=10) == pytest.approx(expected)
    # perfectly calibrated: confidence 1 and always right
    assert expected_calibration_error(np.eye(3), np.arange(3)) == 0.0


def test_temperature_scaling_reduces_overconfidence() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 2000)
    logits = rng.normal(size=(2000, 5))
    logits[np.arange(2000), y] += 1.0  # weakly informative ...
    logits *= 6.0  # ... but far too confident
    t = fit_temperature(logits, y)
    assert 3.0 < t < 12.0
    assert nll(logits, y, t) < nll(logits, y, 1.0)
    before = expected_calibration_error(softmax(logits), y)
    after = expected_calibration_error(softmax(logits, t), y)
    assert after < before / 3


def test_confused_pairs() -> None:
    cm = confusion_matrix(np.array([0, 0, 0, 1, 1, 2]), np.array([0, 1, 1, 2, 1, 0]), 3)
    assert cm.tolist() == [[1, 2, 0], [0, 1, 1], [1, 0, 0]]
    assert most_confused_pairs(cm, 2) == [(0, 1, 2), (1, 2, 1)]
