"""A field the model never saw in training is not fed to it, and the answer says so.

A collection without tags (tuxpaint) trains a model whose tags input only ever met the
"missing" marker: tags given at answer time would be an input it has no training for. The
model records which inputs it learnt from; old saved models have it inferred.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from heads_synth import make_features

from pictext.classify.fusion import FusionConfig
from pictext.classify.routed import load_classifier, train_routed
from pictext.classify.tagging import ignored_inputs
from pictext.data.item import Item
from pictext.store.inputs import drop_inputs

pytest.importorskip("torch")
SMALL = {"epochs": 4, "hidden": 16, "tune_dim": 8, "image_tune_dim": 8}


def _without_tags(seed: int):
    feats, y = make_features(n=90, seed=seed)
    return drop_inputs(feats, ["tags"]), y  # no training row has tags


@pytest.fixture(scope="module")
def tagless(tmp_path_factory):
    (train, y), (val, yv) = _without_tags(0), _without_tags(1)
    model = train_routed(
        FusionConfig(inputs=("image", "title", "description", "tags"), **SMALL),
        train, y, val, yv, classes=list("abcd"),
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("tagless") / "classifier"
    model.save(folder)
    return model, folder


def test_the_model_records_the_inputs_it_learnt_from(tagless):
    model, folder = tagless
    assert model.trained_inputs == ("image", "title", "description")
    assert load_classifier(folder).trained_inputs == ("image", "title", "description")
    assert json.loads((folder / "config.json").read_text())["trained_inputs"] == [
        "image",
        "title",
        "description",
    ]


def test_a_model_saved_before_the_record_has_it_inferred(tagless, tmp_path):
    import shutil

    _, folder = tagless
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    for config in old.rglob("config.json"):
        meta = json.loads(config.read_text())
        meta.pop("trained_inputs", None)
        config.write_text(json.dumps(meta))
    loaded = load_classifier(old)
    assert loaded.trained_inputs == ("image", "title", "description")


@pytest.mark.parametrize("seed", range(5))
def test_any_tags_given_at_answer_time_leave_the_answer_unchanged(tagless, seed):
    model, _ = tagless
    feats, _ = make_features(n=40, seed=10 + seed)  # every field present, tags included
    rng = np.random.default_rng(seed)
    feats.text["tags"] = rng.normal(scale=3.0, size=feats.text["tags"].shape).astype(np.float32)
    feats.text_mask["tags"] = np.ones(feats.n, bool)
    want = model.predict_proba(drop_inputs(feats, ["tags"]))
    np.testing.assert_allclose(model.predict_proba(feats), want, rtol=0, atol=1e-6)


def test_a_field_seen_in_training_still_counts(tagless):
    model, _ = tagless
    feats, _ = make_features(n=40, seed=3)
    assert not np.allclose(
        model.predict_proba(feats), model.predict_proba(drop_inputs(feats, ["title"]))
    )


def test_ignored_inputs_names_the_fields_never_seen_or_not_read(tagless):
    model, _ = tagless
    item = Item("x", "x.png", title="a cat", tags=("animals",))
    assert ignored_inputs(model, item) == ["tags"]
    assert ignored_inputs(model, Item("y", "y.png", title="a cat")) == []

    class ImageOnly:  # any classifier exposing its inputs: one reading only the image
        config = FusionConfig(inputs=("image",))

    assert ignored_inputs(ImageOnly(), item) == ["title", "tags"]
