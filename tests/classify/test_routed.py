"""The saved classifier: rows missing an input go to the head made for them, the routes are
chosen on validation, and the model saves and loads as one classifier folder."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from heads_synth import make_features

import pictext.classify.routed as routed
from pictext.classify.fusion import FusionClassifier, FusionConfig
from pictext.classify.routed import RoutedClassifier, load_classifier, train_routed
from pictext.core.artifacts import ArtifactFormatError, ArtifactNotFoundError
from pictext.data.dataset import Dataset
from pictext.data.item import Item
from pictext.data.split import GROUPED, DatasetSplit
from pictext.store.features import Features
from pictext.store.inputs import drop_inputs

pytest.importorskip("torch")
C = 3
SMALL = {"epochs": 4, "hidden": 16, "tune_dim": 8, "image_tune_dim": 8}


class Reader:
    """A fitted head stand-in: class = argmax of the first ``C`` columns of one input
    (``"image"`` or ``"title"``); a row without that input gets class 0."""

    def __init__(self, inputs: tuple[str, ...], reads: str) -> None:
        self.config = FusionConfig(inputs=inputs)
        self.reads = reads
        self.classes_ = list("abc")
        self.image_encoder_, self.text_encoder_ = "toy-image@1", "toy-text@1"
        self.temperature_, self.history_ = 1.0, None

    def decision_function(self, feats: Features) -> np.ndarray:
        if self.reads == "image":
            x, m = feats.image, feats.image_mask
        else:
            x, m = feats.text["title"], feats.text_mask["title"]
        logits = 10.0 * np.asarray(x[:, :C], np.float64)
        logits[~m] = [5.0, 0.0, 0.0]
        return logits

    def predict_proba(self, feats: Features) -> np.ndarray:
        from pictext.classify.calibration import softmax

        return softmax(self.decision_function(feats))


def _onehot_feats(image_class: np.ndarray, title_class: np.ndarray) -> Features:
    n = len(image_class)
    eye = np.eye(4, dtype=np.float32)
    return Features(
        ids=[f"r{i}" for i in range(n)],
        image=eye[image_class],
        image_mask=np.ones(n, bool),
        text={"title": eye[title_class]},
        text_mask={"title": np.ones(n, bool)},
        image_encoder="toy-image@1",
        text_encoder="toy-text@1",
    )


def _readers() -> dict[str, list[Reader]]:
    inputs = ("image", "title")
    return {
        "fusion": [Reader(inputs, "image")],  # right when it has the image, class 0 without
        "image": [Reader(("image",), "image")],
        "text": [Reader(("title",), "title")],
    }


def test_each_row_is_scored_by_the_head_for_the_inputs_it_has() -> None:
    y = np.array([1, 2, 1, 2, 1, 2])
    wrong = (y + 1) % C
    feats = _onehot_feats(y, wrong)  # the image is right, the title wrong
    feats.image_mask[:2] = False  # rows 0, 1: no image -> text head (reads the wrong title)
    feats.text_mask["title"][1:4] = False  # rows 2, 3: no text -> image head
    model = RoutedClassifier(_readers(), {"no image": "text", "no text": "image"})
    # row 1 has neither input: a row without an image, for the text head
    assert list(model.route_of(feats)) == ["text", "text", "image", "image", "fusion", "fusion"]
    only_text = RoutedClassifier(_readers(), {"no image": "text"})
    assert list(only_text.route_of(feats)) == ["text", "text", *["fusion"] * 4]
    pred = model.predict(feats)
    assert pred[0] == wrong[0]  # the text head answered it, from the (wrong) title
    assert pred[1] == 0  # and the text head's answer for a row with nothing
    assert list(pred[2:]) == list(y[2:])
    # without routes the fusion head answers every row: class 0 where it has no image
    plain = RoutedClassifier(_readers())
    assert list(plain.predict(feats)[:2]) == [0, 0]


def test_a_route_is_kept_only_where_it_wins_on_validation() -> None:
    y = np.array([1, 2] * 10)
    val = _onehot_feats(y, y)  # image and title both right
    model = RoutedClassifier(_readers()).choose_routes(val, y)
    # no image: the fusion head says 0 (wrong), the text head reads the title (right)
    assert model.routes == {"no image": "text"}
    v = model.validation
    assert v["no image"]["text"] == 100.0
    assert v["no image"]["fusion"] == 0.0
    # no text: the image head is exactly as good as the fusion head; a tie keeps fusion
    assert v["no text"]["image"] == v["no text"]["fusion"] == 100.0


def test_the_routes_of_pictext_train_are_chosen_on_validation_not_test(monkeypatch) -> None:
    """Validation titles are right and test titles wrong: a choice made on the test rows
    would drop the no-image route, the one made on validation keeps it."""
    from pictext.classify.runs import train_fusion

    n = 60
    y = np.arange(n) % C
    title = y.copy()
    test_rows = np.arange(40, 60)
    title[test_rows] = (y[test_rows] + 1) % C
    feats = _onehot_feats(y, title)
    ds = Dataset("toy", [Item(f"r{i}", label="abc"[y[i]]) for i in range(n)])
    ids = [it.id for it in ds.items]
    split = DatasetSplit(tuple(ids[:20]), tuple(ids[20:40]), tuple(ids[40:]), GROUPED, 0.5, 0)

    def fake_members(config, members, *args, **kwargs):
        reads = "image" if "image" in config.inputs else "title"
        return [Reader(config.inputs, reads)]

    monkeypatch.setattr(routed, "fit_members", fake_members)
    model, metrics = train_fusion(ds, feats, FusionConfig(inputs=("image", "title")), split=split)
    assert model.routes == {"no image": "text"}
    assert metrics["routing"]["routes"] == {"no image": "text"}
    # on test the route is wrong on every row: the choice did not look at test
    assert metrics["test"]["no image"]["top1"] == 0.0
    test = drop_inputs(feats.subset(test_rows), ("image",))
    fused_on_test = 100 * float((model.head_proba("fusion", test).argmax(1) == y[test_rows]).mean())
    assert fused_on_test > metrics["test"]["no image"]["top1"]


@pytest.fixture(scope="module")
def trained() -> tuple[RoutedClassifier, Features, np.ndarray]:
    feats, y = make_features(120, C, missing=0.3)
    tr, va = np.arange(0, 80), np.arange(80, 120)
    model = train_routed(
        FusionConfig(**SMALL),
        feats.subset(tr),
        y[tr],
        feats.subset(va),
        y[va],
        classes=list("abc"),
        members=2,
    )
    return model, feats, y


def test_train_routed_builds_three_calibrated_ensembles(trained) -> None:
    model, feats, _ = trained
    assert set(model.heads) == {"fusion", "image", "text"}
    assert all(len(ms) == 2 for ms in model.heads.values())
    assert model.heads["image"][0].config.inputs == ("image",)
    assert model.heads["text"][0].config.inputs == ("title", "description", "tags")
    seeds = [m.config.seed for m in model.heads["fusion"]]
    assert len(set(seeds)) == 2  # members differ by seed
    assert set(model.validation) == {"no image", "no text"}
    p = model.predict_proba(feats)
    assert np.allclose(p.sum(1), 1.0)


def _conditions(feats: Features) -> list[Features]:
    half = feats.subset(np.arange(feats.n))
    half.image_mask[::2] = False
    return [feats, drop_inputs(feats, ("image",)), drop_inputs(feats, ("all_text",)), half]


def test_save_and_load_give_the_same_routed_predictions(trained, tmp_path) -> None:
    model, feats, _ = trained
    model = RoutedClassifier(model.heads, {"no image": "text", "no text": "image"})
    model.save(tmp_path / "m")
    back = load_classifier(tmp_path / "m")
    assert back.routes == model.routes
    assert {k: len(v) for k, v in back.heads.items()} == {"fusion": 2, "image": 2, "text": 2}
    for f in _conditions(feats):
        assert np.allclose(back.predict_proba(f), model.predict_proba(f), atol=1e-6)
    # the folder is the fusion head's first member: a reader of plain heads loads that
    plain = FusionClassifier.load(tmp_path / "m")
    assert np.allclose(plain.predict_proba(feats), model.heads["fusion"][0].predict_proba(feats))


def test_a_plain_saved_head_loads_without_routes(trained, tmp_path) -> None:
    model, feats, _ = trained
    head = model.heads["fusion"][0]
    head.save(tmp_path / "old")  # what pictext train saved before routing
    back = load_classifier(tmp_path / "old")
    assert back.routes == {}
    assert list(back.heads) == ["fusion"]
    nope = drop_inputs(feats, ("image",))
    assert np.allclose(back.predict_proba(nope), head.predict_proba(nope))


def test_a_broken_routed_folder_is_one_line(trained, tmp_path) -> None:
    model, _, _ = trained
    model.save(tmp_path / "m")
    shutil.rmtree(tmp_path / "m" / "text-1")
    with pytest.raises(ArtifactNotFoundError, match="text-1") as err:
        load_classifier(tmp_path / "m")
    assert "\n" not in str(err.value)
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["routing"] = {"heads": {"fusion": [""]}, "routes": {"no image": "text"}}
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ArtifactFormatError, match="routing") as err:
        load_classifier(tmp_path / "m")
    assert "\n" not in str(err.value)
