"""Retrieval captioning: the consensus caption of the nearest training images.

After Devlin et al. (2015), "Exploring nearest neighbor approaches for image captioning":
the ``k`` training images nearest to the query (cosine of image embeddings) put their
captions forward, and the caption most similar to the others wins (similarity = cosine of
the captions' sentence embeddings, made once at fit time). Each other caption's vote is
weighted by how close its image is to the query, ``exp((sim - best sim) / temperature)``:
a small temperature trusts the nearest image (``k = 1`` is the nearest-caption baseline), a
large one takes the plain consensus of the ``k``. Both are chosen on validation by
:func:`pictext.caption.runs.run_captions`.

Example:
    >>> import numpy as np
    >>> from pictext.caption.consensus import ConsensusCaptioner
    >>> class Words:  # a stand-in sentence encoder: one column per word
    ...     name, version, dim = "words", "1", 4
    ...     def encode(self, texts):
    ...         vocab = ["red", "apple", "blue", "car"]
    ...         return np.array([[w in t.split() for w in vocab] for t in texts], np.float32)
    >>> x = np.array([[1, 0], [0.9, 0.1], [0, 1]], np.float32)
    >>> model = ConsensusCaptioner(k=2).fit(x, ["red apple", "red apple", "blue car"], Words())
    >>> model.predict(np.array([[0.1, 1.0], [1.0, 0.05]], np.float32))
    ['blue car', 'red apple']
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pictext.caption.grammar import tidy_caption
from pictext.caption.inputs import check_image
from pictext.caption.text import clean_caption
from pictext.core import defaults
from pictext.core.artifacts import CAPTIONER, load_artifact, save_artifact
from pictext.core.vectors import unit_rows

if TYPE_CHECKING:
    from pictext.caption.decoding import Decoding
    from pictext.encoders.base import TextEncoder


@dataclass
class ConsensusConfig:
    """Hyperparameters of a :class:`ConsensusCaptioner`."""

    arch: str = "consensus"  # the captioner type, as saved (always "consensus")
    k: int = defaults.CAPTION_CONSENSUS_K  # nearest training images whose captions compete
    temperature: float = defaults.CAPTION_CONSENSUS_TEMPERATURE  # image-similarity weighting

    def __post_init__(self) -> None:
        if self.arch != "consensus":
            raise ValueError(f"a ConsensusCaptioner has arch 'consensus', got {self.arch!r}")
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")


class ConsensusCaptioner:
    """Caption an image with the consensus caption of its nearest training images.

    Hyperparameters are keyword arguments (see :class:`ConsensusConfig`). The interface is
    :class:`~pictext.caption.captioner.Captioner`'s: ``fit``, ``predict``, ``save``,
    ``load``, ``fingerprint``, ``image_encoder``.

    Attributes:
        config: The resolved hyperparameters.
        image: Unit-length training image embeddings ``[N, Di]`` (set by ``fit``).
        captions: Training captions, cleaned; several may belong to one image.
        owner: Row of ``image`` each caption belongs to ``[M]``.
        text: Unit-length sentence embeddings of ``captions`` ``[M, Dt]``.
        image_encoder: ``name@version`` of the image embeddings, when given.
        text_encoder: ``name@version`` of the caption embeddings.
    """

    def __init__(self, config: ConsensusConfig | None = None, **kwargs: object) -> None:
        base = asdict(config) if config is not None else {}
        names = {f.name for f in fields(ConsensusConfig)}
        unknown = set(kwargs) - names
        if unknown:
            raise TypeError(f"unknown ConsensusCaptioner hyperparameters: {sorted(unknown)}")
        self.config = ConsensusConfig(**{**base, **kwargs})
        self.image: np.ndarray | None = None
        self.captions: list[str] = []
        self.owner: np.ndarray | None = None
        self.text: np.ndarray | None = None
        self.image_encoder: str | None = None
        self.text_encoder: str | None = None

    def __repr__(self) -> str:
        c = self.config
        state = "unfitted" if self.image is None else f"{len(self.captions)} captions"
        return (
            f"ConsensusCaptioner(k={c.k}, temperature={c.temperature:g}, {state}, "
            f"image_encoder={self.image_encoder!r})"
        )

    def fit(
        self,
        image: np.ndarray,
        captions: Sequence[str | Sequence[str]],
        text_encoder: TextEncoder,
        *,
        image_encoder: str | None = None,
        clean: bool = True,
    ) -> ConsensusCaptioner:
        """Keep training image embeddings ``[N, Di]`` and their captions.

        Args:
            image: Float image embeddings, one row per image.
            captions: Per image one caption, or a list of them (every field it has).
            text_encoder: Sentence encoder of caption similarity (its ``name@version`` is
                saved; predictions need no encoder).
            image_encoder: ``name@version`` of the encoder that made ``image``.
            clean: Apply :func:`clean_caption` first; empty captions are dropped.

        Returns:
            self
        """
        image = check_image(image)
        if len(captions) != len(image):
            raise ValueError(f"{len(image)} image rows but {len(captions)} caption entries")
        texts, owner = [], []
        for row, entry in enumerate(captions):
            seen: list[str] = []
            for c in [entry] if isinstance(entry, str) else entry:
                c = clean_caption(c) if clean else c
                if c and c not in seen:
                    seen.append(c)
            texts += seen
            owner += [row] * len(seen)
        if not texts:
            raise ValueError("every caption is empty after cleaning; nothing to retrieve")
        emb = np.asarray(text_encoder.encode(texts), dtype=np.float32)
        self.image = unit_rows(image)
        self.captions, self.owner = texts, np.asarray(owner, dtype=np.int64)
        self.text = unit_rows(emb)
        self.image_encoder = image_encoder
        self.text_encoder = f"{text_encoder.name}@{text_encoder.version}"
        return self

    def predict(self, image: np.ndarray, *, decoding: Decoding | None = None) -> list[str]:
        """The consensus caption of each image embedding ``[Q, Di]``.

        Args:
            image: Float image embeddings from the encoder the model was fitted on.
            decoding: Only its ``tidy`` flag applies (articles chosen by the next word).
        """
        tidy = decoding is None or decoding.tidy
        chosen = [self.captions[i] for i in self.choose(image)]
        return [tidy_caption(c) for c in chosen] if tidy else chosen

    def choose(self, image: np.ndarray) -> list[int]:
        """Index into ``captions`` of the consensus caption of each image ``[Q, Di]``."""
        store, owner, text = self._fitted()
        q = unit_rows(check_image(image, store.shape[1]))
        sims = q @ store.T  # [Q, N]
        k = min(self.config.k, store.shape[0])
        near = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        members = [np.flatnonzero(np.isin(owner, row)) for row in near]
        out = []
        for s_row, cand in zip(sims, members, strict=True):
            s = s_row[owner[cand]]
            weight = np.exp((s - s.max()) / self.config.temperature)
            support = (text[cand] @ text[cand].T) @ weight  # the caption's own vote included
            out.append(int(cand[np.lexsort((-s, -support))[0]]))
        return out

    def fingerprint(self) -> str:
        """SHA-1 of the stored embeddings, captions and configuration: a cache key."""
        store, owner, text = self._fitted()
        h = hashlib.sha1(
            json.dumps(
                [asdict(self.config), self.captions, self.image_encoder, self.text_encoder]
            ).encode()
        )
        for a in (store, owner, text):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (atomically)."""
        store, owner, text = self._fitted()
        config = {
            "config": asdict(self.config),
            "captions": self.captions,
            "image_encoder": self.image_encoder,
            "text_encoder": self.text_encoder,
            "text_prep": "lower case; punctuation, words with digits, one-letter words removed",
        }
        arrays = {"image": store, "owner": owner, "text": text}
        return save_artifact(directory, CAPTIONER, config, arrays)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> ConsensusCaptioner:
        """A consensus captioner written by :meth:`save`.

        Raises:
            ArtifactError: not a saved captioner of this version (the message says why).
        """
        meta, arrays = load_artifact(directory, CAPTIONER)
        model = cls(ConsensusConfig(**meta["config"]))
        model.captions = list(meta["captions"])
        model.image_encoder = meta.get("image_encoder")
        model.text_encoder = meta.get("text_encoder")
        model.image, model.owner, model.text = arrays["image"], arrays["owner"], arrays["text"]
        return model

    @property
    def image_dim(self) -> int | None:
        """Width of the image embeddings it was fitted on (None before fit)."""
        return None if self.image is None else int(self.image.shape[1])

    def _fitted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.image is None or self.owner is None or self.text is None:
            raise RuntimeError(
                "this ConsensusCaptioner is not fitted; call fit() or ConsensusCaptioner.load()"
            )
        return self.image, self.owner, self.text
