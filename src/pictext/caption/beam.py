"""Greedy and beam-search decoding for the caption decoders, under one set of rules.

Scores are sums of next-token log-probabilities (``endseq`` included when reached), under
the distribution renormalised over the tokens a caption may contain: padding, ``startseq``
and the unknown-word token are never generated. :class:`Decoding` holds the rules every
caption is made with (the CLI, the service, the report and the page all use its defaults):
the beam width, length normalisation and the repeat constraints (no word right after
itself, no word bigram twice). Greedy decoding is beam search of width 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from pictext.caption.decoding import DEFAULT_DECODING, REPRODUCTION, Decoding


@dataclass(frozen=True)
class Hypothesis:
    """One decoded caption as token ids (markers excluded) with its log-probability."""

    ids: tuple[int, ...]  # generated word ids, without startseq / endseq
    score: float  # sum of log-probabilities of the words and of the closing endseq
    truncated: bool  # True when max_len words were reached and endseq was appended


def repeat_bans(prefix: Sequence[int], decoding: Decoding) -> set[int]:
    """Word ids that may not follow ``prefix`` (generated words, markers excluded).

    Example:
        >>> sorted(repeat_bans([5, 6, 5], Decoding(no_repeat_ngram=2)))
        [5, 6]
    """
    banned: set[int] = set()
    if not prefix:
        return banned
    if decoding.no_immediate_repeat:
        banned.add(prefix[-1])
    n = decoding.no_repeat_ngram
    if n and len(prefix) >= n - 1:
        tail = tuple(prefix[len(prefix) - n + 1 :])
        for i in range(len(prefix) - n + 1):
            if tuple(prefix[i : i + n - 1]) == tail:
                banned.add(prefix[i + n - 1])
    return banned


def _next_log_probs(
    model: nn.Module,
    image: torch.Tensor,
    tokens: torch.Tensor,
    banned: Sequence[int],
    decoding: Decoding,
    only_end: int | None = None,
) -> torch.Tensor:
    logits = model(image, tokens)[:, -1, :].double()
    logits[:, list(banned)] = float("-inf")
    if decoding.no_repeat_ngram or decoding.no_immediate_repeat:
        for row, prefix in enumerate(tokens[:, 1:].tolist()):
            bans = repeat_bans(prefix, decoding)
            if bans:
                logits[row, list(bans)] = float("-inf")
    logp = torch.log_softmax(logits, dim=-1)
    if only_end is not None:
        # At max_len the caption must close: keep the real probability of endseq only.
        keep = logp[:, only_end].clone()
        logp.fill_(float("-inf"))
        logp[:, only_end] = keep
    return logp


@torch.no_grad()
def beam_decode(
    model: nn.Module,
    image: torch.Tensor,
    *,
    start: int,
    end: int,
    max_len: int,
    decoding: Decoding | None = None,
    banned: Sequence[int] = (),
) -> list[Hypothesis]:
    """Beam search under ``decoding``'s rules, for a batch of image embeddings.

    Args:
        model: A decoder in eval mode, ``(image, tokens) -> logits``.
        image: Float ``[B, Di]`` image embeddings.
        start: Id of ``startseq``.
        end: Id of ``endseq``.
        max_len: Most words generated before ``endseq``.
        decoding: Beam width, length penalty (finished captions are ranked by
            ``score / (words + 1) ** length_penalty``; 0 ranks by total log-probability,
            which favours short captions) and repeat constraints; default :class:`Decoding`.
        banned: Token ids never generated.

    Returns:
        The best hypothesis per image.
    """
    decoding = decoding or DEFAULT_DECODING
    b, k, alpha = image.shape[0], decoding.beam_size, decoding.length_penalty
    images = image.repeat_interleave(k, dim=0)
    tokens = torch.full((b * k, 1), start, dtype=torch.long)
    scores = torch.full((b, k), float("-inf"), dtype=torch.float64)
    scores[:, 0] = 0.0  # one live beam per image at the start
    finished: list[list[Hypothesis]] = [[] for _ in range(b)]
    done = [False] * b

    def rank(h: Hypothesis) -> float:
        return h.score / (len(h.ids) + 1) ** alpha

    for step in range(max_len + 1):
        only_end = end if step == max_len else None
        logp = _next_log_probs(model, images, tokens, banned, decoding, only_end)
        cand = (scores[:, :, None] + logp.view(b, k, -1)).view(b, -1)  # [B, K*V]
        top_scores, top_idx = cand.topk(min(2 * k, cand.shape[1]), dim=1)
        v = logp.shape[1]
        new_rows, new_scores = [], torch.full((b, k), float("-inf"), dtype=torch.float64)
        for i in range(b):
            kept = []
            for s, j in zip(top_scores[i].tolist(), top_idx[i].tolist(), strict=True):
                if s == float("-inf") or len(kept) == k or done[i]:
                    break
                beam, word = divmod(j, v)
                prefix = tokens[i * k + beam, 1:].tolist()
                if word == end:
                    finished[i].append(Hypothesis(tuple(prefix), s, len(prefix) == max_len))
                else:
                    kept.append((i * k + beam, word, s))
            done[i] = done[i] or _can_stop(finished[i], kept, k, alpha, step + 1)
            kept += [(i * k, end, float("-inf"))] * (k - len(kept))  # dead filler beams
            for slot, (row, word, s) in enumerate(kept):
                new_rows.append((row, word))
                new_scores[i, slot] = s
        rows = torch.tensor([r for r, _ in new_rows])
        words = torch.tensor([w for _, w in new_rows])
        tokens = torch.cat([tokens[rows], words[:, None]], dim=1)
        scores = new_scores
        if all(done):
            break
    return [max(f, key=rank) for f in finished]


@torch.no_grad()
def greedy_decode(
    model: nn.Module,
    image: torch.Tensor,
    *,
    start: int,
    end: int,
    max_len: int,
    banned: Sequence[int] = (),
) -> list[Hypothesis]:
    """The most likely next word at every step, unconstrained (the report's decoding).

    Vectorised over the batch; used to score held-back pairs while training. Arguments as
    in :func:`beam_decode`.
    """
    b = image.shape[0]
    tokens = torch.full((b, 1), start, dtype=torch.long)
    scores = torch.zeros(b, dtype=torch.float64)
    alive = torch.ones(b, dtype=torch.bool)
    for step in range(max_len + 1):
        only_end = end if step == max_len else None
        logp = _next_log_probs(model, image, tokens, banned, REPRODUCTION, only_end)
        best, nxt = logp.max(dim=-1)
        scores += torch.where(alive, best, torch.zeros_like(scores))
        nxt = torch.where(alive, nxt, torch.full_like(nxt, end))
        tokens = torch.cat([tokens, nxt[:, None]], dim=1)
        alive &= nxt != end
        if not alive.any():
            break
    out = []
    for row, score in zip(tokens[:, 1:].tolist(), scores.tolist(), strict=True):
        words = tuple(row[: row.index(end)])
        out.append(Hypothesis(words, float(score), len(words) == max_len))
    return out


def decode(
    model: nn.Module,
    image: torch.Tensor,
    *,
    start: int,
    end: int,
    max_len: int,
    decoding: Decoding | None = None,
    banned: Sequence[int] = (),
) -> list[Hypothesis]:
    """Decode a batch by ``decoding``: the one entry point of :class:`Captioner` and tests.

    Unconstrained greedy decoding takes the vectorised path; everything else beam search.
    """
    decoding = decoding or DEFAULT_DECODING
    plain = not (decoding.no_repeat_ngram or decoding.no_immediate_repeat)
    common = {"start": start, "end": end, "max_len": max_len, "banned": banned}
    if decoding.beam_size == 1 and plain:
        return greedy_decode(model, image, **common)
    return beam_decode(model, image, decoding=decoding, **common)


def _can_stop(
    finished: list[Hypothesis],
    live: list[tuple[int, int, float]],
    k: int,
    alpha: float,
    words: int,
) -> bool:
    if not live:
        return True
    best_live = max(s for _, _, s in live)
    if alpha == 0.0:
        # Scores only fall as words are added, so once the best finished caption beats every
        # live beam nothing better can come.
        return bool(finished) and max(h.score for h in finished) >= best_live
    # Length-normalised: stop once k captions are finished and the best live beam, closed
    # now, would not enter them (the usual heuristic; a longer beam could still, rarely).
    if len(finished) < k:
        return False
    ranked = sorted((h.score / (len(h.ids) + 1) ** alpha for h in finished), reverse=True)
    return ranked[k - 1] >= best_live / (words + 1) ** alpha
