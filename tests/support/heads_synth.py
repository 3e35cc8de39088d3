"""Tiny synthetic Features for head tests: class signal in the image and in each text input."""

from __future__ import annotations

import numpy as np

from pictext.store.features import Features


def make_features(
    n: int = 120,
    n_classes: int = 4,
    seed: int = 0,
    image_dim: int = 12,
    text_dim: int = 8,
    missing: float = 0.2,
    image_encoder: str = "toy-image@1",
    text_encoder: str = "toy-text@1",
) -> tuple[Features, np.ndarray]:
    """Features whose every input carries the class (noisily); ``missing`` of text rows masked."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    centres = rng.normal(size=(n_classes, image_dim + 3 * text_dim)) * 2.0
    raw = (centres[y] + rng.normal(size=(n, image_dim + 3 * text_dim))).astype(np.float32)
    text, mask = {}, {}
    for i, name in enumerate(("title", "description", "tags")):
        lo = image_dim + i * text_dim
        m = rng.random(n) >= missing
        text[name] = np.where(m[:, None], raw[:, lo : lo + text_dim], 0).astype(np.float32)
        mask[name] = m
    text["text"] = np.mean([text[k] for k in ("title", "description", "tags")], axis=0)
    mask["text"] = np.ones(n, bool)
    feats = Features(
        ids=[f"item{i}" for i in range(n)],
        image=raw[:, :image_dim].copy(),
        image_mask=np.ones(n, bool),
        text=text,
        text_mask=mask,
        image_encoder=image_encoder,
        text_encoder=text_encoder,
    )
    return feats, y
