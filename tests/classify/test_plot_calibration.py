"""The confusion matrix and reliability diagram of the report."""

from __future__ import annotations

import numpy as np
from PIL import Image

from pictext.classify.metrics import expected_calibration_error
from pictext.classify.plot_calibration import (
    plot_confusion_matrix,
    plot_reliability,
    reliability_bins,
)


def test_reliability_bins_weigh_to_the_ece() -> None:
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=200)
    y = rng.integers(0, 4, 200)
    conf, acc, count = reliability_bins(p, y)
    ok = count > 0
    ece = float(np.sum(count[ok] / count.sum() * np.abs(acc[ok] - conf[ok])))
    assert np.isclose(ece, expected_calibration_error(p, y))


def test_the_figures_are_written_with_both_eces(tmp_path) -> None:
    y = np.array([0, 1, 2, 0, 1, 2])
    sharp = np.eye(3)[[0, 1, 1, 0, 1, 2]] * 0.97 + 0.01
    soft = np.full((6, 3), 1 / 3) + np.eye(3)[[0, 1, 1, 0, 1, 2]] * 0.1
    path, before, after = plot_reliability(sharp, soft, y, tmp_path / "rel.png", "t")
    assert Image.open(path).size[0] > 100
    assert before == 100 * expected_calibration_error(sharp, y)
    assert after == 100 * expected_calibration_error(soft, y)
    cm = plot_confusion_matrix(y, sharp.argmax(1), ["a", "b", "c"], tmp_path / "cm.png", "t")
    assert Image.open(cm).size[0] > 100
