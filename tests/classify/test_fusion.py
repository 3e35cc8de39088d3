from __future__ import annotations

import json

import numpy as np
import pytest
from heads_synth import make_features

from pictext.classify.fusion import FusionClassifier
from pictext.classify.metrics import topk_accuracy
from pictext.core.train import OPTIMIZERS
from pictext.store.inputs import FUSION, IMAGE_ONLY, TEXT_ONLY, EncoderMismatchError, drop_inputs

FAST = {
    "epochs": 15,
    "patience": 5,
    "tune_dim": 16,
    "image_tune_dim": 16,
    "hidden": 32,
    "batch_size": 16,
    "lr": 3e-3,
}


@pytest.fixture(scope="module")
def data():
    feats, y = make_features(160, 4, seed=0)
    tr, va = np.arange(0, 100), np.arange(100, 160)
    return feats.subset(tr), y[tr], feats.subset(va), y[va]


CONFIGS = [
    {"inputs": IMAGE_ONLY},
    {"inputs": TEXT_ONLY},
    {"inputs": FUSION},
    {"inputs": (*FUSION, "text"), "image_tune_dim": 0, "hidden": 0},
    {"inputs": FUSION, "aux_weight": 0.5},
    *({"inputs": FUSION, "optimizer": o} for o in OPTIMIZERS),
]


@pytest.mark.parametrize("overrides", CONFIGS)
def test_every_config_trains_with_finite_output(data, overrides) -> None:
    tr, ytr, va, yva = data
    clf = FusionClassifier(**{**FAST, **overrides}).fit(tr, ytr, va, yva, classes=list("abcd"))
    p = clf.predict_proba(va)
    assert p.shape == (va.n, 4)
    assert np.isfinite(p).all()
    assert np.allclose(p.sum(1), 1)
    assert topk_accuracy(p, yva) > 0.5  # chance is 0.25
    h = clf.history_
    assert len(h.loss) == len(h.val_score) >= 1
    assert 0 <= h.best_epoch < len(h.loss)
    assert h.val_score[h.best_epoch] == max(h.val_score)


@pytest.mark.parametrize("aux", [0.0, 0.5])
def test_save_load_round_trip(tmp_path, data, aux) -> None:
    tr, ytr, va, yva = data
    clf = (
        FusionClassifier(**FAST, aux_weight=aux)
        .fit(tr, ytr, va, yva, classes=list("abcd"))
        .calibrate(va, yva)
    )
    clf.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    assert meta["classes"] == list("abcd")
    assert meta["image_encoder"] == "toy-image@1"
    assert meta["text_encoder"] == "toy-text@1"
    assert tuple(meta["config"]["inputs"]) == FUSION
    back = FusionClassifier.load(tmp_path / "m")
    np.testing.assert_array_equal(back.predict_proba(va), clf.predict_proba(va))
    assert back.temperature_ == clf.temperature_ != 1.0


def test_load_refuses_other_encoders(tmp_path, data) -> None:
    tr, ytr, _va, _yva = data
    FusionClassifier(**FAST).fit(tr, ytr, classes=list("abcd")).save(tmp_path / "m")
    model = FusionClassifier.load(tmp_path / "m")
    other, _ = make_features(10, 4, seed=1, image_encoder="other-image@2")
    with pytest.raises(EncoderMismatchError, match="other-image@2"):
        model.predict(other)
    other, _ = make_features(10, 4, seed=1, text_encoder="toy-text@9")
    with pytest.raises(EncoderMismatchError, match="toy-text@1"):
        model.predict(other)
    with pytest.raises(
        FileNotFoundError, match=r"no config\.json, so not a saved fusion classifier"
    ):
        FusionClassifier.load(tmp_path)


def test_missing_inputs_still_predict(data) -> None:
    tr, ytr, va, yva = data
    cfg = {**FAST, "epochs": 40, "patience": 40, "modality_dropout": 0.3}
    clf = FusionClassifier(**cfg).fit(tr, ytr, va, yva)
    no_text = drop_inputs(va, ["all_text"])
    no_image = drop_inputs(va, ["image"])
    assert not any(m.any() for m in no_text.text_mask.values())
    for f in (no_text, no_image):
        p = clf.predict_proba(f)
        assert np.isfinite(p).all()
        assert topk_accuracy(p, yva) > 0.5  # each modality alone carries the class
    # masked rows do not depend on the zeros' values: the model reads the mask
    garbage = drop_inputs(va, ["all_text"])
    garbage.text = {k: v + 100.0 for k, v in garbage.text.items()}
    np.testing.assert_allclose(clf.predict_proba(garbage), clf.predict_proba(no_text))


def test_fit_is_seeded(data) -> None:
    tr, ytr, va, yva = data
    a = FusionClassifier(**FAST, seed=3).fit(tr, ytr, va, yva).predict_proba(va)
    b = FusionClassifier(**FAST, seed=3).fit(tr, ytr, va, yva).predict_proba(va)
    np.testing.assert_array_equal(a, b)


def test_embed_layers(data) -> None:
    tr, ytr, va, _yva = data
    clf = FusionClassifier(**FAST).fit(tr, ytr)
    assert clf.embed(va, "fusion").shape == (va.n, 32)
    assert clf.embed(va, "tuned:title").shape == (va.n, 16)
    with pytest.raises(ValueError, match="unknown layer"):
        clf.embed(va, "tuned:nothing")


def test_bad_arguments(data) -> None:
    tr, ytr, _, _ = data
    with pytest.raises(ValueError, match="inputs must be"):
        FusionClassifier(inputs=("image", "caption"))
    with pytest.raises(ValueError, match="unknown optimizer"):
        FusionClassifier(**FAST, optimizer="sgd2").fit(tr, ytr)
    with pytest.raises(RuntimeError, match="not fitted"):
        FusionClassifier().predict(tr)


@pytest.mark.parametrize("combine", ["aux_missing", "sum"])
def test_missing_modality_is_scored_by_the_present_branch_head(data, combine) -> None:
    import torch

    tr, ytr, va, yva = data
    clf = FusionClassifier(**FAST, aux_weight=1.0, combine=combine).fit(tr, ytr, va, yva)
    no_img = drop_inputs(va, ("image",))
    x, m = clf._tensors(no_img)
    with torch.no_grad():
        _, aux = clf.net_.forward_with_aux(x, m)
    np.testing.assert_allclose(clf.decision_function(no_img), aux["text"].numpy(), rtol=1e-5)
    full = clf.decision_function(va)
    x, m = clf._tensors(va)
    with torch.no_grad():
        fused, _ = clf.net_.forward_with_aux(x, m)
    assert np.allclose(full, fused.numpy(), atol=1e-5) == (combine == "aux_missing")


def test_unknown_combine_is_refused(data) -> None:
    tr, ytr, _va, _yva = data
    with pytest.raises(ValueError, match="combine"):
        FusionClassifier(**FAST, combine="max").fit(tr, ytr)
