"""Greedy and beam-search decoding for the caption decoders.

Scores are sums of next-token log-probabilities (``endseq`` included when reached), under
the distribution renormalised over the tokens a caption may contain: padding, ``startseq``
and the unknown-word token are never generated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Hypothesis:
    """One decoded caption as token ids (markers excluded) with its log-probability."""

    ids: tuple[int, ...]  # generated word ids, without startseq / endseq
    score: float  # sum of log-probabilities of the words and of the closing endseq
    truncated: bool  # True when max_len words were reached and endseq was appended


def _next_log_probs(
    model: nn.Module,
    image: torch.Tensor,
    tokens: torch.Tensor,
    banned: Sequence[int],
    only_end: int | None = None,
) -> torch.Tensor:
    logits = model(image, tokens)[:, -1, :].double()
    logits[:, list(banned)] = float("-inf")
    logp = torch.log_softmax(logits, dim=-1)
    if only_end is not None:
        # At max_len the caption must close: keep the real probability of endseq only.
        keep = logp[:, only_end].clone()
        logp.fill_(float("-inf"))
        logp[:, only_end] = keep
    return logp


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
    """The most likely next word at every step, for a batch of image embeddings.

    Args:
        model: A decoder in eval mode, ``(image, tokens) -> logits``.
        image: Float ``[B, Di]`` image embeddings.
        start: Id of ``startseq``.
        end: Id of ``endseq``.
        max_len: Most words generated before ``endseq``.
        banned: Token ids never generated.

    Returns:
        One hypothesis per image.
    """
    b = image.shape[0]
    tokens = torch.full((b, 1), start, dtype=torch.long)
    scores = torch.zeros(b, dtype=torch.float64)
    alive = torch.ones(b, dtype=torch.bool)
    for step in range(max_len + 1):
        logp = _next_log_probs(model, image, tokens, banned, end if step == max_len else None)
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


@torch.no_grad()
def beam_decode(
    model: nn.Module,
    image: torch.Tensor,
    *,
    start: int,
    end: int,
    max_len: int,
    beam_size: int = 3,
    length_penalty: float = 0.0,
    banned: Sequence[int] = (),
) -> list[Hypothesis]:
    """Beam search, for a batch of image embeddings.

    Args:
        model: A decoder in eval mode, ``(image, tokens) -> logits``.
        image: Float ``[B, Di]`` image embeddings.
        start: Id of ``startseq``.
        end: Id of ``endseq``.
        max_len: Most words generated before ``endseq``.
        beam_size: Hypotheses kept per image at every step.
        length_penalty: Hypotheses are ranked by ``score / len ** length_penalty``; 0 ranks
            by total log-probability (which favours short captions).
        banned: Token ids never generated.

    Returns:
        The best hypothesis per image.
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    b, k = image.shape[0], beam_size
    images = image.repeat_interleave(k, dim=0)
    tokens = torch.full((b * k, 1), start, dtype=torch.long)
    scores = torch.full((b, k), float("-inf"), dtype=torch.float64)
    scores[:, 0] = 0.0  # one live beam per image at the start
    finished: list[list[Hypothesis]] = [[] for _ in range(b)]
    done = [False] * b

    def rank(h: Hypothesis) -> float:
        return h.score / (len(h.ids) + 1) ** length_penalty

    for step in range(max_len + 1):
        logp = _next_log_probs(model, images, tokens, banned, end if step == max_len else None)
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
            done[i] = done[i] or _can_stop(finished[i], kept, k, length_penalty)
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


def _can_stop(
    finished: list[Hypothesis], live: list[tuple[int, int, float]], k: int, alpha: float
) -> bool:
    if not live:
        return True
    if alpha == 0.0:
        # Scores only fall as words are added, so once the best finished caption beats every
        # live beam nothing better can come.
        return bool(finished) and max(h.score for h in finished) >= max(s for _, _, s in live)
    return len(finished) >= k
