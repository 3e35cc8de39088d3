"""Caption evaluation: BLEU-1..4, the sentence-encoder cosine, degenerate captions.

Corpus BLEU (sacrebleu, :func:`~pictext.caption.bleu.bleu_scores`) pools n-gram counts and
applies one brevity penalty to the whole corpus, so with one short reference per image it
is brittle: a synonym earns nothing, and a few long captions weigh a lot (on openclipart the
3% of captions longer than 16 words hold about a fifth of all words). The second metric is
less brittle: the cosine between the sentence embeddings of each hypothesis and its
reference, averaged over images (every image counts once). Both are taken on cleaned text
(:func:`~pictext.caption.text.clean_caption`: one-letter words such as "a" dropped, as in the
references). The degenerate rate (:mod:`pictext.caption.grammar`) is taken on the captions
as shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.caption.bleu import bleu_scores
from pictext.caption.grammar import degenerate_rate
from pictext.caption.text import clean_caption
from pictext.core.vectors import unit_rows

if TYPE_CHECKING:
    from pictext.encoders.base import TextEncoder


def caption_cosine(
    hypotheses: Sequence[str], references: Sequence[str], text_encoder: TextEncoder
) -> np.ndarray:
    """Per image, the cosine between the sentence embeddings of hypothesis and reference."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    h = unit_rows(text_encoder.encode(list(hypotheses)))
    r = unit_rows(text_encoder.encode(list(references)))
    return np.sum(h * r, axis=1)


def caption_metrics(
    hypotheses: Sequence[str], references: Sequence[str], text_encoder: TextEncoder
) -> dict[str, Any]:
    """BLEU-1..4, mean caption cosine and degenerate shares of captions against references.

    Args:
        hypotheses: One caption per image, as a captioner returns it.
        references: One cleaned reference caption per image.
        text_encoder: Sentence encoder of the cosine metric.

    Returns:
        ``bleu1`` .. ``bleu4`` and ``cosine`` in ``[0, 1]`` (cosine in ``[-1, 1]``),
        ``degenerate`` and its parts (see :func:`~pictext.caption.grammar.degenerate_rate`).
    """
    clean = [clean_caption(h) for h in hypotheses]
    out: dict[str, Any] = dict(bleu_scores(clean, references))
    out["cosine"] = float(np.mean(caption_cosine(clean, references, text_encoder)))
    out.update(degenerate_rate(hypotheses))
    return out


def selection_score(metrics: dict[str, Any]) -> float:
    """What picks a bundle's default captioner on validation: mean of BLEU-1 and cosine."""
    return (float(metrics["bleu1"]) + float(metrics["cosine"])) / 2
