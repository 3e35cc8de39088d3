"""EfficientNet-Lite towers with their real weights (integration tests, run in CI)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pictext.encoders import ImageEncoder, get_entry, list_encoders

pytestmark = pytest.mark.slow
pytest.importorskip("onnxruntime")
pytest.importorskip("efficientnet_lite_pytorch")

TUXPAINT = Path("/usr/share/tuxpaint/stamps")
# Tuxpaint photos of ImageNet objects -> ImageNet-1k class index.
# the pooled towers (efficientnet-lite0-imagenet adds a head: test_efficientnet_logits.py)
POOLED = [n for n in list_encoders("image") if get_entry(n).dim == 1280]
PHOTOS = {
    "food/fruit/pineapple.png": 953,
    "food/fruit/apple_granny_smith.png": 948,
    "food/fruit/orange.png": 950,
    "food/fruit/lemon.png": 951,
    "food/fruit/banana.png": 954,
    "food/fruit/strawberry.png": 949,
    "food/pizza.png": 963,
    "food/vegetables/broccoli.png": 937,
    "food/vegetables/mushroom.png": 947,
    "food/vegetables/pepper.png": 945,
    "vehicles/garbagetruck.png": 569,
    "vehicles/emergency/firetruck.png": 555,
    "vehicles/flight/planes/747.png": 404,
    "food/fruit/pomegranate.png": 957,
    "food/fruit/cherimoya.png": 956,
    "vehicles/flight/balloon360.png": 417,
}


def _images() -> list[Image.Image]:
    return [
        Image.new("RGB", (40, 90), "red"),
        Image.new("L", (300, 200), 30),
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 4), dtype=np.uint8)),
    ]


@pytest.mark.parametrize("name", POOLED)
def test_forward_shape_dtype_finite(real_encoder: Callable[..., Any], name: str) -> None:
    enc = real_encoder(name)
    assert isinstance(enc, ImageEncoder)
    out = enc.encode(_images())
    assert out.shape == (3, 1280)
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    assert (out >= 0).all()  # ReLU6 trunk, average pooled
    assert not np.allclose(out[0], out[1])  # different images, different features
    assert enc.encode([]).shape == (0, 1280)


@pytest.mark.parametrize("name", [n for n in POOLED if not n.endswith("-int8")])
def test_onnx_runtime_agrees_with_torch(real_encoder: Callable[..., Any], name: str) -> None:
    onnx_enc = real_encoder(name)
    torch_enc = real_encoder(name, runtime="torch")
    batch = np.stack([onnx_enc.preprocess(im) for im in _images()])
    a, b = onnx_enc.encode_batch(batch), torch_enc.encode_batch(batch)
    assert np.abs(a - b).max() < 1e-3
    assert onnx_enc.onnx_path.is_file()
    assert onnx_enc.version == torch_enc.version


def test_batch_shape_is_checked(real_encoder: Callable[..., Any]) -> None:
    enc = real_encoder("efficientnet-lite0")
    with pytest.raises(ValueError, match="expects a batch"):
        enc.encode_batch(np.zeros((2, 3, 260, 260), np.float32))


def test_version_names_weights_and_preprocessing(real_encoder: Callable[..., Any]) -> None:
    lite0, lite2 = real_encoder("efficientnet-lite0"), real_encoder("efficientnet-lite2")
    assert lite0.version != lite2.version
    assert lite0.version.startswith("57934424")  # sha256 prefix of the shipped .pth
    assert "-p1-" in lite0.version
    assert lite0.name in lite0.onnx_path.name
    assert lite0.version in lite0.onnx_path.name


def test_version_changes_with_preprocessing_and_export(monkeypatch: pytest.MonkeyPatch) -> None:
    import pictext.encoders.efficientnet as eff
    from pictext.encoders import create_encoder

    before = create_encoder("efficientnet-lite0").version
    monkeypatch.setattr(eff, "PREPROC_VERSION", eff.PREPROC_VERSION + 1)
    after_preproc = create_encoder("efficientnet-lite0").version
    monkeypatch.setattr(eff, "EXPORT_VERSION", eff.EXPORT_VERSION + 1)
    after_export = create_encoder("efficientnet-lite0").version
    assert len({before, after_preproc, after_export}) == 3


@pytest.mark.skipif(not TUXPAINT.is_dir(), reason="tuxpaint-stamps-default not installed")
def test_imagenet_predictions_validate_preprocessing(real_encoder: Callable[..., Any]) -> None:
    """The pretrained 1000-class head must recognise real photos: checks the normalisation."""
    import torch

    enc = real_encoder("efficientnet-lite0", runtime="torch")
    module = enc.torch_module()
    batch = np.stack([enc.preprocess(Image.open(TUXPAINT / p)) for p in PHOTOS])
    with torch.inference_mode():
        probs = module.logits(torch.from_numpy(batch)).softmax(dim=1).numpy()
    top5 = np.argsort(-probs, axis=1)[:, :5]
    targets = np.array(list(PHOTOS.values()))
    p_true = probs[np.arange(len(targets)), targets].mean()
    top1_hits = int((top5[:, 0] == targets).sum())
    top5_hits = sum(t in row for t, row in zip(targets, top5, strict=True))
    # Measured: (x-127)/128 12/16 top-1, 14/16 top-5, mean p(true) 0.69;
    # ImageNet mean/std 11, 12, 0.55; x/255 12, 14, 0.60.
    assert top1_hits >= 11
    assert top5_hits >= 13
    assert p_true > 0.65


def test_torch_module_is_a_fresh_copy(real_encoder: Callable[..., Any]) -> None:
    enc = real_encoder("efficientnet-lite0")
    a, b = enc.torch_module(), enc.torch_module()
    assert a is not b
    assert not a.training
    first = next(a.parameters())
    first.data.add_(1.0)
    assert not np.allclose(first.detach().numpy(), next(b.parameters()).detach().numpy())


def test_preprocess_batch_equals_stacked_preprocess(real_encoder: Callable[..., Any]) -> None:
    enc = real_encoder("efficientnet-lite2")
    images = _images()
    stacked = np.stack([enc.preprocess(im) for im in images])
    batch = enc.preprocess_batch(images)
    assert batch.shape == (3, 3, 260, 260)
    np.testing.assert_allclose(batch, stacked, rtol=1e-6)
    assert enc.pixels(images[0]).dtype == np.uint8
