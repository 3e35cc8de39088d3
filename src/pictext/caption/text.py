"""Caption text preparation and the word vocabulary, as in the report.

Captions are lower-cased, punctuation is removed, words containing digits and words of one
letter are dropped, and ``startseq`` / ``endseq`` mark the ends of the sequence.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

START = "startseq"
END = "endseq"
PAD = "<pad>"
UNK = "<unk>"
_APOSTROPHES = frozenset("'’ʼ`")


def _strip_punctuation(text: str) -> str:
    # Apostrophes are deleted ("grandma's" -> "grandmas"); other punctuation and symbols
    # split words ("rag-doll" -> "rag doll") so that no two words are glued together.
    out = []
    for ch in text:
        if ch in _APOSTROPHES:
            continue
        cat = unicodedata.category(ch)
        out.append(" " if cat[0] in "PS" else ch)
    return "".join(out)


def clean_caption(text: str) -> str:
    """Normalise one caption: lower case, no punctuation, no numbers, no one-letter words.

    Args:
        text: Raw caption text (a title, a description).

    Returns:
        The words kept, joined by single spaces (may be empty).

    Example:
        >>> clean_caption("A US 25 cent piece ($.25) called a “quarter”.")
        'us cent piece called quarter'
    """
    words = _strip_punctuation(text.lower()).split()
    return " ".join(w for w in words if len(w) > 1 and w.isalpha())


def wrap(caption: str) -> str:
    """A cleaned caption between the ``startseq`` and ``endseq`` markers."""
    return f"{START} {caption} {END}" if caption else f"{START} {END}"


def unwrap(tokens: Sequence[str]) -> str:
    """Words of a decoded token sequence without markers and padding."""
    return " ".join(t for t in tokens if t not in (START, END, PAD))


@dataclass
class Vocabulary:
    """Words seen at least ``min_count`` times in training captions, plus four markers.

    Index 0 is padding, 1 unknown, 2 ``startseq``, 3 ``endseq``.

    Example:
        >>> vocab = Vocabulary.build(["red apple", "red car", "blue car"], min_count=2)
        >>> vocab.words
        ['<pad>', '<unk>', 'startseq', 'endseq', 'car', 'red']
        >>> vocab.encode("red bus", max_len=10).tolist()
        [2, 5, 1, 3]
    """

    words: list[str]  # index -> word; the first four are PAD, UNK, START, END

    def __post_init__(self) -> None:
        if self.words[:4] != [PAD, UNK, START, END]:
            raise ValueError(f"vocabulary must start with {[PAD, UNK, START, END]}")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("vocabulary has repeated words")

    @classmethod
    def build(cls, captions: Iterable[str], *, min_count: int = 1) -> Vocabulary:
        """Vocabulary of cleaned ``captions`` (without markers); sorted by count, then word."""
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        counts = Counter(w for c in captions for w in c.split())
        for marker in (PAD, UNK, START, END):
            counts.pop(marker, None)
        kept = sorted(
            (w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w)
        )
        return cls([PAD, UNK, START, END, *kept])

    def __len__(self) -> int:
        return len(self.words)

    @property
    def pad(self) -> int:
        return 0

    @property
    def unk(self) -> int:
        return 1

    @property
    def start(self) -> int:
        return 2

    @property
    def end(self) -> int:
        return 3

    def encode(self, caption: str, *, max_len: int) -> np.ndarray:
        """Token ids of ``startseq caption endseq``, keeping at most ``max_len`` words."""
        words = caption.split()[:max_len]
        ids = [self.start, *(self.index.get(w, self.unk) for w in words), self.end]
        return np.array(ids, dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        """Words of a token id sequence, stopping at ``endseq``; markers and padding dropped."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.end:
                break
            if i not in (self.pad, self.start):
                out.append(self.words[i])
        return " ".join(out)

    def encode_batch(self, captions: Sequence[str], *, max_len: int) -> np.ndarray:
        """Padded int64 ``[N, T]`` token ids, ``T = longest + 2`` (markers included)."""
        seqs = [self.encode(c, max_len=max_len) for c in captions]
        width = max((len(s) for s in seqs), default=2)
        out = np.zeros((len(seqs), width), dtype=np.int64)
        for row, s in zip(out, seqs, strict=True):
            row[: len(s)] = s
        return out
