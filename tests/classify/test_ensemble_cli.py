"""``pictext train`` saves the ensemble; ``tag`` and ``verify`` answer with it unchanged
(the real command line, toy encoders)."""

from __future__ import annotations

import json

import pytest
from service_toys import picture, toy_factory, write_dataset
from toy_run import TOY, pictext

pytest.importorskip("torch")


def test_train_saves_the_ensemble_and_tag_verify_use_it(tmp_path) -> None:
    from pictext.classify.ensemble import EnsembleClassifier, load_classifier
    from pictext.classify.tagging import embed_for_model
    from pictext.data.item import Item

    cache, model = tmp_path / "cache", tmp_path / "model"
    data = write_dataset(tmp_path / "data")
    res = pictext(
        "train", str(data), "--out", str(model), *TOY, "--epochs", "5", "--no-figures",
        cache=cache,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    saved = load_classifier(model)
    assert isinstance(saved, EnsembleClassifier)
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["ensemble"]["weights"] == saved.weights
    assert metrics["fit_seconds"] > 0

    image = tmp_path / "query.png"
    picture("green", seed=99).save(image)
    item = Item(str(image), str(image), title="a green picture", tags=("green",))
    feats, failures = embed_for_model(
        saved, [item], encoders=lambda spec: toy_factory(spec.split("@")[0]), cache_dir=cache
    )
    assert not failures
    assert saved.full_rows(feats).all()  # the ensemble itself answers this row
    want = saved.predict_proba(feats)[0]
    args = [str(image), "--model", str(model), "--title", "a green picture", "--tags", "green"]
    res = pictext("tag", *args, "--json", "-k", "3", cache=cache)
    assert res.returncode == 0, res.stderr
    got = dict(json.loads(res.stdout)["top"])
    for label, p in got.items():
        assert p == pytest.approx(want[saved.classes_.index(label)], abs=1e-4)
    top = max(got, key=got.get)
    res = pictext("verify", *args, "--label", top, "--json", cache=cache)
    assert res.returncode == 0, res.stderr
    verdict = json.loads(res.stdout)
    assert verdict["verdict"] == "agree"
    assert verdict["confidence"] == pytest.approx(got[top], abs=1e-4)
