"""Summary statistics of a dataset: classes, missing text per field, image sizes, duplicates."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from pictext.data.dataset import Dataset
from pictext.data.item import TEXT_FIELDS, Item

_SVG_HEAD = 1 << 16  # bytes read to find an SVG's root element


def image_header(item: Item) -> tuple[str, int, int] | None:
    """(format, width, height) from the image header only; None when unreadable.

    SVG sizes are the intrinsic size (width/height or viewBox) in px; in-memory pixels are
    reported as format ``pixels``.
    """
    if item.pixels is not None:
        return "pixels", int(item.pixels.shape[1]), int(item.pixels.shape[0])
    if item.image is None:
        return None
    path = Path(item.image)
    try:
        with path.open("rb") as fh:
            head = fh.read(_SVG_HEAD)
    except OSError:
        return None
    from pictext.data.svg import SVG_SUFFIXES, intrinsic_size, looks_like_svg

    if path.suffix.lower() in SVG_SUFFIXES or looks_like_svg(head):
        size = intrinsic_size(head)
        return ("SVG", round(size[0]), round(size[1])) if size else None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return str(img.format), int(img.size[0]), int(img.size[1])
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return None


def _size_stats(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values)
    return {"min": int(arr.min()), "median": float(np.median(arr)), "max": int(arr.max())}


def image_stats(dataset: Dataset) -> dict[str, Any]:
    """Width/height min/median/max, format counts and unreadable headers."""
    headers = [image_header(item) for item in dataset.items]
    ok = [h for h in headers if h is not None]
    return {
        "width": _size_stats([h[1] for h in ok]),
        "height": _size_stats([h[2] for h in ok]),
        "formats": dict(Counter(h[0] for h in ok).most_common()),
        "unreadable_headers": len(headers) - len(ok),
    }


def text_stats(dataset: Dataset) -> dict[str, Any]:
    """Missing-text rate per field (the study's Table 1) and mean words per field, overall
    and per source (``missing_rate_by_source``: source -> field -> rate)."""
    by_source: dict[str, list[Item]] = {}
    for item in dataset.items:
        by_source.setdefault(item.source, []).append(item)
    missing, words = _missing(dataset.items)
    return {
        "missing_rate": missing,
        "mean_words": words,
        "sources": {s: len(items) for s, items in by_source.items()},
        "missing_rate_by_source": {s: _missing(items)[0] for s, items in by_source.items()},
    }


def _missing(items: list[Item]) -> tuple[dict[str, float], dict[str, float]]:
    n = max(len(items), 1)
    missing: dict[str, float] = {}
    words: dict[str, float] = {}
    for name in (*TEXT_FIELDS, "text"):
        texts = [item.field_text(name) for item in items]
        missing[name] = sum(not t.strip() for t in texts) / n
        words[name] = sum(len(t.split()) for t in texts) / n
    return missing, words


def dataset_info(
    dataset: Dataset,
    *,
    images: bool = True,
    duplicates: bool = True,
    strip_label_words: bool = False,
) -> dict[str, Any]:
    """Everything ``pictext datasets info`` prints, as a JSON-ready dict.

    ``label_leakage`` is measured on the text as read (``before``) and after
    :func:`~pictext.data.hygiene.strip_label_words` (``after``): the share of items per field
    whose text holds a word of their own fine label (WebVision: their query) or class.

    Args:
        dataset: the dataset, as read (its text not stripped).
        images: read image headers for size and format statistics.
        duplicates: count exact-duplicate groups (hashes every image once).
        strip_label_words: describe the text after stripping (the leakage has both).
    """
    from pictext.data.hygiene import label_leakage
    from pictext.data.hygiene import strip_label_words as strip

    stripped = strip(dataset)
    leakage = {"before": label_leakage(dataset), "after": label_leakage(stripped)}
    if strip_label_words:
        dataset = stripped
    counts = Counter(item.label for item in dataset.items)
    info: dict[str, Any] = {
        "name": dataset.name,
        "items": len(dataset),
        "classes": len(dataset.classes),
        "per_class": {c: counts.get(c, 0) for c in dataset.classes},
        "unlabelled": counts.get(None, 0),
        "fine_labels": len({i.fine_label for i in dataset.items if i.fine_label}),
        "predefined": {k: len(v) for k, v in dataset.predefined.items()},
        "problems": len(dataset.problems),
        **text_stats(dataset),
        "label_leakage": leakage,
    }
    if images:
        info["images"] = image_stats(dataset)
    if duplicates:
        from pictext.data.split import duplicate_groups

        groups = duplicate_groups(dataset)
        sizes = np.bincount(groups, minlength=len(dataset))
        info["duplicate_groups"] = int((sizes > 1).sum())
        info["items_in_duplicate_groups"] = int(sizes[sizes > 1].sum())
        info["distinct_texts"] = len({i.text for i in dataset.items if i.text})
    return info
