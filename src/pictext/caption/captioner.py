"""The caption head: fit on (image embedding, caption) pairs, caption new embeddings.

Example:
    >>> import numpy as np
    >>> words = ["red apple", "blue car", "green tree", "yellow sun"]
    >>> x = np.eye(4, dtype=np.float32).repeat(8, axis=0)
    >>> caps = [w for w in words for _ in range(8)]
    >>> model = Captioner(epochs=60, dropout=0.0, val_fraction=0.0, min_count=1, threads=1)
    >>> model = model.fit(x, caps)
    >>> model.predict(np.eye(4, dtype=np.float32))
    ['red apple', 'blue car', 'green tree', 'yellow sun']
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from pictext.caption.beam import Hypothesis, decode
from pictext.caption.decoding import DEFAULT_DECODING, Decoding
from pictext.caption.grammar import tidy_caption
from pictext.caption.inputs import check_image
from pictext.caption.models import ARCHS, DecoderConfig, build_decoder
from pictext.caption.text import Vocabulary, clean_caption
from pictext.caption.train import SELECT, DecoderTraining, TrainHistory, train_decoder
from pictext.core import defaults
from pictext.core.artifacts import (
    CAPTIONER,
    load_artifact,
    load_module_arrays,
    module_arrays,
    save_artifact,
)
from pictext.core.train import config_from


@dataclass
class CaptionerConfig:
    """Hyperparameters of a :class:`Captioner`."""

    arch: str = "merge"  # "merge" (the report's CNN-LSTM), "transformer" or "retrieval"
    min_count: int = 2  # a word needs this many training occurrences to enter the vocabulary
    max_len: int = 16  # most words per caption, in training (truncated) and decoding
    hidden: int = 256  # width of the image projection, word embedding and decoder
    dropout: float = 0.5  # dropout on the image embedding and the word embeddings
    layers: int = 2  # transformer layers (transformer only)
    heads: int = 4  # attention heads (transformer only)
    prefix: int = 4  # image memory tokens (transformer, retrieval)
    retrieve: int = 4  # training captions retrieved per image (retrieval only)
    epochs: int = 30  # passes over the training pairs
    batch_size: int = 64  # pairs per optimiser step
    lr: float = 1e-3  # AdamW learning rate
    weight_decay: float = 1e-4  # AdamW weight decay
    val_fraction: float = defaults.CAPTION_VAL_FRACTION  # pairs held back to pick the best epoch
    select: str = "overlap"  # best epoch by held-back "overlap" (greedy word F1) or "loss"
    patience: int = defaults.CAPTION_PATIENCE  # epochs without a better held-back score (0: never)
    seed: int = 0  # initialisation, shuffling and validation split
    threads: int | None = None  # torch CPU threads while fitting/decoding (None: torch default)


class Captioner:
    """Caption decoder over frozen image embeddings (see :mod:`pictext.caption`).

    Hyperparameters are keyword arguments (see :class:`CaptionerConfig`); ``fit`` builds the
    vocabulary from cleaned captions and trains with teacher forcing.

    Attributes:
        config: The resolved hyperparameters.
        vocab: Words the decoder knows (set by ``fit`` / ``load``).
        decoder_config: Shape of the torch decoder (set by ``fit`` / ``load``).
        image_encoder: ``name@version`` of the encoder of those embeddings, when given.
        history: Per-epoch losses of the last ``fit``.
        module: The trained torch decoder.
    """

    def __init__(self, config: CaptionerConfig | None = None, **kwargs: object) -> None:
        base = asdict(config) if config is not None else {}
        names = {f.name for f in fields(CaptionerConfig)}
        unknown = set(kwargs) - names
        if unknown:
            raise TypeError(f"unknown Captioner hyperparameters: {sorted(unknown)}")
        self.config = CaptionerConfig(**{**base, **kwargs})
        if self.config.arch not in ARCHS:
            raise ValueError(f"unknown caption decoder {self.config.arch!r}; use one of {ARCHS}")
        if self.config.select not in SELECT:
            raise ValueError(f"select must be one of {SELECT}, got {self.config.select!r}")
        self.vocab: Vocabulary | None = None
        self.decoder_config: DecoderConfig | None = None
        self.image_encoder: str | None = None
        self.history: TrainHistory | None = None
        self.module: torch.nn.Module | None = None

    def __repr__(self) -> str:
        words = "unfitted" if self.vocab is None else f"{len(self.vocab)} words"
        return (
            f"Captioner(arch={self.config.arch!r}, {words}, image_encoder={self.image_encoder!r})"
        )

    def fit(
        self,
        image: np.ndarray,
        captions: Sequence[str],
        *,
        image_encoder: str | None = None,
        clean: bool = True,
        groups: np.ndarray | None = None,
    ) -> Captioner:
        """Train on image embeddings ``[N, Di]`` and their captions (one per row).

        Args:
            image: Float image embeddings, one row per caption.
            captions: Raw captions (cleaned here unless ``clean=False``).
            image_encoder: ``name@version`` of the encoder that made ``image``; saved with
                the model so that predictions are only made on matching embeddings.
            clean: Apply :func:`clean_caption` first.
            groups: Duplicate-group id per row
                (:func:`pictext.data.split.duplicate_groups`); the pairs held back to pick
                the best epoch then hold whole groups.

        Returns:
            self
        """
        image = check_image(image)
        if len(captions) != len(image):
            raise ValueError(f"{len(image)} image rows but {len(captions)} captions")
        texts = [clean_caption(c) if clean else c for c in captions]
        if not any(texts):
            raise ValueError("every caption is empty after cleaning; nothing to learn from")
        cfg = self.config
        self.vocab = Vocabulary.build(texts, min_count=cfg.min_count)
        tokens = self.vocab.encode_batch(texts, max_len=cfg.max_len)
        self.image_encoder = image_encoder
        self.decoder_config = self._decoder_config(image.shape[1], tokens.shape)
        with _Threads(cfg.threads):
            torch.manual_seed(cfg.seed)
            self.module = build_decoder(self.decoder_config)
            self.history = train_decoder(
                self.module, image, tokens, self._training(), groups=groups
            )
        return self

    def _training(self) -> DecoderTraining:
        return config_from(DecoderTraining, self.config)

    def generate(
        self, image: np.ndarray, *, decoding: Decoding | None = None, batch_size: int = 256
    ) -> list[Hypothesis]:
        """Decoded hypotheses (ids and log-probabilities) for image embeddings ``[N, Di]``.

        Args:
            image: Float image embeddings from the encoder the model was trained on.
            decoding: Beam width, length penalty and repeat constraints (default:
                :class:`~pictext.caption.beam.Decoding`, the same for every front end).
            batch_size: Images decoded together.
        """
        module, vocab = self._fitted()
        image = check_image(image, self.image_dim)
        banned = (vocab.pad, vocab.unk, vocab.start)
        out: list[Hypothesis] = []
        module.eval()
        with _Threads(self.config.threads):
            for lo in range(0, len(image), batch_size):
                out += decode(
                    module,
                    torch.from_numpy(image[lo : lo + batch_size]),
                    start=vocab.start,
                    end=vocab.end,
                    max_len=self.config.max_len,
                    decoding=decoding,
                    banned=banned,
                )
        return out

    def predict(self, image: np.ndarray, *, decoding: Decoding | None = None) -> list[str]:
        """Captions (cleaned words, no markers) for image embeddings ``[N, Di]``.

        With ``decoding.tidy`` (the default) each "a" / "an" is chosen by the next word.
        """
        decoding = decoding or DEFAULT_DECODING
        hyps = self.generate(image, decoding=decoding)
        texts = [self.vocab.decode(h.ids) for h in hyps]  # type: ignore[union-attr]
        return [tidy_caption(t) for t in texts] if decoding.tidy else texts

    def fingerprint(self) -> str:
        """SHA-1 of the weights, vocabulary and configuration: a cache key for its outputs."""
        module, vocab = self._fitted()
        h = hashlib.sha1(
            json.dumps([asdict(self.config), vocab.words, self.image_encoder]).encode()
        )
        for name, tensor in sorted(module.state_dict().items()):
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (atomically)."""
        module, vocab = self._fitted()
        config = {
            "config": asdict(self.config),
            "decoder": self.decoder_config.to_dict(),  # type: ignore[union-attr]
            "vocabulary": vocab.words,
            "image_encoder": self.image_encoder,
            "text_prep": "lower case; punctuation, words with digits, one-letter words removed",
            "history": None if self.history is None else asdict(self.history),
        }
        return save_artifact(directory, CAPTIONER, config, module_arrays(module))

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Captioner:
        """A captioner written by :meth:`save`.

        Raises:
            ArtifactError: not a saved captioner of this version (the message says why).
        """
        meta, arrays = load_artifact(directory, CAPTIONER)
        model = cls(CaptionerConfig(**meta["config"]))
        model.vocab = Vocabulary(meta["vocabulary"])
        model.image_encoder = meta.get("image_encoder")
        if meta.get("history"):
            model.history = TrainHistory(**meta["history"])
        model.decoder_config = DecoderConfig(**meta["decoder"])
        model.module = build_decoder(model.decoder_config)
        load_module_arrays(model.module, arrays, directory, CAPTIONER)
        model.module.eval()
        return model

    @property
    def image_dim(self) -> int | None:
        """Width of the image embeddings it was trained on (None before fit)."""
        return None if self.decoder_config is None else self.decoder_config.image_dim

    def _decoder_config(self, image_dim: int, tokens_shape: tuple[int, ...]) -> DecoderConfig:
        c = self.config
        store = c.arch == "retrieval"
        return DecoderConfig(
            arch=c.arch,
            image_dim=int(image_dim),
            vocab_size=len(self.vocab),  # type: ignore[arg-type]
            hidden=c.hidden,
            dropout=c.dropout,
            layers=c.layers,
            heads=c.heads,
            prefix=c.prefix,
            max_positions=c.max_len + 2,
            retrieve=c.retrieve,
            store_size=int(tokens_shape[0]) if store else 0,
            store_len=int(tokens_shape[1]) if store else 0,
        )

    def _fitted(self) -> tuple[torch.nn.Module, Vocabulary]:
        if self.module is None or self.vocab is None:
            raise RuntimeError("this Captioner is not fitted; call fit() or Captioner.load()")
        return self.module, self.vocab


class _Threads:
    """Set torch's CPU thread count for a block, then restore it."""

    def __init__(self, n: int | None) -> None:
        self.n, self.old = n, torch.get_num_threads()

    def __enter__(self) -> None:
        if self.n:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.old)
