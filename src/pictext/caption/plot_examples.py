"""Held-out images with their generated captions next to the references."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pictext.caption.bleu import sentence_overlap
from pictext.core.figures import figure, save_png

if TYPE_CHECKING:
    from PIL import Image


def pick_examples(
    hypotheses: Sequence[str],
    references: Sequence[str],
    n_good: int = 5,
    n_bad: int = 5,
    *,
    groups: Sequence[object] | None = None,
    seed: int = 0,
) -> list[int]:
    """Indices of good and bad captions by unigram F1 against the reference.

    Among equal scores (many captions score exactly 1 or 0) the order is a seeded shuffle,
    and each pick prefers a reference and a group (e.g. class) not shown yet, so the
    examples are not all from one folder.
    """
    score = np.array([sentence_overlap(h, r) for h, r in zip(hypotheses, references, strict=True)])
    tie = np.random.default_rng(seed).random(len(score))
    best_first = np.lexsort((tie, -score))
    worst_first = np.lexsort((tie, score))
    keys = list(groups) if groups is not None else list(range(len(score)))
    good = _spread(best_first, n_good, references, keys, set())
    bad = _spread(worst_first, n_bad, references, keys, set(good))
    return good + bad


def _spread(
    order: np.ndarray, n: int, references: Sequence[str], keys: list[object], skip: set[int]
) -> list[int]:
    out: list[int] = []
    for strict in (True, False):  # first distinct groups, then fill up if there are too few
        for i in map(int, order):
            if len(out) == n:
                return out
            if i in skip or i in out or references[i] in {references[j] for j in out}:
                continue
            if strict and keys[i] in {keys[j] for j in out}:
                continue
            out.append(i)
    return out


def plot_caption_examples(
    images: Sequence[Image.Image],
    captions: dict[str, Sequence[str]],
    references: Sequence[str],
    path: str | Path,
    *,
    title: str = "",
    labels: Sequence[str] | None = None,
    columns: int = 5,
) -> Path:
    """A grid of images, each with one line per captioning system and the reference.

    Args:
        images: Decoded images, one per example.
        captions: System name -> caption per example (several systems side by side).
        references: Reference caption per example.
        path: PNG file to write.
        title: Figure title.
        labels: Optional class per example, printed above the image.
        columns: Images per row.
    """
    n = len(images)
    if any(len(c) != n for c in captions.values()) or len(references) != n:
        raise ValueError("images, every caption list and references must have the same length")
    rows = max(1, -(-n // columns))
    fig, axes = figure(rows, columns, figsize=(3.3 * columns, 4.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, img in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(_square(img))
        if labels is not None:
            ax.set_title(labels[i], fontsize=9, color="0.35")
        lines = [_wrap(f"reference: {references[i] or '(empty)'}", "0.0")]
        lines += [_wrap(f"{name}: {caps[i] or '(empty)'}", "C0") for name, caps in captions.items()]
        _text_below(ax, lines)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.subplots_adjust(hspace=0.9, wspace=0.1)
    return save_png(fig, path)


def _square(img: Image.Image) -> Image.Image:
    # Equal square panels keep the caption text below every image at the same place.
    from PIL import Image as PILImage

    img = img.convert("RGB")
    side = max(img.size)
    canvas = PILImage.new("RGB", (side, side), "white")
    canvas.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
    return canvas


def _wrap(text: str, color: str) -> tuple[str, str]:
    return "\n".join(textwrap.wrap(text, 40, max_lines=3, placeholder=" ...")), color


def _text_below(ax: object, lines: list[tuple[str, str]]) -> None:
    y = -0.03
    for text, color in lines:
        ax.text(0.0, y, text, transform=ax.transAxes, fontsize=7.5, va="top", color=color)
        y -= 0.075 * (text.count("\n") + 1) + 0.02
