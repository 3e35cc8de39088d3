"""A small class-folder dataset with sidecars, written into a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for i, (label, colour) in enumerate(
        [("cat", (200, 0, 0)), ("cat", (190, 10, 0)), ("dog", (0, 200, 0)), ("dog", (0, 0, 200))]
    ):
        (root / label).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), colour).save(root / label / f"{i}.png")
        sidecar = {"title": f"photo {i}", "description": f"a {label}", "tags": [label, "pet"]}
        (root / label / f"{i}.json").write_text(json.dumps(sidecar))
    return root


@pytest.fixture
def png():
    """Makes the bytes of a small PNG of one colour."""
    import io

    def make(colour: tuple[int, int, int]) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), colour).save(buffer, format="PNG")
        return buffer.getvalue()

    return make
