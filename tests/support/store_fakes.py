"""Tiny deterministic encoders and generated items for the store tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from pictext.data.item import Item


class CountingImageEncoder:
    """A tiny deterministic image encoder that counts how many images it saw."""

    name = "fake-image"
    version = "1"
    dim = 4
    image_size = 8

    def __init__(self, fail_after: int | None = None) -> None:
        self.seen = 0
        self.fail_after = fail_after

    def pixels(self, image: Image.Image) -> np.ndarray:
        return np.asarray(image.convert("RGB").resize((8, 8)), np.uint8)

    def normalize_batch(self, pixels: np.ndarray) -> np.ndarray:
        return (pixels.astype(np.float32) / 255.0).transpose(0, 3, 1, 2)

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return self.normalize_batch(self.pixels(image)[None])[0]

    def encode_batch(self, batch: np.ndarray) -> np.ndarray:
        if self.fail_after is not None and self.seen >= self.fail_after:
            raise KeyboardInterrupt  # a kill in the middle of a run
        self.seen += len(batch)
        return np.stack([batch.mean(axis=(2, 3)).sum(1), *batch.mean(axis=(2, 3)).T], 1)

    def encode(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.encode_batch(np.stack([self.preprocess(i) for i in images]))


class CountingTextEncoder:
    name = "fake-text"
    version = "1"
    dim = 3

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        return np.array([[len(t), t.count(" "), 1.0] for t in texts], np.float32)


def make_items(n: int, start: int = 0) -> list[Item]:
    rng = np.random.default_rng(start)
    return [
        Item(
            id=f"i{start + k}",
            pixels=rng.integers(0, 255, (6, 6, 3), dtype=np.uint8),
            title=f"title {start + k}",
            description="" if k % 2 else f"a longer description {start + k}",
            tags=("x", "y"),
            label="a" if k % 2 else "b",
        )
        for k in range(n)
    ]
