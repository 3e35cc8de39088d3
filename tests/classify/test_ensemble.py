"""The saved ensemble: greedy selection finds the obvious weights, rows missing an input keep
the routed answers, and the model saves and loads as one classifier folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
from heads_synth import make_features

from pictext.classify.ensemble import (
    EnsembleClassifier,
    build_ensemble,
    ensemble_selection,
    load_classifier,
    log_loss,
    train_ensemble,
)
from pictext.classify.fusion import FusionClassifier, FusionConfig
from pictext.classify.routed import RoutedClassifier
from pictext.core.artifacts import ArtifactFormatError
from pictext.store.inputs import drop_inputs

pytest.importorskip("torch")
SMALL = {"epochs": 4, "hidden": 16, "tune_dim": 8, "image_tune_dim": 8}


def _halves() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A is sure and right on the first half and unsure-wrong on the second, B the reverse,
    C knows nothing: A and B together, equally, are the best ensemble."""
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    right, unsure = np.eye(2)[y] * 0.8 + 0.1, np.eye(2)[y] * -0.2 + 0.6
    first = np.arange(8) < 4
    a = np.where(first[:, None], right, unsure)
    b = np.where(first[:, None], unsure, right)
    return {"A": a, "B": b, "C": np.full((8, 2), 0.5)}, y


def test_selection_finds_the_complementary_pair_with_equal_weights() -> None:
    probas, y = _halves()
    for init in (1, 2):
        assert ensemble_selection(probas, y, init=init) == {"A": 0.5, "B": 0.5}
    mixed = (probas["A"] + probas["B"]) / 2
    assert log_loss(mixed, y) < min(log_loss(p, y) for p in probas.values())


def test_selection_keeps_a_dominant_candidate_alone_and_ignores_the_useless() -> None:
    probas, y = _halves()
    best = np.eye(2)[y] * 0.9 + 0.05
    got = ensemble_selection({**probas, "best": best}, y, init=1)
    assert got == {"best": 1.0}
    with pytest.raises(ValueError, match="at least one"):
        ensemble_selection({}, y)


def test_selection_weights_can_be_uneven() -> None:
    # A is right everywhere but hedges; B is sharper on most rows and wrong on one: the best
    # average leans on one of them more than half
    y = np.array([0] * 9 + [1])
    a = np.tile([0.6, 0.4], (10, 1))
    a[9] = [0.4, 0.6]
    b = np.tile([0.95, 0.05], (10, 1))
    w = ensemble_selection({"A": a, "B": b}, y, rounds=60, init=1)
    assert set(w) == {"A", "B"}
    assert w["A"] != w["B"]
    assert sum(w.values()) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def trained() -> tuple[EnsembleClassifier, object, np.ndarray]:
    feats, y = make_features(160, 3, missing=0.3)
    tr, va = np.arange(0, 100), np.arange(100, 160)
    model = train_ensemble(
        FusionConfig(**SMALL),
        feats.subset(tr),
        y[tr],
        feats.subset(va),
        y[va],
        classes=list("abc"),
    )
    return model, feats, y


def _conditions(feats):
    half = feats.subset(np.arange(feats.n))
    half.image_mask[::2] = False
    return [feats, drop_inputs(feats, ("image",)), drop_inputs(feats, ("all_text",)), half]


def test_train_ensemble_records_members_weights_and_validation(trained) -> None:
    model, feats, _ = trained
    assert set(model.candidates()) == {"fusion", "image", "text", "linear"}
    assert model.linear is not None
    assert "text" in model.linear.inputs
    assert model.weights
    assert sum(model.weights.values()) == pytest.approx(1.0)
    assert set(model.selection["val_top1"]) == set(model.candidates())
    full = model.full_rows(feats.subset(np.arange(100, 160)))
    assert model.selection["rows"] == full.sum() < 60  # rows without any text are not used
    assert model.temperature > 0
    p = model.predict_proba(feats)
    assert np.allclose(p.sum(1), 1.0)


def test_rows_missing_an_input_get_the_routed_answer(trained) -> None:
    model, feats, _ = trained
    routed = RoutedClassifier(model.heads, model.routes, model.validation)
    for removed in (("image",), ("all_text",)):
        f = drop_inputs(feats, removed)
        assert not model.full_rows(f).any()
        assert np.allclose(model.predict_proba(f), routed.predict_proba(f))
    # full rows get the weighted average, then the temperature
    only = EnsembleClassifier(model.heads, model.routes, linear=model.linear, weights={"linear": 1})
    full = only.full_rows(feats)
    got, want = only.predict_proba(feats), model.linear.predict_proba(feats)
    assert np.allclose(got[full], want[full], atol=1e-9)
    assert np.allclose(got[~full], routed.predict_proba(feats)[~full])


def test_weights_are_chosen_on_validation_rows_only(trained) -> None:
    model, feats, y = trained
    va = np.arange(100, 160)
    again = build_ensemble(model, model.linear, feats.subset(va), y[va])
    assert again.weights == model.weights
    flipped = build_ensemble(model, model.linear, feats.subset(va), (y[va] + 1) % 3)
    assert flipped.selection["val_top1"] != model.selection["val_top1"]


def test_save_and_load_give_the_same_predictions(trained, tmp_path) -> None:
    model, feats, _ = trained
    model.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["ensemble"]["weights"] == model.weights
    assert (tmp_path / "m" / "linear" / "model.safetensors").exists()
    back = load_classifier(tmp_path / "m")
    assert isinstance(back, EnsembleClassifier)
    assert back.weights == model.weights
    assert back.routes == model.routes
    assert back.temperature == pytest.approx(model.temperature)
    for f in _conditions(feats):
        assert np.allclose(back.predict_proba(f), model.predict_proba(f), atol=1e-6)
    # readers that predate ensembles load the routed heads, and the fusion head
    old = RoutedClassifier.load(tmp_path / "m")
    assert set(old.heads) == set(model.heads)
    assert FusionClassifier.load(tmp_path / "m").classes_ == model.classes_


def test_a_routed_classifier_still_loads_as_one(trained, tmp_path) -> None:
    model, feats, _ = trained
    RoutedClassifier(model.heads, model.routes).save(tmp_path / "r")
    back = load_classifier(tmp_path / "r")
    assert type(back) is RoutedClassifier
    assert np.allclose(
        back.predict_proba(feats), RoutedClassifier(model.heads, model.routes).predict_proba(feats)
    )


def test_a_broken_ensemble_is_one_line(trained, tmp_path) -> None:
    model, _, _ = trained
    model.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["ensemble"]["weights"] = {"nonsense": 1.0}
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ArtifactFormatError, match="ensemble") as err:
        load_classifier(tmp_path / "m")
    assert "\n" not in str(err.value)
