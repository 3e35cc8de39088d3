from __future__ import annotations

import numpy as np
import pytest
from heads_synth import make_features

from pictext.classify.anchors import ALL_FIELDS, LogRegConcat, ProbAverage, tuned_linear
from pictext.classify.fusion import FusionClassifier
from pictext.classify.metrics import topk_accuracy
from pictext.classify.tagging import UnknownLabelError, tag, verify
from pictext.store.inputs import EncoderMismatchError


@pytest.fixture(scope="module")
def fitted():
    feats, y = make_features(120, 4, seed=0)
    tr, te = np.arange(80), np.arange(80, 120)
    clf = FusionClassifier(
        epochs=20, patience=20, hidden=32, tune_dim=16, image_tune_dim=16, lr=3e-3, batch_size=16
    )
    clf.fit(feats.subset(tr), y[tr], classes=["cat", "dog", "fish", "bird"])
    return clf, feats.subset(te), y[te]


def test_logreg_concat_learns_and_checks_encoders() -> None:
    feats, y = make_features(120, 4, seed=0)
    lr = LogRegConcat().fit(feats.subset(np.arange(80)), y[:80])
    p = lr.predict_proba(feats.subset(np.arange(80, 120)))
    assert p.shape == (40, 4)
    assert np.allclose(p.sum(1), 1)
    assert topk_accuracy(p, y[80:]) > 0.8
    other, _ = make_features(5, 4, image_encoder="x@1")
    with pytest.raises(EncoderMismatchError):
        lr.predict(other)


def test_tuned_linear_reads_every_field_and_picks_c_on_validation() -> None:
    feats, y = make_features(200, 4, seed=1)
    tr, va, te = np.arange(120), np.arange(120, 160), np.arange(160, 200)
    model, by_c = tuned_linear(
        feats.subset(tr), y[tr], feats.subset(va), y[va], grid=(1.0, 1e-4, 0.1), patience=5
    )
    assert model.inputs == ALL_FIELDS
    assert list(by_c) == [1e-4, 0.1, 1.0]  # the path runs from strong to weak regularisation
    best = max(by_c.values())
    assert min(c for c, v in by_c.items() if v == best) == model.C  # ties: the smaller C
    assert topk_accuracy(model.predict_proba(feats.subset(te)), y[te]) > 0.8
    # the kept model is the one fitted at the chosen C (not the last one on the path)
    again = LogRegConcat(ALL_FIELDS, C=model.C).fit(feats.subset(tr), y[tr])
    np.testing.assert_allclose(
        model.predict_proba(feats.subset(te)), again.predict_proba(feats.subset(te)), atol=0.02
    )
    # a field missing at test time is zeroed and flagged, not an error
    from pictext.store.inputs import drop_inputs

    p = model.predict_proba(drop_inputs(feats.subset(te), ("image",)))
    assert np.allclose(p.sum(1), 1)
    with pytest.raises(ValueError, match="at least one C"):
        tuned_linear(feats.subset(tr), y[tr], feats.subset(va), y[va], grid=())


def test_tuned_linear_stops_the_path_without_gains() -> None:
    feats, y = make_features(200, 4, seed=1)
    tr, va = np.arange(120), np.arange(120, 200)
    _, by_c = tuned_linear(
        feats.subset(tr), y[tr], feats.subset(va), y[va], grid=(10.0, 20.0, 30.0, 40.0), patience=1
    )
    assert len(by_c) < 4  # on separable toy data the path's first C is not beaten


def test_prob_average_is_the_weighted_mean() -> None:
    class Fixed:
        def __init__(self, p):
            self.p = np.array(p, float)

        def predict_proba(self, feats):
            return self.p

    avg = ProbAverage([Fixed([[1, 0]]), Fixed([[0, 1]])], weights=[3, 1])
    np.testing.assert_allclose(avg.predict_proba(None), [[0.75, 0.25]])
    with pytest.raises(ValueError, match="weights"):
        ProbAverage([Fixed([[1]])], weights=[-1])


def test_tag_gives_top5_sorted(fitted) -> None:
    clf, feats, _ = fitted
    tops = tag(clf, feats, k=5)
    assert len(tops) == feats.n
    for top in tops:
        assert len(top) == 4  # only 4 classes
        probs = [p for _, p in top]
        assert probs == sorted(probs, reverse=True)
        assert {lab for lab, _ in top} == {"cat", "dog", "fish", "bird"}
        assert sum(probs) == pytest.approx(1)


def test_verify_agrees_with_truth_and_refuses_unknown_labels(fitted) -> None:
    clf, feats, y = fitted
    truth = [clf.classes_[i] for i in y]
    wrong = [clf.classes_[(i + 1) % 4] for i in y]
    right = verify(clf, feats, truth)
    assert np.mean([v.agree for v in right]) > 0.8
    assert np.mean([v.agree for v in verify(clf, feats, wrong)]) < 0.2
    v = right[0]
    assert v.confidence == pytest.approx(dict(v.top)[v.claimed])
    assert v.to_dict()["verdict"] in ("agree", "disagree")
    with pytest.raises(UnknownLabelError, match="the model knows: cat, dog, fish, bird"):
        verify(clf, feats, ["unicorn"] * feats.n)


def test_check_labels_names_the_unknown_and_shortens_a_long_class_list() -> None:
    from types import SimpleNamespace

    from pictext.classify.tagging import check_labels

    model = SimpleNamespace(classes_=[f"c{i:03d}" for i in range(100)])
    check_labels(model, ["c000", "c099"])  # known labels pass
    with pytest.raises(UnknownLabelError) as err:
        check_labels(model, ["zebra", "c001", "ant"])
    message = str(err.value)
    assert "['ant', 'zebra']" in message
    assert "c059 ..." in message
    assert "c060" not in message


# ---- a batch: the readable items answered, the others named ------------------------------------
def test_a_batch_answers_the_readable_items_and_names_the_others(tmp_path) -> None:
    from service_toys import picture, toy_factory

    from pictext.classify.tagging import tag_each, tag_items, verify_each
    from pictext.core.errors import UsageError
    from pictext.data.item import Item
    from pictext.store.failures import Failure, UnreadableItemsError
    from pictext.store.pool import EncoderPool

    feats, y = make_features(60, 3, image_dim=12, text_dim=16)
    clf = FusionClassifier(epochs=3, patience=3, hidden=16, tune_dim=8, image_tune_dim=8)
    clf.fit(feats, y, classes=["red", "green", "blue"])
    good = tmp_path / "good.png"
    picture("red").save(good)
    items = [
        Item("good", str(good), title="a red picture"),
        Item("gone", str(tmp_path / "gone.png"), title="a red picture"),
        Item("binary", str(good), description="\x01\x02\x03" * 20),
        Item("undecodable", str(good), title=b"\xff\xfe ok".decode("utf-8", "surrogateescape")),
    ]
    options = {"encoders": EncoderPool(factory=toy_factory), "cache_dir": tmp_path / "cache"}
    out = tag_each(clf, items, 2, **options)
    assert [type(r) for r in out] == [list, Failure, Failure, Failure]
    assert "image file not found" in out[1].problem
    assert out[2].problem.startswith("description is not text: 60 of 60 visible characters")
    assert out[3].problem == "title is not text: it holds bytes that are not UTF-8"
    assert out[0] == tag_items(clf, items[:1], 2, **options)[0]  # the same answer alone
    with pytest.raises(UnreadableItemsError, match="3 items"):
        tag_items(clf, items, 2, **options)
    verdicts = verify_each(clf, items, ["red"] * 4, **options)
    assert verdicts[0].claimed == "red"
    assert [v.item_id for v in verdicts[1:]] == ["gone", "binary", "undecodable"]
    with pytest.raises(UsageError, match="k must be between 1 and 100, got 0"):
        tag_each(clf, items, 0, **options)
