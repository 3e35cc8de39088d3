"""Fixtures of the caption tests: image embeddings whose class decides the caption's words.

Helpers are handed out as fixtures (``make_toy``, ``bow_encoder``, ``class_captions``) so the
tests import nothing from this folder, whatever pytest's import mode.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

CLASS_CAPTIONS = {
    0: ["red apple on table", "red apple"],
    1: ["blue car on road", "blue car"],
    2: ["green tree in park", "green tree"],
    3: ["yellow sun in sky", "yellow sun"],
}


def toy_captions(n: int = 96, dim: int = 16, noise: float = 0.3, seed: int = 0):
    """``(image [n, dim], captions, labels)``: class centres plus noise, 2 captions per class.

    The centres are the same for every ``seed``; the seed draws the noise and the captions.
    """
    centres = np.random.default_rng(12345).normal(size=(len(CLASS_CAPTIONS), dim)) * 2
    rng = np.random.default_rng(seed)
    y = np.arange(n) % len(CLASS_CAPTIONS)
    x = (centres[y] + noise * rng.normal(size=(n, dim))).astype(np.float32)
    caps = [CLASS_CAPTIONS[int(c)][int(rng.integers(2))] for c in y]
    return x, caps, y


class BagOfWordsEncoder:
    """A deterministic stand-in text encoder: hashed word counts."""

    name = "bow"
    version = "1"
    dim = 32

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in zip(out, texts, strict=True):
            for word in text.split():
                row[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1
        return out


@pytest.fixture(scope="session")
def make_toy():
    """The :func:`toy_captions` function."""
    return toy_captions


@pytest.fixture(scope="session")
def class_captions():
    return CLASS_CAPTIONS


@pytest.fixture
def bow_encoder():
    return BagOfWordsEncoder()


@pytest.fixture(scope="session")
def bow_class():
    """The :class:`BagOfWordsEncoder` class, for fixtures wider than one test."""
    return BagOfWordsEncoder


@pytest.fixture(scope="session")
def toy_data():
    return toy_captions()


@pytest.fixture(scope="session")
def fitted(toy_data):
    """A merge and a transformer captioner fitted on the toy data (fitted once per session)."""
    from pictext.caption import Captioner
    from pictext.caption.models import ARCHS

    x, caps, _ = toy_data
    return {
        arch: Captioner(
            arch=arch,
            epochs=30,
            lr=3e-3,
            batch_size=16,
            hidden=32,
            min_count=1,
            threads=1,
            val_fraction=0.0,
        ).fit(x, caps, image_encoder="toy@1")
        for arch in ARCHS
    }
