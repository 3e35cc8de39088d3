"""Similar and divergent images by the similarity of their captions (the report's second approach).

A collection is captioned once by a :class:`~pictext.caption.Captioner` and the
captions are embedded with a text encoder (cached on disk). A query image is captioned the
same way; the cosine between its caption and each collection caption decides: at or above
``similar`` (0.90) the image is similar, between ``divergent_low`` and ``divergent_high``
(0.50-0.60) it is divergent: related enough to matter, different enough to surprise.

Example:
    >>> import numpy as np
    >>> col = CaptionCollection(["a", "b", "c"], ["red car", "red truck", "green tree"],
    ...                         np.array([[1, 0], [0.95, 0.31], [0.55, 0.83]], np.float32), "toy@1")
    >>> [m.id for m in caption_similar(np.array([1.0, 0.0]), col)]
    ['a', 'b']
    >>> [m.id for m in caption_divergent(np.array([1.0, 0.0]), col)]
    ['c']
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pictext.caption.decoding import DEFAULT_DECODING, Decoding
from pictext.core import defaults
from pictext.core.vectors import unit_rows

if TYPE_CHECKING:
    from pictext.caption.registry import AnyCaptioner
    from pictext.encoders.base import TextEncoder


@dataclass(frozen=True)
class CaptionThresholds:
    """Cosine bands of caption similarity (the report's values by default)."""

    similar: float = defaults.CAPTION_SIMILAR  # at or above: similar
    divergent_low: float = defaults.CAPTION_DIVERGENT_LOW  # divergent band, lower end (incl.)
    divergent_high: float = defaults.CAPTION_DIVERGENT_HIGH  # divergent band, upper end (incl.)

    def __post_init__(self) -> None:
        if not -1.0 <= self.divergent_low <= self.divergent_high <= 1.0:
            raise ValueError(f"divergent band must satisfy -1 <= low <= high <= 1: {self}")
        if not -1.0 <= self.similar <= 1.0:
            raise ValueError(f"similar threshold must be in [-1, 1], got {self.similar}")


@dataclass(frozen=True)
class CaptionMatch:
    """One collection image returned for a query."""

    id: str  # item id in the collection
    score: float  # cosine between the query caption and this image's caption
    caption: str  # this image's (generated) caption


@dataclass
class CaptionCollection:
    """Captions of a collection and their unit-length text embeddings."""

    ids: list[str]  # item ids, row order
    captions: list[str]  # one caption per item
    embeddings: np.ndarray  # float32 [N, Dt], rows L2-normalised here
    text_encoder: str  # "name@version" of the encoder of the embeddings

    def __post_init__(self) -> None:
        self.embeddings = _unit(self.embeddings)
        if not len(self.ids) == len(self.captions) == len(self.embeddings):
            raise ValueError("ids, captions and embeddings must have the same length")

    def save(self, path: str | os.PathLike) -> Path:
        """Write one ``.npz`` file atomically (:func:`pictext.core.atomic.atomic_write`)."""
        from pictext.core.atomic import atomic_write

        path = Path(path)
        meta = json.dumps({"ids": self.ids, "captions": self.captions, "text": self.text_encoder})

        def write(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, embeddings=self.embeddings, meta=np.array(meta))

        atomic_write(path, write)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> CaptionCollection:
        """A collection written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return cls(meta["ids"], meta["captions"], z["embeddings"], meta["text"])


def caption_collection(
    captioner: AnyCaptioner,
    ids: Sequence[str],
    image: np.ndarray,
    text_encoder: TextEncoder,
    *,
    decoding: Decoding | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> CaptionCollection:
    """Caption every image embedding and embed the captions; cached when ``cache_dir`` is set.

    The cache key covers the captioner's weights, the ids and embeddings, the decoding
    (default :class:`~pictext.caption.beam.Decoding`) and the text encoder's name and
    version.
    """
    tag = f"{text_encoder.name}@{text_encoder.version}"
    path = None
    if cache_dir is not None:
        key = hashlib.sha1()
        rules = repr(decoding or DEFAULT_DECODING)
        for part in (captioner.fingerprint(), tag, rules, "\n".join(ids)):
            key.update(part.encode())
        key.update(np.ascontiguousarray(image, dtype=np.float32).tobytes())
        path = Path(cache_dir) / f"captions-{key.hexdigest()[:20]}.npz"
        if path.is_file():
            return CaptionCollection.load(path)
    captions = captioner.predict(image, decoding=decoding)
    emb = text_encoder.encode(captions) if captions else np.zeros((0, text_encoder.dim))
    col = CaptionCollection(list(ids), captions, np.asarray(emb, dtype=np.float32), tag)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        col.save(path)
    return col


def caption_query(
    captioner: AnyCaptioner,
    image: np.ndarray,
    text_encoder: TextEncoder,
    *,
    decoding: Decoding | None = None,
) -> tuple[list[str], np.ndarray]:
    """Captions of query image embeddings ``[Q, Di]`` and their text embeddings ``[Q, Dt]``."""
    captions = captioner.predict(np.atleast_2d(image), decoding=decoding)
    return captions, caption_vectors(captions, text_encoder)


def caption_vectors(captions: Sequence[str], text_encoder: TextEncoder) -> np.ndarray:
    """``[Q, Dt]`` float32 text embeddings of captions (what caption similarity compares)."""
    return np.asarray(text_encoder.encode(list(captions)), dtype=np.float32)


def caption_similar(
    query: np.ndarray,
    collection: CaptionCollection,
    *,
    threshold: float = CaptionThresholds.similar,
    k: int = 10,
    exclude: Collection[str] = (),
    seed: int = 0,
) -> list[CaptionMatch]:
    """Up to ``k`` images whose caption cosine to ``query`` is at least ``threshold``.

    Args:
        query: The query caption's text embedding ``[Dt]`` (same encoder as the collection).
        collection: Captioned collection.
        threshold: Lowest cosine that counts as similar.
        k: Most images returned; the most similar first.
        exclude: Ids never returned (e.g. the query itself).
        seed: Breaks ties (identical captions are common) in a seeded random order rather
            than in collection order, which would favour one folder.
    """
    return _band(query, collection, threshold, 1.0, k, exclude, seed)


def caption_divergent(
    query: np.ndarray,
    collection: CaptionCollection,
    *,
    low: float = CaptionThresholds.divergent_low,
    high: float = CaptionThresholds.divergent_high,
    k: int = 10,
    exclude: Collection[str] = (),
    seed: int = 0,
) -> list[CaptionMatch]:
    """Up to ``k`` images whose caption cosine to ``query`` lies in ``[low, high]``.

    Within the band the closest ones come first; arguments as in :func:`caption_similar`.
    """
    return _band(query, collection, low, high, k, exclude, seed)


def _band(
    query: np.ndarray,
    col: CaptionCollection,
    low: float,
    high: float,
    k: int,
    exclude: Collection[str],
    seed: int,
) -> list[CaptionMatch]:
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    if q.shape[0] != col.embeddings.shape[1]:
        raise ValueError(
            f"query is {q.shape[0]}-d; the collection's captions are "
            f"{col.embeddings.shape[1]}-d ({col.text_encoder})"
        )
    sims = col.embeddings @ (q / max(float(np.linalg.norm(q)), 1e-12))
    tie = np.random.default_rng(seed).random(len(sims))
    order = np.lexsort((tie, -sims))
    skip = set(exclude)
    out: list[CaptionMatch] = []
    for i in order:
        s = float(sims[i])
        if s < low - 1e-6 or len(out) == k:
            break
        if s <= high + 1e-6 and col.ids[i] not in skip:
            out.append(CaptionMatch(col.ids[i], s, col.captions[i]))
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be [N, D], got shape {x.shape}")
    return unit_rows(x)
