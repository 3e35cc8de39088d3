"""The study's two applications: suggested tags for an upload, and machine-in-the-loop
verification of a claimed label.

:func:`tag_items` and :func:`verify_items` embed new items by the one path for new inputs
(:func:`~pictext.store.embed.embed_items`) with the encoders the model recorded; the CLI and
the service both call them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.core import defaults
from pictext.core.errors import UsageError
from pictext.core.limits import check_k
from pictext.core.names import did_you_mean
from pictext.store.embed import embed_items
from pictext.store.failures import (
    Failure,
    all_read,
    per_item,
    read_rows,
    text_failures,
)
from pictext.store.inputs import uses_text
from pictext.store.pool import EncoderSource

if TYPE_CHECKING:
    from pictext.classify.routed import RoutedClassifier
    from pictext.data.item import Item
    from pictext.store.features import Features
    from pictext.store.memory import MemoryCache


class UnknownLabelError(UsageError, ValueError):
    """A claimed label the model does not know; the message lists the known ones."""

    code = "unknown_label"


TopLabels = list[tuple[str, float]]  # (label, probability), most likely first
_SHOWN_CLASSES = 60  # known labels listed in an unknown-label message


def check_labels(model: RoutedClassifier, claimed: Sequence[str]) -> None:
    """Refuse claimed labels the model does not know, before any work is done.

    Raises:
        UnknownLabelError: naming the unknown labels and listing (up to 60 of) the known ones.
    """
    known = set(model.classes_)
    unknown = sorted({c for c in claimed if c not in known})
    if unknown:
        names = list(model.classes_)
        shown = ", ".join(names[:_SHOWN_CLASSES]) + (" ..." if len(names) > _SHOWN_CLASSES else "")
        hint = "".join(did_you_mean(c, names) for c in unknown[:1])
        raise UnknownLabelError(f"unknown label(s) {unknown}; the model knows: {shown}{hint}")


@dataclass
class Verdict:
    """The model's opinion of one claimed label."""

    item_id: str  # the item checked
    claimed: str  # the label a human gave
    agree: bool  # True when the claimed label is the model's top-1
    confidence: float  # calibrated probability of the claimed label
    predicted: str  # the model's top-1 label
    top: list[tuple[str, float]] = field(default_factory=list)  # model's top-k (label, prob)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.item_id,
            "claimed": self.claimed,
            "verdict": "agree" if self.agree else "disagree",
            "confidence": round(self.confidence, 4),
            "predicted": self.predicted,
            "top": [[lab, round(p, 4)] for lab, p in self.top],
        }


def top_labels(
    model: RoutedClassifier, proba: np.ndarray, k: int = defaults.TAG_K
) -> list[list[tuple[str, float]]]:
    """The ``k`` most likely ``(label, probability)`` per row, most likely first."""
    order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    return [
        [(model.classes_[j], float(p[j])) for j in row] for row, p in zip(order, proba, strict=True)
    ]


def tag(
    model: RoutedClassifier, feats: Features, k: int = defaults.TAG_K
) -> list[list[tuple[str, float]]]:
    """Suggested tags: the top-``k`` labels with calibrated probabilities, per item."""
    return top_labels(model, model.predict_proba(feats), k)


def verify(
    model: RoutedClassifier, feats: Features, claimed: Sequence[str], k: int = defaults.TAG_K
) -> list[Verdict]:
    """Agree or disagree with each claimed label, with calibrated confidence and the top-``k``.

    Raises:
        UnknownLabelError: a claimed label is not one of the model's classes.
    """
    if len(claimed) != feats.n:
        raise ValueError(f"{feats.n} items but {len(claimed)} claimed labels")
    check_labels(model, claimed)
    index = {c: i for i, c in enumerate(model.classes_)}
    proba = model.predict_proba(feats)
    tops = top_labels(model, proba, k)
    out = []
    for i, (item_id, lab) in enumerate(zip(feats.ids, claimed, strict=True)):
        pred = int(proba[i].argmax())
        out.append(
            Verdict(
                item_id,
                lab,
                pred == index[lab],
                float(proba[i, index[lab]]),
                model.classes_[pred],
                tops[i],
            )
        )
    return out


ITEM_TEXT_FIELDS = ("title", "description", "tags")  # the text fields an item carries


def ignored_inputs(model: Any, item: Item) -> list[str]:
    """The text fields ``item`` carries that ``model`` does not read or never saw in training.

    Such a field is not fed to the model (it was not trained to use it: a collection without
    tags makes a model that answers anything when tags appear); the answer names it.
    Any classifier exposing ``config.inputs`` and, optionally, ``trained_inputs`` works.
    """
    reads = set(model.config.inputs)
    trained = set(getattr(model, "trained_inputs", reads))
    return [
        name
        for name in ITEM_TEXT_FIELDS
        if item.field_text(name).strip() and not (name in reads and name in trained)
    ]


def model_encoders(model: RoutedClassifier) -> tuple[str | None, str | None]:
    """The towers a saved model reads: ``(image, text)`` as ``name@version``, None if unread."""
    inputs = model.config.inputs
    image = model.image_encoder_ if "image" in inputs and model.image_encoder_ else None
    text = model.text_encoder_ if uses_text(inputs) and model.text_encoder_ else None
    return image, text


def embed_for_model(
    model: RoutedClassifier,
    items: Sequence[Item],
    *,
    encoders: EncoderSource | None = None,
    cache_dir: str | Path | None = None,
    memory: MemoryCache | None = None,
    progress: bool = False,
) -> tuple[Features, list[Failure]]:
    """Embed new items with the encoders a saved model recorded (only the towers it reads).

    Args:
        model: the fitted classifier.
        items: the items (image files or in-memory pixels, and their text).
        encoders: builds the recorded encoders (default: the registry, versions checked).
        cache_dir: disk cache root (default ``$PICTEXT_CACHE``).
        memory: keep the embeddings in memory instead of on disk.
        progress: show progress bars.

    Returns:
        ``(features, failures)``: see :func:`~pictext.store.embed.embed_items`; an item whose
        text in a field the model reads is not text (binary data, bytes that were never
        UTF-8) is a failure too (see :func:`~pictext.store.failures.text_failures`).
    """
    from pictext.encoders.registry import EncoderVersionError

    image, text = model_encoders(model)
    # A field the model never saw is neither checked nor embedded: it is not fed to it.
    items = [_without(it, ignored_inputs(model, it)) for it in items]
    bad_text = text_failures(items, [f for f in model.config.inputs if f != "image"])
    refused = {f.item_id for f in bad_text}
    # A refused item's text is never embedded (nor cached); its row stays, unanswered.
    items = [
        replace(it, title="", description="", tags=()) if it.id in refused else it for it in items
    ]
    try:
        feats, failures = embed_items(
            items,
            image,
            text,
            encoders=encoders,
            cache_dir=cache_dir,
            memory=memory,
            progress=progress,
        )
    except EncoderVersionError as err:
        raise EncoderVersionError(
            f"the model was {err}; retrain it", err.recorded, err.found
        ) from None
    return feats, bad_text + [f for f in failures if f.item_id not in refused]


def _without(item: Item, fields: Sequence[str]) -> Item:
    if not fields:
        return item
    blank: dict[str, Any] = {f: "" for f in fields if f != "tags"}
    if "tags" in fields:
        blank["tags"] = ()
    return replace(item, **blank)


def tag_each(
    model: RoutedClassifier,
    items: Sequence[Item],
    k: int = defaults.TAG_K,
    *,
    encoders: EncoderSource | None = None,
    cache_dir: str | Path | None = None,
    memory: MemoryCache | None = None,
) -> list[TopLabels | Failure]:
    """Per item, its top-``k`` labels, or the :class:`Failure` that kept it from being read.

    What a batch answers (a manifest, several files): the items that were read get labels,
    the others their problem; nothing is scored from an input that was not read. Embedding
    options as in :func:`embed_for_model`.

    Raises:
        UsageError: ``k`` is not between 1 and :data:`~pictext.core.defaults.MAX_K`.
    """
    check_k(k)
    feats, failures, rows, read = _read_features(model, items, encoders, cache_dir, memory)
    tops = tag(model, read, k) if rows else []
    return per_item(feats.ids, failures, tops)


def tag_items(
    model: RoutedClassifier,
    items: Sequence[Item],
    k: int = defaults.TAG_K,
    *,
    encoders: EncoderSource | None = None,
    cache_dir: str | Path | None = None,
    memory: MemoryCache | None = None,
) -> list[TopLabels]:
    """Embed ``items`` with the model's encoders and return their top-``k`` labels.

    Embedding options as in :func:`embed_for_model`.

    Raises:
        UnreadableItemsError: an item could not be read; no labels are given for any.
    """
    out = tag_each(model, items, k, encoders=encoders, cache_dir=cache_dir, memory=memory)
    return all_read(out)


def verify_each(
    model: RoutedClassifier,
    items: Sequence[Item],
    claimed: Sequence[str],
    k: int = defaults.TAG_K,
    *,
    encoders: EncoderSource | None = None,
    cache_dir: str | Path | None = None,
    memory: MemoryCache | None = None,
) -> list[Verdict | Failure]:
    """Per item, the verdict on its claimed label, or the :class:`Failure` that kept it from
    being read (see :func:`tag_each`).

    Raises:
        UnknownLabelError: a claimed label is not one of the model's classes (checked first).
    """
    if len(claimed) != len(items):
        raise ValueError(f"{len(items)} items but {len(claimed)} claimed labels")
    check_k(k)
    check_labels(model, claimed)
    feats, failures, rows, read = _read_features(model, items, encoders, cache_dir, memory)
    verdicts = verify(model, read, [claimed[i] for i in rows], k) if rows else []
    return per_item(feats.ids, failures, verdicts)


def _read_features(
    model: RoutedClassifier,
    items: Sequence[Item],
    encoders: EncoderSource | None,
    cache_dir: str | Path | None,
    memory: MemoryCache | None,
) -> tuple[Features, list[Failure], list[int], Features]:
    """``items`` embedded for ``model``: all features, the failures, and the rows (and
    features) of the items that were read."""
    feats, failures = embed_for_model(
        model, items, encoders=encoders, cache_dir=cache_dir, memory=memory
    )
    rows = read_rows(feats.ids, failures)
    return feats, failures, rows, feats.subset(np.array(rows, np.int64))


def verify_items(
    model: RoutedClassifier,
    items: Sequence[Item],
    claimed: Sequence[str],
    k: int = defaults.TAG_K,
    *,
    encoders: EncoderSource | None = None,
    cache_dir: str | Path | None = None,
    memory: MemoryCache | None = None,
) -> list[Verdict]:
    """Embed ``items`` with the model's encoders and verify their claimed labels.

    Embedding options as in :func:`embed_for_model`.

    Raises:
        UnknownLabelError: a claimed label is not one of the model's classes.
        UnreadableItemsError: an item could not be read; no verdict is given for any.
    """
    out = verify_each(
        model, items, claimed, k, encoders=encoders, cache_dir=cache_dir, memory=memory
    )
    return all_read(out)
