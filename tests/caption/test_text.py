from __future__ import annotations

import numpy as np
import pytest

from pictext.caption.text import END, START, Vocabulary, clean_caption, unwrap, wrap


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("A US 25 cent piece ($.25) called a quarter.", "us cent piece called quarter"),
        ("Grandma’s old rag-doll!", "grandmas old rag doll"),
        ("  I SAW 3 Dogs & a cat  ", "saw dogs cat"),
        ("R2D2 robot, version 2.0", "robot version"),
        ("Crème brûlée", "crème brûlée"),
        ("", ""),
        ("a b c 1 2 3 ...", ""),
    ],
)
def test_clean_caption_known_answers(raw: str, clean: str) -> None:
    assert clean_caption(raw) == clean


def test_wrap_and_unwrap() -> None:
    assert wrap("red apple") == f"{START} red apple {END}"
    assert wrap("") == f"{START} {END}"
    assert unwrap(wrap("red apple").split()) == "red apple"


def test_vocabulary_min_count_and_order() -> None:
    vocab = Vocabulary.build(["red car", "red apple", "blue car", "red"], min_count=2)
    assert vocab.words[4:] == ["red", "car"]  # by count (3, 2), rare words dropped
    assert Vocabulary.build(["red car", "blue car"], min_count=1).words[4:] == [
        "car",
        "blue",
        "red",
    ]


def test_vocabulary_encode_decode_unknown_and_max_len() -> None:
    vocab = Vocabulary.build(["red car", "red car big"], min_count=2)
    ids = vocab.encode("red big car", max_len=10)
    assert ids.tolist() == [
        vocab.start,
        vocab.index["red"],
        vocab.unk,
        vocab.index["car"],
        vocab.end,
    ]
    assert vocab.words[4:] == ["car", "red"]  # equal counts: alphabetical
    assert vocab.encode("red car red car", max_len=2).tolist() == [2, 5, 4, 3]
    assert vocab.decode([2, 5, 4, 3, 4]) == "red car"  # stops at endseq
    batch = vocab.encode_batch(["red", "red car"], max_len=5)
    assert batch.shape == (2, 4)
    assert batch[0].tolist() == [2, 5, 3, 0]


def test_vocabulary_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="must start with"):
        Vocabulary(["a", "b"])
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.build(["a"], min_count=0)
    assert Vocabulary.build([]).encode_batch([], max_len=3).shape == (0, 2)
    assert np.issubdtype(Vocabulary.build(["xx"]).encode("xx", max_len=3).dtype, np.integer)
