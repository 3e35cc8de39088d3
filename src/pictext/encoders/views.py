"""Test-time views of a preprocessed batch: an image tower's embedding as the mean over views.

A view is a fixed transform of the network input ``[N, 3, S, S]``; ``("identity",)`` is the
plain embedding, ``("identity", "flip")`` the mean of it and the mirror image's. The views
are part of the encoder's version (:func:`views_tag`), so each setting is cached apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# Bump when a view changes its output: part of the version of encoders with views.
VIEWS_VERSION = 1
VIEWS = ("identity", "flip")  # the known views, in their canonical order
PLAIN = ("identity",)  # one view: the plain embedding (no suffix in the version)


def check_views(views: Sequence[str]) -> tuple[str, ...]:
    """The views in canonical order, each once.

    Raises:
        ValueError: If ``views`` is empty or names an unknown view.
    """
    unknown = sorted(set(views) - set(VIEWS))
    if unknown or not views:
        raise ValueError(f"views must be a non-empty subset of {VIEWS}, got {tuple(views)}")
    return tuple(v for v in VIEWS if v in views)


def views_tag(views: Sequence[str]) -> str:
    """The version suffix of a view setting: ``""`` (plain) or e.g. ``-v1-identity-flip``."""
    views = check_views(views)
    return "" if views == PLAIN else f"-v{VIEWS_VERSION}-" + "-".join(views)


def view_batch(batch: np.ndarray, view: str) -> np.ndarray:
    """One view of a batch ``[N, 3, S, S]`` (``flip``: mirrored left to right)."""
    if view == "identity":
        return batch
    if view == "flip":
        return np.ascontiguousarray(batch[..., ::-1])
    raise ValueError(f"unknown view {view!r}; known: {VIEWS}")


def mean_over_views(
    run: Callable[[np.ndarray], np.ndarray], batch: np.ndarray, views: Sequence[str]
) -> np.ndarray:
    """The mean of ``run`` over the views of ``batch`` (float32 ``[N, D]``).

    Example:
        >>> x = np.arange(4, dtype=np.float32).reshape(1, 1, 1, 4)
        >>> mean_over_views(lambda b: b[:, 0, 0, :1], x, ("identity", "flip"))
        array([[1.5]], dtype=float32)
    """
    views = check_views(views)
    out = np.asarray(run(view_batch(batch, views[0])), np.float32)
    for view in views[1:]:
        out = out + np.asarray(run(view_batch(batch, view)), np.float32)
    return out / np.float32(len(views)) if len(views) > 1 else out
