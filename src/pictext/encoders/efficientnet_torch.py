"""The torch side of the EfficientNet-Lite towers: build, load weights, pooled features.

Imported only when a torch module is needed (first ONNX export, fine-tuning, the torch
runtime), so that loading a cached ONNX encoder does not pay for importing torch.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from pictext.encoders._deps import require


class PooledFeatures(nn.Module):
    """EfficientNet trunk + global average pooling: images ``[N, 3, S, S]`` -> ``[N, 1280]``.

    The ImageNet classifier (``_fc``) is kept on ``net`` but not used by ``forward``; call
    ``logits()`` for the 1000-class head (used to check the preprocessing).
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled 1280-d features of a batch."""
        return self.net.extract_features(images).mean(dim=(2, 3))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet logits ``[N, 1000]`` from the pretrained head."""
        return self.net._fc(self.forward(images))


def build_module(arch: str) -> nn.Module:
    """An untrained ``efficientnet_lite_pytorch`` EfficientNet of the given architecture."""
    lib = require(
        "efficientnet_lite_pytorch", "efficientnet-lite-pytorch", purpose=f"encoder {arch!r}"
    )
    return lib.EfficientNet.from_name(arch)


def load_weights(net: nn.Module, weights: Path) -> nn.Module:
    """Load a pretrained state dict (tensors only, ``weights_only=True``), every key required.

    Equivalent to ``EfficientNet.from_pretrained(arch, weights_path=...)`` but without
    unpickling arbitrary objects and without printing.

    Raises:
        FileNotFoundError: If the weights file is missing.
    """
    if not weights.is_file():
        raise FileNotFoundError(f"EfficientNet weights file not found: {weights}")
    state = torch.load(weights, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net


def pretrained_features(arch: str, weights: Path) -> PooledFeatures:
    """The pretrained pooled-feature module, in eval mode."""
    return PooledFeatures(load_weights(build_module(arch), weights)).eval()


def trainable_tail(module: nn.Module, fraction: float = 0.5) -> list[nn.Parameter]:
    """Unfreeze the last ``fraction`` of the MBConv blocks and the head conv/bn; freeze the rest.

    The study fine-tuned "the last 50% of layers"; here the unit is an MBConv block (lite0 has
    16, lite2 19). Frozen BatchNorm layers should also be kept in eval mode while training.

    Args:
        module: A :class:`PooledFeatures` or a bare ``EfficientNet``.
        fraction: Share of the blocks to train, in ``[0, 1]``; rounded up to whole blocks.

    Returns:
        The parameters that now require gradients (pass them to the optimiser).

    Raises:
        ValueError: If ``fraction`` is outside ``[0, 1]``.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    net = module.net if isinstance(module, PooledFeatures) else module
    blocks = list(net._blocks)
    n_train = math.ceil(len(blocks) * fraction)
    for param in net.parameters():
        param.requires_grad_(False)
    if n_train == 0:
        return []
    train_parts: list[nn.Module] = [*blocks[len(blocks) - n_train :], net._conv_head, net._bn1]
    params: list[nn.Parameter] = []
    for part in train_parts:
        for param in part.parameters():
            param.requires_grad_(True)
            params.append(param)
    return params
