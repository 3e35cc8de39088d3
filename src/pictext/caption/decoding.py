"""How captions are decoded: the one set of rules every front end uses (no torch needed).

:class:`Decoding` holds the beam width, length normalisation, the repeat constraints and
the article tidy-up; :data:`DEFAULT_DECODING` (values from ``core/defaults.py``) is what the
CLI, the service, the page and the report caption with. :data:`REPRODUCTION` is the
report's own decoding (plain greedy), kept for the merge model's reproduction figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from pictext.core import defaults


@dataclass(frozen=True)
class Decoding:
    """How a trained decoder turns an image into words (defaults: ``core/defaults.py``)."""

    beam_size: int = defaults.CAPTION_BEAM  # hypotheses kept per image; 1 decodes greedily
    length_penalty: float = defaults.CAPTION_LENGTH_PENALTY  # rank by score / len ** this
    no_repeat_ngram: int = defaults.CAPTION_NO_REPEAT_NGRAM  # no n-gram twice (0: allowed)
    no_immediate_repeat: bool = True  # never the same word twice in a row
    tidy: bool = True  # choose each "a" / "an" by the next word (grammar.tidy_caption)

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {self.beam_size}")
        if self.length_penalty < 0:
            raise ValueError(f"length_penalty must be >= 0, got {self.length_penalty}")
        if self.no_repeat_ngram < 0 or self.no_repeat_ngram == 1:
            raise ValueError(f"no_repeat_ngram must be 0 or >= 2, got {self.no_repeat_ngram}")

    @property
    def name(self) -> str:
        """A short label for tables, e.g. ``"beam 3, no repeats"``."""
        width = "greedy" if self.beam_size == 1 else f"beam {self.beam_size}"
        if self.length_penalty:
            width += f", len^{self.length_penalty:g}"
        if self.no_repeat_ngram or self.no_immediate_repeat:
            width += ", no repeats"
        return width


DEFAULT_DECODING = Decoding()  # what the CLI, the service, the page and the report use
# The report's decoding: plain greedy search, no constraints, words as generated.
REPRODUCTION = Decoding(
    beam_size=1, length_penalty=0.0, no_repeat_ngram=0, no_immediate_repeat=False, tidy=False
)
