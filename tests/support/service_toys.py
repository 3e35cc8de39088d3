"""A tiny bundle for service tests: a folder dataset of coloured pictures, toy encoders,
and small real heads (fusion classifier, ranking head + index, captioner) trained in seconds."""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 40), "blue": (30, 60, 220)}
PER_CLASS = 8


class ToyImageEncoder:
    """Mean colour of each image quadrant: 12-d, so colour decides similarity."""

    name = "toy-image"
    version = "1"
    dim = 12
    image_size = 32

    def pixels(self, image: Image.Image) -> np.ndarray:
        return np.asarray(image.convert("RGB").resize((32, 32)), np.uint8)

    def normalize_batch(self, pixels: np.ndarray) -> np.ndarray:
        return (pixels.astype(np.float32) / 255.0).transpose(0, 3, 1, 2)

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return self.normalize_batch(self.pixels(image)[None])[0]

    def encode_batch(self, batch: np.ndarray) -> np.ndarray:
        quads = [
            batch[:, :, r : r + 16, c : c + 16].mean(axis=(2, 3)) for r in (0, 16) for c in (0, 16)
        ]
        return np.concatenate(quads, axis=1).astype(np.float32)

    def encode(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.encode_batch(self.normalize_batch(np.stack([self.pixels(i) for i in images])))


class ToyTextEncoder:
    """Hashed bag of words, unit length, 16-d."""

    name = "toy-text"
    version = "1"
    dim = 16

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().replace(".", " ").replace(",", " ").split():
                out[i, zlib.crc32(w.encode()) % self.dim] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def toy_factory(name: str, **options: Any) -> Any:
    encoders = {"toy-image": ToyImageEncoder, "toy-text": ToyTextEncoder}
    if name not in encoders:
        raise KeyError(f"no toy encoder {name!r}")
    return encoders[name]()


def toy_config(**overrides: Any) -> Any:
    """Service limits for the toy bundle (toy caption encoder, fast PCA map)."""
    from pictext.service.config import ServiceConfig

    base = {"caption_text_encoder": "toy-text", "map_method": "pca", "threads": 1}
    return ServiceConfig(**{**base, **overrides})


def picture(colour: str, size: tuple[int, int] = (40, 30), seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = np.array(COLOURS[colour], np.float32)
    arr = np.clip(base + rng.normal(0, 12, size=(size[1], size[0], 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def png_bytes(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width x height`` pixels but holds almost no data (a tiny bomb)."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def write_dataset(root: Path) -> Path:
    """Class folders with sidecars; the green ones one folder deeper (ids with two slashes)."""
    for colour in COLOURS:
        for i in range(PER_CLASS):
            folder = root / colour / ("deep" if colour == "green" else "")
            folder.mkdir(parents=True, exist_ok=True)
            picture(colour, seed=i + 10 * len(colour)).save(folder / f"{colour}{i}.png")
            meta = {
                "title": f"a {colour} picture number {i}",
                "description": f"mostly {colour} pixels",
                "tags": [colour, "colour"],
            }
            (folder / f"{colour}{i}.json").write_text(json.dumps(meta))
    return root


def build_bundle(root: Path) -> Path:
    """data/, cache/ and bundle/ (classifier, index, captioner, bundle.json) under ``root``."""
    from pictext.caption import Captioner
    from pictext.classify.fusion import FusionClassifier
    from pictext.data import load_dataset
    from pictext.rank.head import RankingHead
    from pictext.rank.index import SearchIndex
    from pictext.store import embed_dataset

    data = write_dataset(root / "data")
    ds = load_dataset(data)
    feats = embed_dataset(
        ds, ToyImageEncoder(), ToyTextEncoder(), cache_dir=root / "cache", progress=False
    )
    y = ds.labels()
    bundle = root / "bundle"
    clf = FusionClassifier(
        epochs=60, tune_dim=8, image_tune_dim=8, hidden=16, patience=60, lr=1e-2, batch_size=8,
        dropout=0.0, input_dropout=0.0, modality_dropout=0.0, field_dropout=0.0,
    )  # fmt: skip
    clf.fit(feats, y, classes=ds.classes).save(bundle / "classifier")
    head = RankingHead(embed_dim=8, epochs=3, batch_size=16, progress=False)
    head.fit(feats, y, classes=ds.classes)
    labels = [it.label for it in ds.items]
    SearchIndex.build(feats, head=head, labels=labels, dataset=str(data)).save(bundle / "index")
    captions = [f"a {it.label} picture" for it in ds.items]
    cap = Captioner(
        epochs=60, min_count=1, hidden=16, dropout=0.0, lr=1e-2, batch_size=8,
        val_fraction=0.0, patience=0,
    )  # fmt: skip
    cap.fit(feats.image, captions, image_encoder=feats.image_encoder).save(bundle / "captioner")
    (bundle / "bundle.json").write_text(json.dumps({"title": "toy colours"}))
    return bundle
