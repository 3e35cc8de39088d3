"""``pictext train`` then ``pictext tag``: the saved classifier answers an image without
text with the head its routes name (the real command line, toy encoders)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from service_toys import picture, toy_factory, write_dataset
from toy_run import TOY, pictext

pytest.importorskip("torch")
SUPPORT = Path(__file__).resolve().parents[1] / "support"
SRC = Path(__file__).resolve().parents[2] / "src"


def _set_routes(model: Path, routes: dict[str, str]) -> None:
    cfg = json.loads((model / "config.json").read_text())
    cfg["routing"]["routes"] = routes
    (model / "config.json").write_text(json.dumps(cfg))


def test_train_saves_the_routed_model_and_tag_uses_its_route(tmp_path) -> None:
    from pictext.classify.routed import load_classifier
    from pictext.classify.tagging import embed_for_model
    from pictext.data.item import Item

    cache, model = tmp_path / "cache", tmp_path / "model"
    data = write_dataset(tmp_path / "data")
    res = pictext(
        "train", str(data), "--out", str(model), *TOY, "--epochs", "5", "--no-figures",
        cache=cache,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "routes:" in res.stdout
    saved = load_classifier(model)
    assert set(saved.heads) == {"fusion", "image", "text"}
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["routing"]["routes"] == saved.routes
    assert set(metrics["routing"]["validation"]) == {"no image", "no text"}

    image = tmp_path / "query.png"
    picture("green", seed=99).save(image)
    feats, failures = embed_for_model(
        saved,
        [Item(str(image), str(image))],
        encoders=lambda spec: toy_factory(spec.split("@")[0]),
        cache_dir=cache,
    )
    assert not failures
    assert not feats.text_mask["title"].any()
    got = {}
    for routes in ({"no text": "image"}, {}):
        _set_routes(model, routes)
        res = pictext("tag", str(image), "--model", str(model), "--json", "-k", "3", cache=cache)
        assert res.returncode == 0, res.stderr
        got[bool(routes)] = dict(json.loads(res.stdout)["top"])
    for routed, head in ((True, "image"), (False, "fusion")):
        want = saved.head_proba(head, feats)[0]
        for label, p in got[routed].items():
            assert p == pytest.approx(want[saved.classes_.index(label)], abs=1e-4)
    assert got[True] != got[False]  # the two heads do answer differently
    assert np.isfinite(list(got[True].values())).all()
