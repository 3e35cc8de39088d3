"""Tiny generated image trees for the data tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own cache root, so no test reads another's rasters."""
    monkeypatch.setenv("PICTEXT_CACHE", str(tmp_path_factory.mktemp("cache")))


def write_png(path: Path, color=(200, 30, 30), size=(16, 12), mode="RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)
    return path


def write_json(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


SVG = (
    '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" {size}>'
    '<rect x="0" y="0" width="10" height="10" fill="#0000ff"/></svg>'
)


def write_svg(path: Path, size='width="20" height="10" viewBox="0 0 20 10"') -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SVG.format(size=size), encoding="utf-8")
    return path


@pytest.fixture
def class_folder(tmp_path: Path) -> Path:
    """A folder of class folders with good and bad items (see test_readers)."""
    root = tmp_path / "pets"
    write_png(root / "dog" / "1.png")
    write_json(
        root / "dog" / "1.json",
        {"title": " A  dog ", "description": "Brown dog", "tags": ["pet", " ", "pet", "brown"]},
    )
    write_png(root / "dog" / "puppies" / "2.png", color=(10, 10, 10))
    write_json(root / "dog" / "puppies" / "2.json", {"title": "", "tags": "small;cute"})
    write_png(root / "cat" / "3.png", color=(0, 90, 0))
    (root / "cat" / "3.json").write_text("{not json", encoding="utf-8")
    write_png(root / "cat" / "4.png", color=(0, 0, 90))
    (root / "cat" / "4.json").write_bytes(b'{"title": "caf\xe9 cat"}')  # latin-1, not UTF-8
    write_png(root / "cat" / "5.png", color=(90, 90, 0))  # no sidecar
    (root / "cat" / "6.png").write_bytes(b"")  # zero bytes
    noise = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(noise).save(root / "cat" / "7.png")
    png = (root / "cat" / "7.png").read_bytes()
    (root / "cat" / "7.png").write_bytes(png[: len(png) // 2])  # truncated
    (root / "cat" / "8.jpg").write_bytes(b"this is not an image")  # bogus content
    (root / "cat" / "9.xyz").write_bytes(b"whatever")  # unsupported extension
    write_svg(root / "cat" / "10.svg")
    return root


@pytest.fixture
def gray_pixels() -> np.ndarray:
    return (np.arange(28 * 28) % 256).astype(np.uint8).reshape(28, 28)


@pytest.fixture
def make():
    """Writers for tiny files: ``make.png(path, ...)``, ``make.json(path, data)``, ``make.svg``."""
    from types import SimpleNamespace

    return SimpleNamespace(png=write_png, json=write_json, svg=write_svg)
