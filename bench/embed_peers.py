"""Peers of ``pictext embed``: eager torch the way a torch user would run the same tower.

No CPU torchvision exists here, so the peers' dataset is written with Pillow + numpy, with
the tower's own preprocessing (pad square on white, bilinear resize, ``(x - 127) / 128``).
Both peers start from the image files, as ``pictext embed`` does.

- :func:`dataloader_peer`: a ``torch.utils.data.DataLoader`` with worker processes,
  batch 32, ``inference_mode``, channels_last model and input.
- :func:`one_by_one_peer`: decode, preprocess and run one image at a time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


def peer_pixels(path: str | Path, size: int) -> np.ndarray:
    """float32 ``[3, S, S]``: decode, flatten alpha on white, pad square, resize, normalise."""
    with Image.open(path) as im:
        im.draft("RGB", (size, size))  # a no-op except for JPEG (what a careful peer does)
        rgba = im.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    square = ImageOps.pad(flat, (size, size), Image.Resampling.BILINEAR, color=(255, 255, 255))
    x = (np.asarray(square, dtype=np.float32) - 127.0) / 128.0
    return np.ascontiguousarray(x.transpose(2, 0, 1))


class PeerDataset:
    """A map-style torch dataset over image files (picklable for worker processes)."""

    def __init__(self, paths: Sequence[str | Path], size: int) -> None:
        self.paths, self.size = list(paths), size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> object:
        import torch

        return torch.from_numpy(peer_pixels(self.paths[i], self.size))


def dataloader_peer(
    encoder: object, paths: Sequence[str | Path], *, batch: int = 32, workers: int = 2
) -> float:
    """Images/s of a DataLoader (``workers`` processes) feeding the eager torch module.

    The loader's workers are started and warmed by a first pass over one batch; the timed
    pass is a full epoch over ``paths``.
    """
    import torch
    from torch.utils.data import DataLoader

    module = encoder.torch_module().to(memory_format=torch.channels_last)
    loader = DataLoader(
        PeerDataset(paths, encoder.image_size),
        batch_size=batch,
        num_workers=workers,
        persistent_workers=workers > 0,
    )
    with torch.inference_mode():
        for x in loader:  # warm-up: workers started, first batches through the model
            module(x.contiguous(memory_format=torch.channels_last))
            break
        start = time.perf_counter()
        for x in loader:
            module(x.contiguous(memory_format=torch.channels_last))
        seconds = time.perf_counter() - start
    return len(paths) / seconds


def one_by_one_peer(encoder: object, paths: Sequence[str | Path]) -> float:
    """Images/s of decode + preprocess + eager torch on one image per call."""
    import torch

    module = encoder.torch_module()
    size = encoder.image_size
    with torch.inference_mode():
        module(torch.from_numpy(peer_pixels(paths[0], size))[None])  # warm-up
        start = time.perf_counter()
        for p in paths:
            module(torch.from_numpy(peer_pixels(p, size))[None])
        seconds = time.perf_counter() - start
    return len(paths) / seconds
