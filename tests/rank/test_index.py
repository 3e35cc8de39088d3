from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from pictext.rank import queries
from pictext.rank.divergent import Divergence
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
    sim = ix.similar_to(ix.row("it0"), 5)
    assert "it0" not in [h.id for h in sim]
    assert [h.label for h in sim] == ["c0"] * 5
    assert all(a.distance <= b.distance for a, b in itertools.pairwise(sim))
    assert all(a.distance >= b.distance for a, b in itertools.pairwise(ix.divergent_to(0, 5)))
    div = ix.divergent_to(ix.row("it0"), 3, Divergence("farthest"))
    assert all(a.distance >= b.distance for a, b in itertools.pairwise(div))
    # the farthest really is the farthest in the searched space
    x = f.image[np.array([f.ids.index(i) for i in ix.ids])]
    x = x / np.linalg.norm(x, axis=1, keepdims=True) if metric == "cosine" else x
    d = np.linalg.norm(x - x[0], axis=1)
    assert div[0].row == int(np.argmax(d))
    with pytest.raises(KeyError, match="not in this index"):
        queries.answer(ix, "id:nope", 3)


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
    assert [h.id for h in back.similar_to(1, 5)] == [h.id for h in ix.similar_to(1, 5)]
    assert [h.id for h in back.divergent_to(1, 5)] == [h.id for h in ix.divergent_to(1, 5)]


def test_faiss_backend_round_trip(tmp_path) -> None:
    pytest.importorskip("faiss")
    f, labels = _features(400)
    ix = SearchIndex.build(f, labels=labels, backend="hnsw")
    ix.save(tmp_path / "ix")
    back = SearchIndex.load(tmp_path / "ix")
    assert (tmp_path / "ix" / "ann.faiss").exists()
    exact = SearchIndex.build(f, labels=labels)
    got = {h.id for h in queries.answer(back, "it2", 10).hits}
    want = {h.id for h in queries.answer(exact, "it2", 10).hits}
    assert len(got & want) >= 9


class _FakeImageEncoder:
    name, version, dim, image_size = "toy", "1", 4, 8

    def pixels(self, image: Image.Image) -> np.ndarray:
        return np.asarray(image.convert("RGB").resize((8, 8)), np.uint8)

    def normalize_batch(self, pixels: np.ndarray) -> np.ndarray:
        return pixels.astype(np.float32) / 255.0

    def encode_batch(self, batch: np.ndarray) -> np.ndarray:
        # the mean of the red and green channels decides the class direction
        a = batch.mean(axis=(1, 2))
        return np.stack([a[:, 0] * 3, a[:, 1] * 3, 0 * a[:, 0], 0 * a[:, 0]], 1)


class _FakeTextEncoder:
    name, version, dim = "txt", "1", 5

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.array([[1.0, 0, 0, 0, 0]], np.float32)


def test_image_file_and_text_queries(tmp_path) -> None:
    f, labels = _features()
    ix = SearchIndex.build(f, labels=labels)
    encoders = {"toy@1": _FakeImageEncoder(), "txt@1": _FakeTextEncoder()}.__getitem__
    red = tmp_path / "red.png"
    Image.new("RGB", (8, 8), (255, 0, 0)).save(red)
    assert {h.label for h in queries.answer(ix, str(red), 5, encoders=encoders).hits} == {"c0"}
    hits = queries.answer(ix, "text:anything", 3, encoders=encoders).hits
    t = f.text["text"] / np.linalg.norm(f.text["text"], axis=1, keepdims=True)
    order = [f.ids[i] for i in np.argsort(-t[:, 0]) if f.ids[i] not in ("it3", "it7")]
    assert [h.id for h in hits] == order[:3]  # it3 has no text, it7 no image: never returned
    far = queries.answer(ix, "some words", 1, encoders=encoders, farthest=True).hits
    assert far[0].id == order[-1]


def test_text_query_needs_text_features() -> None:
    f, labels = _features()
    ix = SearchIndex.build(f, labels=labels, with_text=False)
    with pytest.raises(ValueError, match="no text features"):
        queries.answer(ix, "text:hello", 3)


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
    with pytest.raises(ValueError, match="bare 'text:'"):
        queries.resolve_query(ix, "text: ")


# ---- vectors, rows and new items --------------------------------------------------------------
def test_vector_and_features_queries_agree_with_row_queries() -> None:
    f, labels = _features()
    ix = SearchIndex.build(f, labels=labels)
    row = ix.row("it5")
    by_row = [h.id for h in ix.similar_to(row, 6)]
    by_vector = [h.id for h in ix.similar_to(ix.vectors[row], 7)]
    assert by_vector[0] == "it5"  # a vector is not excluded: the item finds itself first
    assert by_vector[1:] == by_row
    one = f.subset(np.array([f.ids.index("it5")]))
    assert [h.id for h in ix.similar_to(one, 7)] == by_vector
    assert [h.id for h in ix.divergent_to(one, 3)] == [h.id for h in ix.divergent_to(row, 3)]
    with pytest.raises(ValueError, match="one query at a time"):
        ix.similar_to(f.subset(np.arange(2)), 3)


def test_to_space_maps_new_features_where_the_build_put_them() -> None:
    pytest.importorskip("torch")
    from pictext.rank.head import RankingHead

    f, labels = _features()
    y = np.array([int(s[1]) for s in labels])
    head = RankingHead(embed_dim=64, epochs=2, progress=False).fit(f, y)
    ix = SearchIndex.build(f, head=head, labels=labels)
    rows = np.array([f.ids.index(i) for i in ix.ids])
    np.testing.assert_allclose(ix.to_space(f.subset(rows)), ix.vectors, atol=1e-6)
    assert ix.usable(f).tolist() == [i != 7 for i in range(f.n)]


def test_text_search_by_vector_never_returns_items_without_text() -> None:
    f, labels = _features(12)
    ix = SearchIndex.build(f, labels=labels)
    hits = ix.text_search(np.ones(5, np.float32), k=50)
    assert len(hits) == 10  # 12 items, it7 not indexed, it3 without text
    assert {"it3", "it7"}.isdisjoint(h.id for h in hits)
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)


def _reference_recommend(ix, history, query, k, method, lambda_, pool):
    """What the service computed for a history plus an upload before the index did it."""
    from pictext.core.vectors import unit_rows
    from pictext.rank.ann import top_k_inner
    from pictext.rank.diversity import select

    unit = unit_rows(ix.vectors)
    rows = [ix.row(h) for h in history]
    seen = np.vstack([unit[rows], unit_rows(query[None])])
    profile = unit_rows(seen.mean(axis=0, keepdims=True))
    cand, _ = top_k_inner(unit, profile, pool + len(rows))
    cand = np.array([c for c in cand[0] if c >= 0 and c not in set(rows)][:pool])
    pick = select(method, unit[cand], unit[cand] @ profile[0], k, lambda_, seen)
    return [ix.ids[r] for r in cand[pick]]


@pytest.mark.parametrize("method", ["mmr", "dpp"])
@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_recommend_from_history_is_the_mean_cosine_selection(method: str, metric: str) -> None:
    from pictext.core.vectors import unit_rows
    from pictext.rank.ann import top_k_inner
    from pictext.rank.diversity import select

    f, labels = _features(120)
    ix = SearchIndex.build(f, labels=labels, metric=metric)
    rows = [ix.row(h) for h in ("it0", "it4", "it9")]
    unit = unit_rows(ix.vectors)
    mean = unit[rows].mean(axis=0, keepdims=True)  # relevance: the mean cosine to the history
    cand, _ = top_k_inner(unit, mean, 60 + len(rows))
    cand = np.array([c for c in cand[0] if c not in rows][:60])
    pick = select(method, unit[cand], unit[cand] @ mean[0], 8, 0.4, unit[rows])
    got = ix.recommend(["it0", "it4", "it9"], 8, method=method, lambda_=0.4, pool=60)
    assert [h.id for h in got] == [ix.ids[r] for r in cand[pick]]


@pytest.mark.parametrize("method", ["mmr", "dpp", "kcenter"])
@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_recommend_with_query_vectors(method: str, metric: str) -> None:
    f, labels = _features(120)
    ix = SearchIndex.build(f, labels=labels, metric=metric)
    query = np.array([0.0, 2.5, 0.3, 0.1], np.float32)
    for history in (["it0", "it4"], []):
        got = ix.recommend(history, 8, queries=query, method=method, lambda_=0.4, pool=60)
        want = _reference_recommend(ix, history, query, 8, method, 0.4, 60)
        assert [h.id for h in got] == want
        assert not set(history) & {h.id for h in got}
    with pytest.raises(ValueError, match="at least one history item"):
        ix.recommend([], 5)


def test_the_index_never_imports_the_query_module() -> None:
    import ast
    import inspect

    from pictext.rank import index as index_module

    tree = ast.parse(inspect.getsource(index_module))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "pictext.rank.queries" not in names
    assert not any(isinstance(n, ast.alias) and n.name == "queries" for n in ast.walk(tree))


def test_search_items_routes_images_and_texts() -> None:
    f, labels = _features()
    ix = SearchIndex.build(f, labels=labels)
    encoders = {"toy@1": _FakeImageEncoder(), "txt@1": _FakeTextEncoder()}.__getitem__
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255
    items = [
        queries.Item("up", pixels=red, title="ignored: the image decides"),
        queries.Item("words", title="only text"),
    ]
    image_hits, text_hits = queries.search_items(ix, items, 4, encoders=encoders)
    assert {h.label for h in image_hits} == {"c0"}
    assert [h.id for h in text_hits] == [h.id for h in ix.text_search(np.eye(5)[0], 4)]
    with pytest.raises(queries.QueryInputError, match="nothing: a search needs"):
        queries.search_items(ix, [queries.Item("nothing")], 3, encoders=encoders)
    bare = SearchIndex.build(f, labels=labels, with_text=False)
    with pytest.raises(queries.QueryInputError, match="words: a search needs an image"):
        queries.search_items(bare, items[1:], 3, encoders=encoders)


def test_an_unreadable_query_file_is_refused(tmp_path) -> None:
    from pictext.store import UnreadableItemsError

    f, labels = _features()
    ix = SearchIndex.build(f, labels=labels)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    encoders = {"toy@1": _FakeImageEncoder()}.__getitem__
    with pytest.raises(UnreadableItemsError, match=f"cannot read {bad}"):
        queries.answer(ix, f"file:{bad}", 3, encoders=encoders)


# ---- query strings: named, bounded, and saying what answered ---------------------------------
@pytest.mark.parametrize("query", ["it99", "it99.png", "cats/tom.png", "C:\\pics\\tom"])
def test_a_query_naming_no_id_and_no_file_is_an_error(query: str) -> None:
    f, labels = _features()
    ix = SearchIndex.build(f, labels=labels)
    if query == "it99":  # one plain word: searched as text, and the answer says so
        encoders = {"txt@1": _FakeTextEncoder()}.__getitem__
        answer = queries.answer(ix, query, 2, encoders=encoders)
        assert (answer.kind, answer.how) == ("text", "text (no item id or file of that name)")
        return
    with pytest.raises(queries.UnknownQueryError, match="no such file, and not an item id"):
        queries.answer(ix, query, 3)


def test_text_is_searched_when_asked_for_whatever_it_looks_like() -> None:
    f, labels = _features()
    ix = SearchIndex.build(f, labels=labels)
    encoders = {"txt@1": _FakeTextEncoder()}.__getitem__
    by_flag = queries.answer(ix, "cats/tom.png", 3, text=True, encoders=encoders)
    by_prefix = queries.answer(ix, "text:cats/tom.png", 3, encoders=encoders)
    assert by_flag.kind == by_prefix.kind == "text"
    assert [h.id for h in by_flag.hits] == [h.id for h in by_prefix.hits]


def test_an_answer_names_the_index_it_came_from(tmp_path) -> None:
    f, labels = _features()
    titles = [f"title {i}" for i in range(f.n)]
    SearchIndex.build(f, labels=labels, titles=titles).save(tmp_path / "ix")
    ix = SearchIndex.load(tmp_path / "ix")
    answer = queries.answer(ix, "it5", 2)
    assert answer.index["path"] == str((tmp_path / "ix").resolve())
    assert answer.index["items"] == len(ix) == f.n - 1  # it7 has no image
    assert answer.how == "item id of the index"
    assert answer.distance.startswith("d: how far each image is from the query (raw")
    assert [h.title for h in answer.hits] == [titles[f.ids.index(h.id)] for h in answer.hits]
    with pytest.raises(KeyError, match=f"not in the index {(tmp_path / 'ix').resolve()}"):
        queries.answer(ix, "id:nope", 2)


@pytest.mark.parametrize("k", [-1, 0, 101, 10**9])
def test_k_is_bounded_in_every_query_call(k: int) -> None:
    from pictext.core.errors import UsageError

    f, labels = _features()
    ix = SearchIndex.build(f, labels=labels)
    for call in (
        lambda: queries.answer(ix, "it0", k).hits,
        lambda: queries.answer(ix, "it0", k, farthest=True).hits,
        lambda: queries.search_items(ix, [queries.Item("q", title="x")], k),
        lambda: queries.recommend_items(ix, ["it0"], k=k),
    ):
        with pytest.raises(UsageError, match=f"k must be between 1 and 100, got {k}"):
            call()
