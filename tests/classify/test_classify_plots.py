from __future__ import annotations

from pathlib import Path

import numpy as np
from heads_synth import make_features
from PIL import Image

from pictext.classify.fusion import FusionClassifier
from pictext.classify.plot_confusion import plot_confused_pairs
from pictext.classify.plot_maps import model_maps
from pictext.core.curves import plot_learning_curves


def _is_png(path: Path) -> bool:
    with Image.open(path) as im:
        return im.format == "PNG" and im.size[0] > 100


def test_learning_curves_and_confusion(tmp_path) -> None:
    hist = {"loss": [2.0, 1.0, 0.5], "val_score": [0.3, 0.6, 0.5], "best_epoch": 1}
    p = plot_learning_curves({"fusion": hist, "image": hist}, tmp_path / "c.png", "toy")
    assert _is_png(p)
    q = plot_confused_pairs(
        np.array([0, 0, 1, 2]), np.array([1, 1, 1, 0]), list("abc"), tmp_path / "x.png"
    )
    assert _is_png(q)


def test_model_maps_with_thumbnails(tmp_path) -> None:
    feats, y = make_features(60, 3, seed=0)
    clf = FusionClassifier(epochs=3, hidden=16, tune_dim=8, image_tune_dim=8).fit(
        feats, y, classes=list("abc")
    )
    seen = []

    def thumb(i: int) -> Image.Image:
        seen.append(i)
        return Image.new("RGB", (64, 64), (255, 0, 0))

    paths = model_maps(clf, feats, y, tmp_path, thumbnail=thumb, n_classes=2)
    assert [p.name for p in paths] == ["raw_text.png", "tuned_text.png", "fusion.png"]
    assert all(_is_png(p) for p in paths)
    assert seen  # thumbnails were drawn
    assert all(y[i] in (0, 1) for i in seen)  # only the chosen classes' rows, by dataset index
