"""The interface every encoder follows: a batch in, float32 ``[N, D]`` out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image


@runtime_checkable
class ImageEncoder(Protocol):
    """A pretrained image tower with its own preprocessing."""

    name: str  # registry name, e.g. "efficientnet-lite0"
    version: str  # weights + preprocessing + runtime version; part of every cache key
    dim: int  # output width D
    image_size: int  # square input side in pixels

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """One decoded RGB image -> float32 ``[3, S, S]`` ready for :meth:`encode_batch`."""
        ...

    def pixels(self, image: Image.Image) -> np.ndarray:
        """The 8-bit half of :meth:`preprocess`: uint8 ``[S, S, 3]``, padded and resized.

        What a decoding worker hands back (a quarter of the float32 bytes).
        """
        ...

    def normalize_batch(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 ``[N, S, S, 3]`` from :meth:`pixels` -> float32 ``[N, 3, S, S]``."""
        ...

    def encode_batch(self, batch: np.ndarray) -> np.ndarray:
        """Preprocessed float32 ``[N, 3, S, S]`` -> float32 ``[N, D]``."""
        ...

    def encode(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Decoded images -> float32 ``[N, D]`` (preprocess + encode_batch)."""
        ...


@runtime_checkable
class TextEncoder(Protocol):
    """A pretrained sentence encoder."""

    name: str  # registry name, e.g. "use"
    version: str  # weights + runtime version; part of every cache key
    dim: int  # output width D

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Strings -> float32 ``[N, D]``. Empty strings are the caller's job to mask."""
        ...
