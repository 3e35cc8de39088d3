"""Decoding rules on hand-made decoders whose next-word distributions are known."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pictext.caption.beam import beam_decode, decode, greedy_decode, repeat_bans
from pictext.caption.decoding import DEFAULT_DECODING, REPRODUCTION, Decoding
from pictext.caption.grammar import degenerate_reasons
from pictext.core import defaults

START, END, V = 2, 3, 10
BANNED = (0, 1, 2)


class Looping(nn.Module):
    """Prefers word 5, then 6, then 7, whatever came before; ``endseq`` is unlikely."""

    def forward(self, image: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        logits = torch.full((V,), -5.0)
        logits[5], logits[6], logits[7], logits[END] = 3.0, 2.0, 1.0, 0.5
        return logits.expand(tokens.shape[0], tokens.shape[1], V).clone()


class ByPosition(nn.Module):
    """Next-word probabilities by position only, from a table ``[T, V]``."""

    def __init__(self, table: list[dict[int, float]]) -> None:
        super().__init__()
        rows = torch.full((len(table), V), -1e9)
        for t, probs in enumerate(table):
            for word, p in probs.items():
                rows[t, word] = math.log(p)
        self.rows = rows

    def forward(self, image: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return self.rows[: tokens.shape[1]].expand(tokens.shape[0], -1, -1).clone()


def words(ids: tuple[int, ...]) -> str:
    return " ".join(f"w{i}" for i in ids)


def test_repeat_bans_known_answers() -> None:
    rules = Decoding(no_repeat_ngram=2)
    assert repeat_bans([], rules) == set()
    assert repeat_bans([5], rules) == {5}
    assert repeat_bans([5, 6, 5], rules) == {5, 6}  # 5 again, and 6 (would repeat "5 6")
    assert repeat_bans([5, 6, 5], Decoding(no_repeat_ngram=0)) == {5}
    assert repeat_bans([5, 6, 5], Decoding(no_repeat_ngram=3, no_immediate_repeat=False)) == set()
    assert repeat_bans([5, 6, 5, 6], Decoding(no_repeat_ngram=3, no_immediate_repeat=False)) == {5}


def test_unconstrained_decoding_loops_and_the_default_does_not() -> None:
    model, image = Looping(), torch.zeros(2, 4)
    common = {"start": START, "end": END, "max_len": 8, "banned": BANNED}
    [loop, _] = greedy_decode(model, image, **common)
    assert loop.ids == (5,) * 8
    assert loop.truncated
    for rules in (DEFAULT_DECODING, Decoding(beam_size=1), Decoding(beam_size=5)):
        for h in decode(model, image, decoding=rules, **common):
            assert degenerate_reasons(words(h.ids)) == [], h.ids
            assert len(h.ids) >= 3  # it still says something before giving up
    [h, _] = decode(model, image, decoding=Decoding(beam_size=1), **common)
    assert h.ids == (5, 6, 5, 7, 5)  # 5 again, 6 and 7 would repeat a pair: endseq


def test_length_penalty_lets_a_longer_caption_win() -> None:
    # "" scores log .5 = -0.69; "w4 w5" scores log(.5 * .6 * .95) = -1.25, i.e. -0.42 a token.
    model = ByPosition([{END: 0.5, 4: 0.5}, {END: 0.4, 5: 0.6}, {END: 0.95, 6: 0.05}])
    common = {"start": START, "end": END, "max_len": 3, "banned": BANNED}
    image = torch.zeros(1, 4)
    [short] = beam_decode(
        model, image, decoding=Decoding(beam_size=3, length_penalty=0.0), **common
    )
    [long] = beam_decode(model, image, decoding=Decoding(beam_size=3, length_penalty=1.0), **common)
    assert short.ids == ()
    assert long.ids == (4, 5)
    assert long.score == pytest.approx(math.log(0.5 * 0.6 * 0.95))


def test_beam_of_one_is_greedy_without_constraints() -> None:
    model = ByPosition([{END: 0.2, 4: 0.5, 5: 0.3}, {END: 0.6, 6: 0.4}, {END: 1.0}])
    common = {"start": START, "end": END, "max_len": 4, "banned": BANNED}
    image = torch.zeros(3, 4)
    plain = Decoding(beam_size=1, length_penalty=0.0, no_repeat_ngram=0, no_immediate_repeat=False)
    assert [h.ids for h in beam_decode(model, image, decoding=plain, **common)] == [
        h.ids for h in greedy_decode(model, image, **common)
    ]


def test_one_default_for_every_front_end() -> None:
    assert Decoding() == DEFAULT_DECODING
    assert DEFAULT_DECODING.beam_size == defaults.CAPTION_BEAM
    assert DEFAULT_DECODING.length_penalty == defaults.CAPTION_LENGTH_PENALTY
    assert DEFAULT_DECODING.no_repeat_ngram == defaults.CAPTION_NO_REPEAT_NGRAM
    assert REPRODUCTION.beam_size == 1
    assert not REPRODUCTION.tidy


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="beam_size"):
        Decoding(beam_size=0)
    with pytest.raises(ValueError, match="length_penalty"):
        Decoding(length_penalty=-1)
    with pytest.raises(ValueError, match="no_repeat_ngram"):
        Decoding(no_repeat_ngram=1)
