from __future__ import annotations

import pytest

from pictext.caption.grammar import article_for, degenerate_rate, degenerate_reasons, tidy_caption


@pytest.mark.parametrize(
    ("word", "article"),
    [
        ("apple", "an"),
        ("penguin", "a"),
        ("yellow", "a"),
        ("hour", "an"),
        ("honest", "an"),
        ("unicorn", "a"),
        ("umbrella", "an"),
        ("european", "a"),
        ("one", "a"),
        ("owl", "an"),
    ],
)
def test_article_by_the_next_words_sound(word: str, article: str) -> None:
    assert article_for(word) == article


def test_tidy_fixes_articles_and_nothing_else() -> None:
    assert tidy_caption("an penguin") == "a penguin"
    assert tidy_caption("a apple and an yellow banana") == "an apple and a yellow banana"
    assert tidy_caption("an an owl") == "an owl"  # an article before an article goes
    assert tidy_caption("red car an") == "red car"  # and one with no word after it
    assert tidy_caption("red red car") == "red red car"  # repeats are decoding's job
    assert tidy_caption("") == ""


def test_degenerate_reasons_known_answers() -> None:
    assert degenerate_reasons("red apple on table") == []
    assert degenerate_reasons("red red red") == ["repeated word", "repeated bigram"]
    assert degenerate_reasons("an an an") == ["repeated word", "repeated bigram", "article"]
    assert degenerate_reasons("pair of pair of shoes") == ["repeated bigram"]
    assert degenerate_reasons("an penguin") == ["article"]
    assert degenerate_reasons("an yellow and") == ["article"]
    assert degenerate_reasons("penguin an") == ["article"]
    assert degenerate_reasons("an owl on a branch") == []
    assert degenerate_reasons("") == []


def test_degenerate_rate_counts_captions_not_reasons() -> None:
    rate = degenerate_rate(["red red red", "an penguin", "blue car", "green tree"])
    assert rate["degenerate"] == pytest.approx(0.5)
    assert rate["repeated word"] == pytest.approx(0.25)
    assert rate["article"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="no captions"):
        degenerate_rate([])
