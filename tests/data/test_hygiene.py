from __future__ import annotations

import pytest

from pictext.data.dataset import Dataset
from pictext.data.hygiene import label_vocabulary, strip_label_words, strip_text, word_forms
from pictext.data.item import Item


def _ds() -> Dataset:
    return Dataset(
        "t",
        [
            Item(
                "1",
                title="Two DOGS playing",
                description="A dog-house for my dog.",
                tags=("dog", "Dogs", "pet", "north_america"),
                label="dog",
                fine_label="puppy",
            ),
            Item(
                "2",
                title="Signs and symbols",
                description="A road sign; doggedly",
                tags=("sign", "road_signs", "puppies"),
                label="signs_and_symbols",
            ),
            Item("3", title="Cities at night", description="", tags=(), label="city"),
        ],
        problems=["x: kept"],
    )


def test_vocabulary_splits_underscores_and_includes_fine_labels() -> None:
    assert label_vocabulary(_ds()) == {"dog", "puppy", "signs", "and", "symbols", "city"}


@pytest.mark.parametrize(
    ("word", "forms"),
    [
        ("dog", {"dog", "dogs"}),
        ("city", {"city", "cities"}),
        ("cities", {"cities", "city"}),
        ("box", {"box", "boxes"}),
        ("signs", {"signs", "sign", "signses"}),
    ],
)
def test_word_forms(word: str, forms: set[str]) -> None:
    assert forms <= word_forms(word)


def test_strip_label_words_removes_words_in_every_field() -> None:
    out = strip_label_words(_ds())
    a, b, c = out.items
    assert a.title == "Two playing"
    assert a.description == "A house for my."
    assert a.tags == ("pet", "north_america")  # "america" is not a label word
    assert b.title == ""  # "Signs and symbols": every word is a label word
    assert b.description == "A road; doggedly"  # whole words only
    assert b.tags == ("road",)  # "road_signs" -> "road"; "puppies" (fine label plural) dropped
    assert c.title == "at night"
    assert [it.label for it in out] == ["dog", "signs_and_symbols", "city"]
    assert out.classes == ["city", "dog", "signs_and_symbols"]
    assert out.problems == ["x: kept"]
    assert _ds().items[0].title == "Two DOGS playing"  # input untouched


def test_strip_text_without_vocabulary_is_identity() -> None:
    assert strip_text("Keep me", None) == "Keep me"
