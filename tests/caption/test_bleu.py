from __future__ import annotations

import math

import numpy as np
import pytest

from pictext.caption.bleu import (
    bleu_scores,
    caption_stats,
    most_frequent_caption,
    nearest_caption,
    nearest_rows,
    sentence_overlap,
)


def test_bleu_known_answer() -> None:
    # Hand-computed: 1-gram 5/6, 2-gram 3/5, 3-gram 1/4, 4-gram 0/3, equal lengths (BP = 1).
    s = bleu_scores(["the cat sat on the mat"], ["the cat is on the mat"])
    assert s["bleu1"] == pytest.approx(5 / 6)
    assert s["bleu2"] == pytest.approx(math.sqrt(5 / 6 * 3 / 5))
    assert s["bleu3"] == pytest.approx(0.5)
    assert s["bleu4"] == 0.0  # no 4-gram matches and no smoothing: short references do this


def test_bleu_brevity_penalty_and_corpus_pooling() -> None:
    short = bleu_scores(["the cat"], ["the cat sat on the mat"], max_order=1)
    assert short["bleu1"] == pytest.approx(math.exp(1 - 6 / 2))
    # Corpus BLEU pools n-gram counts over sentences instead of averaging sentence scores.
    pooled = bleu_scores(["red car", "big dog"], ["red car", "small cat"], max_order=1)
    assert pooled["bleu1"] == pytest.approx(2 / 4)


def test_bleu_multiple_references_and_errors() -> None:
    s = bleu_scores(["blue car"], [["red car", "blue car"]], max_order=2)
    assert s["bleu2"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="1 hypotheses but 2 references"):
        bleu_scores(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="no captions"):
        bleu_scores([], [])


def test_nearest_caption_baseline() -> None:
    train = np.array([[1, 0], [0, 1], [1, 1]], np.float32)
    query = np.array([[0.1, 2.0], [5, 0.2], [2, 2.1]], np.float32)
    assert nearest_caption(train, ["east", "north", "diagonal"], query) == [
        "north",
        "east",
        "diagonal",
    ]
    assert nearest_rows(query, train, k=2)[0].tolist() == [1, 2]


def test_most_frequent_and_stats() -> None:
    assert most_frequent_caption(["b", "a", "b", "", "a", "c"], 2) == ["a", "a"]  # tie -> a
    with pytest.raises(ValueError, match="no non-empty"):
        most_frequent_caption(["", ""], 1)
    stats = caption_stats(["red car", "red car", "new thing"], ["red car", "blue car"])
    assert stats == {
        "distinct": pytest.approx(2 / 3),
        "copied": pytest.approx(2 / 3),
        "mean_words": pytest.approx(2.0),
    }


def test_sentence_overlap() -> None:
    assert sentence_overlap("red car", "red car") == 1.0
    assert sentence_overlap("red car", "blue bus") == 0.0
    assert sentence_overlap("red red car", "red car park") == pytest.approx(2 / 3)
