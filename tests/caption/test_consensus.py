from __future__ import annotations

import json

import numpy as np
import pytest

from pictext.caption import ConsensusCaptioner, load_captioner
from pictext.caption.bleu import nearest_caption
from pictext.caption.decoding import REPRODUCTION


def _outlier_case() -> tuple[np.ndarray, list[str], np.ndarray]:
    """The nearest image says something odd; the next four agree with each other."""
    train = np.array(
        [[1.0, 0.00], [0.97, 0.24], [0.96, 0.28], [0.95, 0.31], [0.94, 0.34], [0.0, 1.0]],
        np.float32,
    )
    captions = [
        "purple giraffe",
        "red apple",
        "red apple on table",
        "red apple",
        "apple",
        "blue car",
    ]
    return train, captions, np.array([[1.0, 0.02]], np.float32)


def test_k_of_one_is_the_nearest_caption(make_toy, bow_encoder) -> None:
    x, caps, _ = make_toy(n=48, seed=0)
    q, _, _ = make_toy(n=20, seed=9)
    model = ConsensusCaptioner(k=1).fit(x, caps, bow_encoder)
    assert model.predict(q) == nearest_caption(x, caps, q)


def test_consensus_overrules_an_odd_nearest_caption(bow_encoder) -> None:
    train, captions, query = _outlier_case()
    trusting = ConsensusCaptioner(k=5, temperature=0.001).fit(train, captions, bow_encoder)
    assert trusting.predict(query) == ["purple giraffe"]  # a cold weighting: the nearest
    consensus = ConsensusCaptioner(k=5, temperature=1.0).fit(train, captions, bow_encoder)
    assert consensus.predict(query) == ["red apple"]  # the caption the others support most


def test_learns_class_captions(make_toy, bow_encoder, class_captions) -> None:
    x, caps, _ = make_toy(n=96, seed=0)
    q, _, y = make_toy(n=40, seed=1)
    model = ConsensusCaptioner(k=10, temperature=0.1).fit(x, caps, bow_encoder)
    allowed = [set(class_captions[int(c)]) for c in y]
    hits = [c in ok for c, ok in zip(model.predict(q), allowed, strict=True)]
    assert np.mean(hits) >= 0.95


def test_several_captions_per_image_and_tidy(bow_encoder) -> None:
    train = np.eye(2, dtype=np.float32)
    model = ConsensusCaptioner(k=1).fit(
        train, [["An apple.", "an apple"], ["an penguin"]], bow_encoder
    )
    assert model.captions == ["an apple", "an penguin"]  # cleaned, duplicates dropped
    assert model.owner.tolist() == [0, 1]
    assert model.predict(train) == ["an apple", "a penguin"]  # the article by the next word
    assert model.predict(train, decoding=REPRODUCTION) == ["an apple", "an penguin"]


def test_save_load_round_trip(make_toy, bow_encoder, tmp_path) -> None:
    x, caps, _ = make_toy(n=48, seed=0)
    q, _, _ = make_toy(n=16, seed=3)
    model = ConsensusCaptioner(k=7, temperature=0.2).fit(
        x, caps, bow_encoder, image_encoder="toy@1"
    )
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    assert meta["format"] == "pictext-captioner"
    assert meta["config"]["arch"] == "consensus"
    assert meta["text_encoder"] == "bow@1"
    assert meta["image_encoder"] == "toy@1"
    again = load_captioner(tmp_path / "m")
    assert isinstance(again, ConsensusCaptioner)
    assert again.predict(q) == model.predict(q)
    assert again.fingerprint() == model.fingerprint()
    assert again.config == model.config


def test_load_captioner_loads_decoders_and_names_unknown_types(fitted, tmp_path) -> None:
    from pictext.caption import Captioner
    from pictext.core.artifacts import ArtifactFormatError

    fitted["merge"].save(tmp_path / "merge")
    assert isinstance(load_captioner(tmp_path / "merge"), Captioner)
    meta = json.loads((tmp_path / "merge" / "config.json").read_text())
    meta["config"]["arch"] = "gru"
    (tmp_path / "merge" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactFormatError, match="captioner type 'gru' is unknown"):
        load_captioner(tmp_path / "merge")
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        load_captioner(tmp_path)


def test_errors_name_the_problem(bow_encoder) -> None:
    with pytest.raises(TypeError, match="unknown ConsensusCaptioner hyperparameters"):
        ConsensusCaptioner(kk=3)
    with pytest.raises(ValueError, match="k must be >= 1"):
        ConsensusCaptioner(k=0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        ConsensusCaptioner(temperature=0)
    with pytest.raises(RuntimeError, match="not fitted"):
        ConsensusCaptioner().predict(np.zeros((1, 2), np.float32))
    model = ConsensusCaptioner().fit(
        np.eye(2, dtype=np.float32), ["red car", "blue bus"], bow_encoder
    )
    with pytest.raises(ValueError, match="expects 2-d"):
        model.predict(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="empty after cleaning"):
        ConsensusCaptioner().fit(np.eye(2, dtype=np.float32), ["1 2", "a"], bow_encoder)
    with pytest.raises(ValueError, match="2 image rows but 1 caption"):
        ConsensusCaptioner().fit(np.eye(2, dtype=np.float32), ["red car"], bow_encoder)
