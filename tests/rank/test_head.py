from __future__ import annotations

import json

import numpy as np
import pytest

from pictext.rank.head import RankingHead
from pictext.rank.metrics import triplet_accuracy
from pictext.store.features import Features
from pictext.store.inputs import EncoderMismatchError

pytest.importorskip("torch")


def _data(n_per: int = 60, seed: int = 0) -> tuple[Features, np.ndarray]:
    """Class signal in 4 dims, drowned by 28 dims of larger noise: Euclidean on the raw
    vectors ranks badly, a learned projection can fix it."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(4), n_per)
    x = np.concatenate([2.0 * np.eye(4)[y], 3.0 * rng.normal(size=(len(y), 28))], axis=1)
    x[:, :4] += 0.3 * rng.normal(size=(len(y), 4))
    ids = [f"i{i}" for i in range(len(y))]
    return Features(ids, x.astype(np.float32), np.ones(len(y), bool), image_encoder="toy@1"), y


def _triplets(y: np.ndarray, seed: int = 5) -> np.ndarray:
    from pictext.rank.evaluate import evaluation_triplets

    return evaluation_triplets(y, per_query=5, seed=seed)


def test_head_beats_raw_on_held_out_items() -> None:
    train, y = _data(seed=0)
    test, yt = _data(seed=1)
    head = RankingHead(embed_dim=32, epochs=15, lr=3e-3, progress=False).fit(train, y)
    trip = _triplets(yt)
    raw = triplet_accuracy(test.image, trip)
    learned = triplet_accuracy(head.transform(test), trip)
    assert raw < 0.8
    assert learned > raw + 0.1
    assert len(head.history) == 15
    assert all(np.isfinite(r["loss"]) for r in head.history)
    assert head.history[-1]["loss"] < head.history[0]["loss"]
    z = head.transform(test)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, rtol=1e-5)


def test_save_load_round_trip(tmp_path) -> None:
    f, y = _data()
    head = RankingHead(embed_dim=16, epochs=2, progress=False).fit(f, y, classes=list("abcd"))
    head.save(tmp_path / "h")
    assert {p.name for p in (tmp_path / "h").iterdir()} == {"config.json", "model.safetensors"}
    meta = json.loads((tmp_path / "h" / "config.json").read_text())
    assert meta["inputs"]["image_encoder"] == "toy@1"
    assert meta["config"]["embed_dim"] == 16
    back = RankingHead.load(tmp_path / "h")
    np.testing.assert_array_equal(back.transform(f), head.transform(f))
    assert back.spec is not None
    assert back.spec.classes == list("abcd")


def test_refuses_other_encoder_and_width() -> None:
    f, y = _data()
    head = RankingHead(embed_dim=8, epochs=1, progress=False).fit(f, y)
    other = Features(f.ids, f.image, f.image_mask, image_encoder="toy@2")
    with pytest.raises(EncoderMismatchError, match="toy@2"):
        head.transform(other)
    narrow = Features(f.ids, f.image[:, :10], f.image_mask, image_encoder="toy@1")
    with pytest.raises(EncoderMismatchError, match="width"):
        head.transform(narrow)


def test_text_input_is_masked_and_optional() -> None:
    f, y = _data()
    rng = np.random.default_rng(3)
    text = rng.normal(size=(f.n, 6)).astype(np.float32)
    mask = rng.random(f.n) > 0.3
    f.text, f.text_mask, f.text_encoder = {"text": text}, {"text": mask}, "txt@1"
    head = RankingHead(embed_dim=8, epochs=2, use_text=True, progress=False).fit(f, y)
    z = head.transform(f)
    assert z.shape == (f.n, 8)
    assert np.isfinite(z).all()
    # a missing text must not be read: changing the masked-out rows changes nothing
    f2 = Features(
        f.ids,
        f.image,
        f.image_mask,
        {"text": np.where(mask[:, None], text, 99.0)},
        {"text": mask},
        "toy@1",
        "txt@1",
    )
    np.testing.assert_allclose(head.transform(f2), z, atol=1e-6)


def test_unfitted_head_says_so() -> None:
    f, _ = _data()
    with pytest.raises(RuntimeError, match="not fitted"):
        RankingHead().transform(f)


def test_default_validation_rows_follow_the_split_policy(monkeypatch) -> None:
    import pictext.rank.head as head_module
    from pictext.data.split import holdout_rows

    f, y = _data(n_per=20)
    groups = np.arange(len(y)) // 2  # duplicate pairs
    calls = []

    def spy(labels, fraction, seed, *, groups=None):
        held = holdout_rows(labels, fraction, seed, groups=groups)
        calls.append((fraction, seed, groups, held))
        return held

    monkeypatch.setattr(head_module, "holdout_rows", spy)
    head = RankingHead(embed_dim=8, epochs=2, seed=3, progress=False)
    head.fit(f, y, groups=groups)
    [(fraction, seed, got_groups, held)] = calls
    assert fraction == head.config.validation_fraction
    assert seed == 3 + 7919
    assert got_groups is groups
    held_set = set(held.tolist())
    assert held_set
    assert all((2 * k in held_set) == (2 * k + 1 in held_set) for k in range(len(y) // 2))
    for c in range(4):  # per class: 10% of 20 rows, at least two groups (here: pairs)
        assert (y[held] == c).sum() == 4
    assert all(np.isfinite(r["val_triplet_acc"]) for r in head.history)


def test_best_epoch_is_the_best_validation_epoch() -> None:
    f, y = _data(seed=2)
    head = RankingHead(embed_dim=16, epochs=6, lr=3e-3, progress=False).fit(f, y)
    accs = [r["val_triplet_acc"] for r in head.history]
    assert head.best_epoch == 1 + int(np.argmax(accs))
    last = RankingHead(embed_dim=16, epochs=6, lr=3e-3, restore_best=False, progress=False)
    last.fit(f, y)
    assert last.best_epoch is None
    assert [r["val_triplet_acc"] for r in last.history] == accs  # same run, other weights kept
    if head.best_epoch != 6:
        assert not np.array_equal(head.transform(f), last.transform(f))
