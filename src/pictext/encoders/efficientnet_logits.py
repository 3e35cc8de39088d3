"""EfficientNet-Lite with its ImageNet classifier: the pooled 1280-d features followed by the
pretrained 1000-class head's probabilities, as one ``[N, 2280]`` image embedding.

The head is one linear layer on the pooled features (``PooledFeatures.logits``), so the
probabilities of an already-embedded image follow from its cached pooled vector
(:func:`imagenet_features`); the encoder runs the base tower and applies the same function.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pictext.encoders.efficientnet import EfficientNetConfig, EfficientNetEncoder

if TYPE_CHECKING:
    from PIL import Image

IMAGENET_CLASSES = 1000
HEAD_VERSION = "in1"  # bump when imagenet_features changes


def imagenet_head(weights: Path) -> tuple[np.ndarray, np.ndarray]:
    """The pretrained classifier ``(W [1000, 1280], b [1000])`` from a Lite ``.pth`` file."""
    import torch

    state = torch.load(weights, map_location="cpu", weights_only=True)
    return state["_fc.weight"].numpy().astype(np.float32), state["_fc.bias"].numpy().astype(
        np.float32
    )


def imagenet_features(pooled: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``[N, 1280]`` pooled features -> ``[N, 1280 + 1000]``: the features, then the
    ImageNet softmax probabilities of the pretrained head."""
    pooled = np.asarray(pooled, np.float32)
    logits = pooled @ weight.T + bias
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    return np.concatenate([pooled, p.astype(np.float32)], axis=1)


class EfficientNetLogitsEncoder:
    """An EfficientNet-Lite tower whose embedding also holds its ImageNet probabilities
    (implements ``ImageEncoder``; registered as ``efficientnet-lite0-imagenet``). The base
    tower (its preprocessing, ONNX file and cache of pooled features) is used unchanged."""

    def __init__(self, config: EfficientNetConfig) -> None:
        self.base = EfficientNetEncoder(config)
        self.config = config
        self.name = f"{config.name}-imagenet"
        self.dim = config.dim + IMAGENET_CLASSES
        self.image_size = self.base.image_size
        self.version = f"{self.base.version}-{HEAD_VERSION}"

    def __repr__(self) -> str:
        return f"EfficientNetLogitsEncoder({self.name}@{self.version})"

    @cached_property
    def _head(self) -> tuple[np.ndarray, np.ndarray]:
        return imagenet_head(self.base.weights)

    def prepare(self) -> None:
        """Load the base runtime and the head now instead of on first use."""
        self.base.prepare()
        _ = self._head

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """The base tower's preprocessing (float32 ``[3, S, S]``)."""
        return self.base.preprocess(image)

    def pixels(self, image: Image.Image) -> np.ndarray:
        """The base tower's 8-bit preprocessing (uint8 ``[S, S, 3]``)."""
        return self.base.pixels(image)

    def normalize_batch(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 ``[N, S, S, 3]`` -> float32 ``[N, 3, S, S]``, as the base tower."""
        return self.base.normalize_batch(pixels)

    def encode_batch(self, batch: np.ndarray) -> np.ndarray:
        """Preprocessed float32 ``[N, 3, S, S]`` -> float32 ``[N, 2280]``."""
        return imagenet_features(self.base.encode_batch(batch), *self._head)

    def encode(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Decoded images -> float32 ``[N, 2280]``."""
        return imagenet_features(self.base.encode(images), *self._head)
