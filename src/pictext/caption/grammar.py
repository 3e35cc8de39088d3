"""Tidy generated captions, and tell a degenerate caption from a fluent one.

A caption is *degenerate* when it repeats a word immediately ("red red"), repeats a word
bigram anywhere ("pair of pair of"), or uses the wrong indefinite article ("an penguin",
"a apple", or an article with no word after it). :func:`tidy_caption` fixes the articles
(by the next word's first sound, a spelling heuristic) and is applied to every caption a
captioner returns; decoding constraints (:mod:`pictext.caption.beam`) keep the repeats out.

Example:
    >>> tidy_caption("an penguin on an ice floe")
    'a penguin on an ice floe'
    >>> degenerate_reasons("pair of pair of shoes")
    ['repeated bigram']
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

ARTICLES = frozenset({"a", "an"})
REASONS: tuple[str, ...] = ("repeated word", "repeated bigram", "article")
# Words spelt with a vowel but said with a consonant ("a unicorn"), and the reverse ("an hour").
_CONSONANT_SOUND = ("uni", "use", "usu", "uti", "ute", "uku", "ura", "eu", "ewe", "one", "once")
_VOWEL_SOUND = ("hour", "honest", "honour", "honor", "heir", "herb")


def article_for(word: str) -> str:
    """``"an"`` when ``word`` starts with a vowel sound, else ``"a"`` (a spelling heuristic).

    Example:
        >>> [article_for(w) for w in ("apple", "unicorn", "hour", "umbrella", "tree")]
        ['an', 'a', 'an', 'an', 'a']
    """
    w = word.lower()
    if w.startswith(_VOWEL_SOUND):
        return "an"
    if w.startswith(_CONSONANT_SOUND):
        return "a"
    return "an" if w[:1] in set("aeiou") else "a"


def tidy_caption(caption: str) -> str:
    """``caption`` with every indefinite article chosen by the word after it.

    An article followed by another article or by nothing is dropped.
    """
    words = caption.split()
    out: list[str] = []
    for i, w in enumerate(words):
        if w in ARTICLES:
            nxt = words[i + 1] if i + 1 < len(words) else None
            if nxt is None or nxt in ARTICLES:
                continue
            w = article_for(nxt)
        out.append(w)
    return " ".join(out)


def degenerate_reasons(caption: str) -> list[str]:
    """What makes ``caption`` degenerate (a subset of :data:`REASONS`); empty when fluent."""
    words = caption.split()
    reasons = []
    if any(a == b for a, b in pairwise(words)):
        reasons.append("repeated word")
    bigrams = list(pairwise(words))
    if len(set(bigrams)) < len(bigrams):
        reasons.append("repeated bigram")
    if any(_wrong_article(w, nxt) for w, nxt in zip(words, [*words[1:], None], strict=False)):
        reasons.append("article")
    return reasons


def _wrong_article(word: str, nxt: str | None) -> bool:
    if word not in ARTICLES:
        return False
    return nxt is None or nxt in ARTICLES or article_for(nxt) != word


def degenerate_rate(captions: Sequence[str]) -> dict[str, float]:
    """Share of ``captions`` that are degenerate, overall and per reason.

    Returns:
        ``{"degenerate": ..., "repeated word": ..., "repeated bigram": ..., "article": ...}``.
    """
    if not captions:
        raise ValueError("no captions to check")
    found = [set(degenerate_reasons(c)) for c in captions]
    out = {"degenerate": float(np.mean([bool(f) for f in found]))}
    out.update({r: float(np.mean([r in f for f in found])) for r in REASONS})
    return out
