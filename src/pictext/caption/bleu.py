"""Caption evaluation: corpus BLEU-1..4 (sacrebleu) and the baselines beside the models.

References here are single and short (a tuxpaint description averages four words; an
openclipart title fewer), so BLEU is harsh and noisy: one reference cannot reward a correct
synonym, and with few 3- and 4-grams per caption BLEU-3/4 fall to zero easily. BLEU-1/2 and
the comparison against the baselines on the same split carry the information.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from pictext.core.vectors import unit_rows


def bleu_scores(
    hypotheses: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    *,
    max_order: int = 4,
    smooth: str = "none",
) -> dict[str, float]:
    """Corpus BLEU-1 .. BLEU-``max_order`` of cleaned, space-separated captions.

    BLEU-n is the cumulative score (geometric mean of 1..n-gram precisions times the
    brevity penalty), as NLTK's ``corpus_bleu`` with uniform weights; computed by sacrebleu
    with no further tokenisation.

    Args:
        hypotheses: One generated caption per image.
        references: One reference caption per image, or a list of references per image.
        max_order: Largest n.
        smooth: sacrebleu smoothing (``"none"``, ``"floor"``, ``"add-k"``, ``"exp"``).

    Returns:
        ``{"bleu1": ..., "bleu4": ...}`` in ``[0, 1]``.

    Example:
        >>> s = bleu_scores(["the cat sat on the mat"], ["the cat is on the mat"], max_order=3)
        >>> [round(v, 4) for v in s.values()]
        [0.8333, 0.7071, 0.5]
    """
    from sacrebleu.metrics import BLEU

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        raise ValueError("no captions to score")
    refs = [[r] if isinstance(r, str) else list(r) for r in references]
    width = max(len(r) for r in refs)
    # sacrebleu takes reference streams; an image with fewer references gets None fillers.
    streams = [[r[j] if j < len(r) else None for r in refs] for j in range(width)]
    out = {}
    for n in range(1, max_order + 1):
        bleu = BLEU(max_ngram_order=n, tokenize="none", smooth_method=smooth)
        out[f"bleu{n}"] = bleu.corpus_score(list(hypotheses), streams).score / 100.0
    return out


def nearest_caption(
    train_image: np.ndarray, train_captions: Sequence[str], query_image: np.ndarray
) -> list[str]:
    """Baseline: the caption of the nearest training image (cosine of image embeddings)."""
    if len(train_image) != len(train_captions):
        raise ValueError(f"{len(train_image)} training rows but {len(train_captions)} captions")
    nearest = nearest_rows(query_image, train_image, k=1)[:, 0]
    return [train_captions[int(i)] for i in nearest]


def most_frequent_caption(train_captions: Sequence[str], n: int) -> list[str]:
    """Baseline: the most frequent (non-empty) training caption, repeated ``n`` times."""
    counts = Counter(c for c in train_captions if c)
    if not counts:
        raise ValueError("no non-empty training caption")
    best = min(counts, key=lambda c: (-counts[c], c))
    return [best] * n


def nearest_rows(query: np.ndarray, base: np.ndarray, *, k: int) -> np.ndarray:
    """Indices ``[Q, k]`` of the ``k`` rows of ``base`` most cosine-similar to each query."""
    q = unit_rows(query)
    b = unit_rows(base)
    sims = q @ b.T
    k = min(k, b.shape[0])
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(sims, top, axis=1).argsort(axis=1, kind="stable")[:, ::-1]
    return np.take_along_axis(top, order, axis=1)


def caption_stats(hypotheses: Sequence[str], train_captions: Sequence[str]) -> dict[str, float]:
    """How varied the generated captions are and how often they copy a training caption."""
    seen = set(train_captions)
    lengths = [len(h.split()) for h in hypotheses]
    return {
        "distinct": len(set(hypotheses)) / max(len(hypotheses), 1),
        "copied": float(np.mean([h in seen for h in hypotheses])) if hypotheses else 0.0,
        "mean_words": float(np.mean(lengths)) if lengths else 0.0,
    }


def sentence_overlap(hypothesis: str, reference: str) -> float:
    """Unigram F1 of two captions: a per-image score for picking good and bad examples."""
    h, r = Counter(hypothesis.split()), Counter(reference.split())
    common = sum((h & r).values())
    if common == 0:
        return 0.0
    precision, recall = common / sum(h.values()), common / sum(r.values())
    return 2 * precision * recall / (precision + recall)
