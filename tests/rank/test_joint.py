"""The joint image-text space: a ranking head that reads image and text, trained with modality
dropout and cross-modal alignment, so a text finds pictures and an image with words lands
beside both."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pictext.core.vectors import unit_rows
from pictext.data.item import Item
from pictext.rank.head import RankingHead
from pictext.rank.index import SearchIndex
from pictext.rank.queries import item_text_fields, reads_text
from pictext.store.features import Features

pytest.importorskip("torch")


def _pairs(n_per: int = 40, seed: int = 0) -> tuple[Features, np.ndarray]:
    """Each item has a latent vector (its class centre plus its own part) that its image and
    its text show through two different random maps, each with noise of its own."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(4), n_per)
    latent = 2.0 * np.eye(8)[y] + rng.normal(size=(len(y), 8))
    maps = np.random.default_rng(99)  # the same towers for every split
    a, b = maps.normal(size=(8, 24)), maps.normal(size=(8, 16))
    image = latent @ a + 0.5 * rng.normal(size=(len(y), 24))
    text = latent @ b + 0.5 * rng.normal(size=(len(y), 16))
    n = len(y)
    f = Features(
        [f"i{i}" for i in range(n)],
        image.astype(np.float32),
        np.ones(n, bool),
        {"text": text.astype(np.float32)},
        {"text": np.ones(n, bool)},
        image_encoder="toy@1",
        text_encoder="toyt@1",
    )
    return f, y


def _fit(f: Features, y: np.ndarray, **cfg: float) -> RankingHead:
    params = dict(embed_dim=16, epochs=25, lr=3e-3, use_text=True, seed=0) | cfg
    return RankingHead(progress=False, **params).fit(f, y)


def _text_only(f: Features) -> Features:
    return replace(f, image_mask=np.zeros(f.n, bool))


def _image_only(f: Features) -> Features:
    return replace(f, text_mask={"text": np.zeros(f.n, bool)})


def _own_item_recall(head: RankingHead, f: Features, k: int = 5) -> float:
    """Share of texts whose own item (indexed by its image alone) is among the k nearest."""
    sims = unit_rows(head.transform(_text_only(f))) @ unit_rows(head.transform(_image_only(f))).T
    own = sims[np.arange(f.n), np.arange(f.n)]
    return float(np.mean((sims > own[:, None]).sum(axis=1) < k))


def _class_precision(q: np.ndarray, items: np.ndarray, y: np.ndarray, k: int = 10) -> float:
    sims = unit_rows(q) @ unit_rows(items).T
    np.fill_diagonal(sims, -np.inf)
    top = np.argsort(-sims, axis=1)[:, :k]
    return float(np.mean(y[top] == y[:, None]))


def test_alignment_puts_an_items_text_beside_its_own_image() -> None:
    train, y = _pairs(seed=0)
    test, _ = _pairs(seed=1)
    plain = _fit(train, y, align_weight=0.0, modality_dropout=0.0)
    joint = _fit(train, y, align_weight=1.0, modality_dropout=0.5)
    chance = 5 / test.n
    assert _own_item_recall(joint, test) > 10 * chance
    assert _own_item_recall(joint, test) > _own_item_recall(plain, test) + 0.1


def test_a_text_alone_finds_pictures_without_text_of_its_class() -> None:
    train, y = _pairs(seed=0)
    test, yt = _pairs(seed=1)

    def text_to_picture(head: RankingHead) -> float:
        return _class_precision(
            head.transform(_text_only(test)), head.transform(_image_only(test)), yt
        )

    plain = _fit(train, y, align_weight=0.0, modality_dropout=0.0)
    joint = _fit(train, y, align_weight=1.0, modality_dropout=0.5)
    # chance is 0.25; the same-modality ceiling of this noisy data is about 0.6 (measured)
    assert text_to_picture(joint) > 0.4
    assert text_to_picture(joint) > text_to_picture(plain) + 0.08


def test_modality_dropout_brings_the_single_input_views_together() -> None:
    train, y = _pairs(seed=0)
    test, _ = _pairs(seed=1)

    def gap(head: RankingHead) -> float:  # mean cosine of an item's image view to its text view
        zi = unit_rows(head.transform(_image_only(test)))
        zt = unit_rows(head.transform(_text_only(test)))
        return float(np.mean(np.sum(zi * zt, axis=1)))

    without = _fit(train, y, align_weight=0.0, modality_dropout=0.0)
    with_both = _fit(train, y, align_weight=1.0, modality_dropout=0.5)
    assert gap(with_both) > gap(without) + 0.2


def test_the_validation_score_covers_every_query_kind() -> None:
    train, y = _pairs(seed=0)
    head = _fit(train, y, align_weight=1.0, modality_dropout=0.5, epochs=3)
    scores = [h["val_triplet_acc"] for h in head.history]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert head.best_epoch is not None


def test_a_joint_index_answers_text_and_image_queries_in_one_space(tmp_path) -> None:
    f, y = _pairs(seed=0)
    head = _fit(f, y, align_weight=1.0, modality_dropout=0.5)
    # half the collection has no text: a text query must still find those pictures
    mask = np.arange(f.n) % 2 == 0
    indexed = replace(f, text_mask={"text": mask})
    ix = SearchIndex.build(indexed, head=head, labels=[str(c) for c in y])
    assert reads_text(ix)
    ix.save(tmp_path / "ix")
    back = SearchIndex.load(tmp_path / "ix")
    assert reads_text(back)
    probe, yp = _pairs(seed=2)
    queries = back.to_space(_text_only(probe))
    same, textless = [], []
    for row in range(0, probe.n, 7):
        hits = back.similar_to(queries[row], k=10)
        same += [h.label == str(yp[row]) for h in hits]
        textless += [not mask[h.row] for h in hits]
    assert np.mean(same) > 0.4  # chance 0.25
    # pictures without text are found by words (less often than those whose text matches too)
    assert np.mean(textless) > 0.1


def test_a_title_on_an_image_only_index_is_named_as_ignored() -> None:
    f, y = _pairs(seed=0)
    image_only = RankingHead(embed_dim=8, epochs=1, progress=False).fit(
        Features(f.ids, f.image, f.image_mask, image_encoder="toy@1"), y
    )
    ix = SearchIndex.build(f, head=image_only)
    assert not reads_text(ix)
    assert item_text_fields(Item("q.png", "q.png", title="a frog", tags=("pond",))) == [
        "title",
        "tags",
    ]
