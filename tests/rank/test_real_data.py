"""Ranking head and index on real tuxpaint embeddings (cached EfficientNet-Lite0)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_tuxpaint_head_beats_raw_and_index_round_trips(tmp_path) -> None:
    pytest.importorskip("torch")
    from pictext.rank.evaluate import evaluation_triplets
    from pictext.rank.head import RankingHead
    from pictext.rank.index import SearchIndex
    from pictext.rank.metrics import triplet_accuracy
    from pictext.rank.runs import RunSpec, load

    try:
        data = load(RunSpec("tuxpaint", 0.4, 0), progress=False)
    except FileNotFoundError as err:  # the Debian package is not installed here
        pytest.skip(str(err))
    head = RankingHead(embed_dim=512, epochs=4, progress=False).fit(
        data.features.subset(data.train),
        data.labels[data.train],
        eval_features=data.features.subset(data.val),
        eval_labels=data.labels[data.val],
    )
    test = data.features.subset(data.test)
    trip = evaluation_triplets(data.labels[data.test], per_query=10, seed=1)
    raw = triplet_accuracy(np.asarray(test.image), trip)
    assert triplet_accuracy(head.transform(test), trip) > raw
    labels = [it.label for it in data.dataset.items]
    ix = SearchIndex.build(data.features, head=head, labels=labels, dataset="tuxpaint")
    ix.save(tmp_path / "ix")
    back = SearchIndex.load(tmp_path / "ix")
    first = back.ids[0]
    assert [h.id for h in back.similar_to(back.row(first), 5)] == [
        h.id for h in ix.similar_to(ix.row(first), 5)
    ]
    assert len(back.recommend([first], 10, method="dpp")) == 10
