from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from pictext.rank import queries
from pictext.rank.index import SearchIndex
from pictext.store.features import Features


def _features(n: int = 40, seed: int = 0) -> tuple[Features, list[str]]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    x = (np.eye(4)[y] * 3 + rng.normal(size=(n, 4))).astype(np.float32)
    text = rng.normal(size=(n, 5)).astype(np.float32)
    mask = np.ones(n, bool)
    mask[3] = False
    img_mask = np.ones(n, bool)
    img_mask[7] = False  # no image: not indexed
    f = Features(
        [f"it{i}" for i in range(n)], x, img_mask, {"text": text}, {"text": mask}, "toy@1", "txt@1"
    )
    return f, [f"c{v}" for v in y]


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_similar_and_divergent_by_id(metric: str) -> None:
    f, labels = _features()
    ix = SearchIndex.build(f, labels=labels, metric=metric)
    assert len(ix) == 39
    assert "it7" not in ix.ids
    sim = ix.similar("it0", 5)
    assert "it0" not in [h.id for h in sim]
    assert [h.label for h in sim] == ["c0"] * 5
    assert all(a.distance <= b.distance for a, b in itertools.pairwise(sim))
    div = ix.divergent("it0", 3)
    assert all(a.distance >= b.distance for a, b in itertools.pairwise(div))
    # the farthest really is the farthest in the searched space
    x = f.image[np.array([f.ids.index(i) for i in ix.ids])]
    x = x / np.linalg.norm(x, axis=1, keepdims=True) if metric == "cosine" else x
    d = np.linalg.norm(x - x[0], axis=1)
    assert div[0].row == int(np.argmax(d))
    with pytest.raises(KeyError, match="not in this index"):
        ix.similar("id:nope", 3)


def test_save_load_round_trip_with_head(tmp_path) -> None:
    pytest.importorskip("torch")
    from pictext.rank.head import RankingHead

    f, labels = _features()
    y = np.array([int(s[1]) for s in labels])
    head = RankingHead(embed_dim=64, epochs=2, progress=False).fit(f, y)
    ix = SearchIndex.build(f, head=head, labels=labels)
    # 64 outputs from 4 inputs: stored in a 5-d basis that keeps distances exactly
    assert ix.vectors.shape == (39, 5)
    z = head.transform(f)
    rows = [f.ids.index(i) for i in ix.ids]
    d_full = np.linalg.norm(z[rows] - z[rows[0]], axis=1)
    d_small = np.linalg.norm(ix.vectors - ix.vectors[0], axis=1)
    np.testing.assert_allclose(d_small, d_full, atol=1e-5)
    ix.save(tmp_path / "ix")
    back = SearchIndex.load(tmp_path / "ix")
    assert back.manifest.space == "head"
    assert back.manifest.image_encoder == "toy@1"
    assert [h.id for h in back.similar("it1", 5)] == [h.id for h in ix.similar("it1", 5)]
    assert [h.id for h in back.divergent("it1", 5)] == [h.id for h in ix.divergent("it1", 5)]


def test_faiss_backend_round_trip(tmp_path) -> None:
    pytest.importorskip("faiss")
    f, labels = _features(400)
    ix = SearchIndex.build(f, labels=labels, backend="hnsw")
    ix.save(tmp_path / "ix")
    back = SearchIndex.load(tmp_path / "ix")
    assert (tmp_path / "ix" / "ann.faiss").exists()
    exact = SearchIndex.build(f, labels=labels)
    got = {h.id for h in back.similar("it2", 10)}
    want = {h.id for h in exact.similar("it2", 10)}
    assert len(got & want) >= 9


class _FakeImageEncoder:
    name, version, dim, image_size = "toy", "1", 4, 8

    def encode(self, images: list[Image.Image]) -> np.ndarray:
        # the mean of the red and green channels decides the class direction
        a = np.asarray(images[0], np.float32).mean(axis=(0, 1)) / 255.0
        return np.array([[a[0] * 3, a[1] * 3, 0.0, 0.0]], np.float32)


class _FakeTextEncoder:
    name, version, dim = "txt", "1", 5

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.array([[1.0, 0, 0, 0, 0]], np.float32)


def test_image_file_and_text_queries(tmp_path, monkeypatch) -> None:
    f, labels = _features()
    ix = SearchIndex.build(f, labels=labels)
    encoders = {"toy@1": _FakeImageEncoder(), "txt@1": _FakeTextEncoder()}
    monkeypatch.setattr(queries, "_encoder", lambda spec, what: encoders[spec])
    red = tmp_path / "red.png"
    Image.new("RGB", (8, 8), (255, 0, 0)).save(red)
    assert {h.label for h in ix.similar(str(red), 5)} == {"c0"}
    hits = ix.similar("text:anything", 3)
    t = f.text["text"] / np.linalg.norm(f.text["text"], axis=1, keepdims=True)
    order = [f.ids[i] for i in np.argsort(-t[:, 0]) if f.ids[i] not in ("it3", "it7")]
    assert [h.id for h in hits] == order[:3]  # it3 has no text, it7 no image: never returned
    far = ix.divergent("some words", 1)
    assert far[0].id == order[-1]


def test_text_query_needs_text_features() -> None:
    f, labels = _features()
    ix = SearchIndex.build(f, labels=labels, with_text=False)
    with pytest.raises(ValueError, match="no text features"):
        ix.similar("text:hello", 3)


@pytest.mark.parametrize("method", ["knn", "mmr", "kcenter", "dpp"])
def test_recommend_excludes_history(method: str) -> None:
    f, labels = _features(80)
    ix = SearchIndex.build(f, labels=labels)
    hist = ["it0", "it4", "it8"]
    recs = ix.recommend(hist, 10, method=method, lambda_=0.5, pool=40)
    assert len(recs) == 10
    assert not set(hist) & {h.id for h in recs}
    assert len({h.id for h in recs}) == 10


def test_recommend_diverse_lists_cover_more_classes() -> None:
    f, labels = _features(200)
    ix = SearchIndex.build(f, labels=labels)
    hist = ["it0", "it4"]
    knn = {h.label for h in ix.recommend(hist, 10, method="knn", pool=150)}
    spread = {h.label for h in ix.recommend(hist, 10, method="kcenter", lambda_=0.0, pool=150)}
    assert len(spread) > len(knn)


def test_query_resolution() -> None:
    f, labels = _features()
    ix = SearchIndex.build(f, labels=labels)
    r = queries.resolve_query(ix, "it5")
    assert r.kind == "item"
    assert r.row == ix.row("it5")
    with pytest.raises(ValueError, match="empty text"):
        queries.resolve_query(ix, "text: ")
