"""Generated drawings: a stand-in for clip art where no collection is installed.

Used by :mod:`pictext.encoders.quantize` to check an int8 graph built from shipped ranges on
a machine without the packaged collections: flat-coloured shapes and strokes on white, the
look of the stamps and drawings the ranges were calibrated on. Deterministic for a seed.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = rng.integers(0, 256, 3)
    return int(r), int(g), int(b)


def _box(rng: np.random.Generator, side: int) -> list[int]:
    x0, y0 = rng.integers(0, side * 3 // 4, 2)
    w, h = rng.integers(side // 8, side // 2, 2)
    return [int(x0), int(y0), int(min(side - 1, x0 + w)), int(min(side - 1, y0 + h))]


def _drawing(rng: np.random.Generator, side: int) -> Image.Image:
    image = Image.new("RGB", (side, side), "white")
    draw = ImageDraw.Draw(image)
    outline = int(rng.integers(1, max(2, side // 40)))
    for _ in range(int(rng.integers(3, 9))):
        kind = int(rng.integers(0, 4))
        fill, line = _colour(rng), _colour(rng) if rng.random() < 0.5 else (0, 0, 0)
        if kind == 0:
            draw.ellipse(_box(rng, side), fill=fill, outline=line, width=outline)
        elif kind == 1:
            draw.rectangle(_box(rng, side), fill=fill, outline=line, width=outline)
        elif kind == 2:
            points = [tuple(int(v) for v in p) for p in rng.integers(0, side, (5, 2))]
            draw.polygon(points, fill=fill, outline=line)
        else:
            points = [tuple(int(v) for v in p) for p in rng.integers(0, side, (4, 2))]
            draw.line(points, fill=line, width=outline * 3, joint="curve")
    return image


def synthetic_images(n: int, side: int, seed: int = 0) -> list[Image.Image]:
    """``n`` RGB drawings of ``side`` x ``side`` pixels, the same ones for the same seed.

    Example:
        >>> images = synthetic_images(2, 64, seed=0)
        >>> [im.size for im in images]
        [(64, 64), (64, 64)]
    """
    rng = np.random.default_rng(seed)
    return [_drawing(rng, side) for _ in range(n)]
