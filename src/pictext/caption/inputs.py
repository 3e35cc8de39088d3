"""Checks and normalisation of the image embeddings every captioner takes."""

from __future__ import annotations

import numpy as np


def check_image(image: np.ndarray, dim: int | None = None) -> np.ndarray:
    """``image`` as contiguous float32 ``[N, D]`` after checking its shape and values.

    Raises:
        ValueError: not 2-D, not ``dim`` wide (when given), or not finite.
    """
    image = np.ascontiguousarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"image embeddings must be [N, D], got shape {image.shape}")
    if dim is not None and image.shape[1] != dim:
        raise ValueError(f"image embeddings are {image.shape[1]}-d; this model expects {dim}-d")
    if not np.isfinite(image).all():
        raise ValueError("image embeddings contain NaN or inf")
    return image
