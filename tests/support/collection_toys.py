"""Tiny folder datasets and PNG bytes for collection tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image


def make_folder(root: Path) -> Path:
    """Six small images in two class folders, each with a sidecar."""
    data = root / "data"
    for label, colour in (("cat", (200, 40, 40)), ("dog", (40, 40, 200))):
        (data / label).mkdir(parents=True)
        for n in range(3):
            pixels = np.full((8, 8, 3), colour, np.uint8)
            pixels[n, n] = (255, 255, 255)  # each image distinct
            Image.fromarray(pixels).save(data / label / f"{n}.png")
            side = {"title": f"{label} {n}", "description": "a pet", "tags": ["pet", label]}
            (data / label / f"{n}.json").write_text(json.dumps(side))
    return data


def png_bytes(colour: tuple[int, int, int]) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), colour, np.uint8)).save(buf, "PNG")
    return buf.getvalue()
