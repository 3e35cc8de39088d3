from __future__ import annotations

import pytest
import torch

from pictext.caption.models import ARCHS, DecoderConfig, build_decoder


def _model(arch: str) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = DecoderConfig(
        arch=arch,
        image_dim=10,
        vocab_size=30,
        hidden=16,
        max_positions=12,
        retrieve=2,
        store_size=5,
        store_len=6,
    )
    model = build_decoder(cfg)
    if arch == "retrieval":
        model.set_store(torch.randn(5, 10), torch.randint(1, 30, (5, 6)))
    return model.eval()


@pytest.mark.parametrize("arch", ARCHS)
def test_forward_shape_and_finite(arch: str) -> None:
    model = _model(arch)
    logits = model(torch.randn(3, 10), torch.randint(1, 30, (3, 7)))
    assert logits.shape == (3, 7, 30)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("arch", ARCHS)
def test_decoder_is_causal(arch: str) -> None:
    # Teacher forcing is only honest if position t cannot see token t+1.
    model = _model(arch)
    image, tokens = torch.randn(2, 10), torch.randint(4, 30, (2, 6))
    changed = tokens.clone()
    changed[:, 4:] = (changed[:, 4:] + 1) % 26 + 4
    a, b = model(image, tokens), model(image, changed)
    assert torch.allclose(a[:, :4], b[:, :4], atol=1e-5)
    assert not torch.allclose(a[:, 4:], b[:, 4:], atol=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_output_depends_on_image(arch: str) -> None:
    model = _model(arch)
    tokens = torch.randint(4, 30, (1, 5))
    assert not torch.allclose(model(torch.randn(1, 10), tokens), model(torch.randn(1, 10), tokens))


def test_unknown_arch() -> None:
    with pytest.raises(ValueError, match="unknown caption decoder"):
        build_decoder(DecoderConfig(arch="gru", image_dim=4, vocab_size=8))


def test_retrieval_decoder_excludes_itself_only_while_fitting() -> None:
    model = _model("retrieval")
    query = model.store_image[2:3] * 3.0  # same direction as store row 2
    assert model.neighbours(query)[0, 0].item() == 2
    model.exclude_identical = True
    assert 2 not in model.neighbours(query)[0].tolist()
