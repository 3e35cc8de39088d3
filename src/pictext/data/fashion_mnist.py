"""Fashion-MNIST (Debian ``dataset-fashion-mnist``): 70,000 28x28 grayscale images, no text.

Items hold their ``pixels`` (uint8 [28, 28]); ids are ``train/00000`` ... and
``test/00000`` ...; the official split is also in ``source`` (``fashion-mnist/train`` or
``fashion-mnist/test``), so it can be recovered without parsing ids.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from pictext.data.dataset import Dataset
from pictext.data.item import Item
from pictext.data.packages import data_path

PACKAGE = "dataset-fashion-mnist"
DATA_ROOT = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")  # fmt: skip
_FILES = {"train": "train", "test": "t10k"}


def read_idx(path: Path) -> np.ndarray:
    """An IDX array (``.gz`` or plain), uint8 only (the magic says 0x08).

    Raises:
        ValueError: not an uint8 IDX file, or its size does not match its header.
    """
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {data.size} bytes of data for shape {shape}")
    return data.reshape(shape)


def read_fashion_mnist(
    *, root: Path | None = None, splits: tuple[str, ...] = ("train", "test")
) -> Dataset:
    """The Fashion-MNIST dataset, official train items first, then test.

    Args:
        root: folder with the ``*-ubyte.gz`` files; default the Debian package's.
        splits: which official splits to read.
    """
    root = root or data_path(PACKAGE, DATA_ROOT)
    items: list[Item] = []
    for split in splits:
        prefix = _FILES[split]
        images = read_idx(root / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(root / f"{prefix}-labels-idx1-ubyte.gz")
        if len(images) != len(labels):
            raise ValueError(f"{root}: {len(images)} {split} images but {len(labels)} labels")
        source = f"fashion-mnist/{split}"
        items += [
            Item(f"{split}/{i:05d}", label=CLASSES[y], source=source, pixels=img)
            for i, (img, y) in enumerate(zip(images, labels.tolist(), strict=True))
        ]
    return Dataset("fashion-mnist", items, class_names=list(CLASSES))
