"""The Lite0 tower plus its ImageNet head (real weights; integration tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pictext.encoders.efficientnet_logits import imagenet_features

pytestmark = pytest.mark.slow
pytest.importorskip("onnxruntime")
pytest.importorskip("efficientnet_lite_pytorch")

APPLE = Path("/usr/share/tuxpaint/stamps/food/fruit/apple_granny_smith.png")


def test_imagenet_features_append_a_softmax() -> None:
    rng = np.random.default_rng(0)
    pooled = rng.random((3, 6)).astype(np.float32)
    w, b = rng.normal(size=(4, 6)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    out = imagenet_features(pooled, w, b)
    assert out.shape == (3, 10)
    np.testing.assert_array_equal(out[:, :6], pooled)
    np.testing.assert_allclose(out[:, 6:].sum(1), 1, atol=1e-6)
    assert (out[:, 6:].argmax(1) == (pooled @ w.T + b).argmax(1)).all()


def test_the_pooled_part_is_lite0_and_the_head_knows_an_apple(
    real_encoder: Callable[..., Any],
) -> None:
    if not APPLE.is_file():
        pytest.skip("tuxpaint stamps not installed")
    enc, base = real_encoder("efficientnet-lite0-imagenet"), real_encoder("efficientnet-lite0")
    assert enc.dim == 2280
    assert enc.name == "efficientnet-lite0-imagenet"
    assert enc.version != base.version  # its own cache key
    im = Image.open(APPLE)
    out, pooled = enc.encode([im]), base.encode([im])
    assert out.shape == (1, 2280)
    np.testing.assert_allclose(out[:, :1280], pooled, atol=1e-6)
    probs = out[0, 1280:]
    assert probs.sum() == pytest.approx(1, abs=1e-4)
    assert 948 in np.argsort(-probs)[:5]  # ImageNet's Granny Smith
    batch = np.stack([enc.preprocess(im)])
    np.testing.assert_allclose(enc.encode_batch(batch), out, atol=1e-5)
