"""The study's two applications: suggested tags for an upload, and machine-in-the-loop
verification of a claimed label."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.store.inputs import uses_text

if TYPE_CHECKING:
    from pictext.classify.fusion import FusionClassifier
    from pictext.data.item import Item
    from pictext.store.features import Features


class UnknownLabelError(ValueError):
    """A claimed label the model does not know; the message lists the known ones."""


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
    model: FusionClassifier, proba: np.ndarray, k: int = 5
) -> list[list[tuple[str, float]]]:
    """The ``k`` most likely ``(label, probability)`` per row, most likely first."""
    order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    return [
        [(model.classes_[j], float(p[j])) for j in row] for row, p in zip(order, proba, strict=True)
    ]


def tag(model: FusionClassifier, feats: Features, k: int = 5) -> list[list[tuple[str, float]]]:
    """Suggested tags: the top-``k`` labels with calibrated probabilities, per item."""
    return top_labels(model, model.predict_proba(feats), k)


def verify(
    model: FusionClassifier, feats: Features, claimed: Sequence[str], k: int = 5
) -> list[Verdict]:
    """Agree or disagree with each claimed label, with calibrated confidence and the top-``k``.

    Raises:
        UnknownLabelError: a claimed label is not one of the model's classes.
    """
    if len(claimed) != feats.n:
        raise ValueError(f"{feats.n} items but {len(claimed)} claimed labels")
    index = {c: i for i, c in enumerate(model.classes_)}
    for item_id, lab in zip(feats.ids, claimed, strict=True):
        if lab not in index:
            raise UnknownLabelError(
                f"{item_id}: unknown label {lab!r}; the model knows: {', '.join(model.classes_)}"
            )
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


@dataclass
class Timing:
    """Where the time of an application call went."""

    encode_s: float = 0.0  # embedding images and text
    head_s: float = 0.0  # the classifier head


def embed_for_model(
    model: FusionClassifier,
    items: Sequence[Item],
    *,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> Features:
    """Embed new items with the encoders named in a saved model (only the towers it reads)."""
    from pictext.data.dataset import Dataset
    from pictext.store import embed_dataset

    inputs = model.config.inputs
    ie = model.image_encoder_.split("@")[0] if "image" in inputs and model.image_encoder_ else None
    te = model.text_encoder_.split("@")[0] if uses_text(inputs) and model.text_encoder_ else None
    return embed_dataset(
        Dataset("query", list(items)), ie, te, cache_dir=cache_dir, progress=progress
    )


def tag_items(
    model: FusionClassifier,
    items: Sequence[Item],
    k: int = 5,
    *,
    cache_dir: str | Path | None = None,
    timing: Timing | None = None,
) -> list[list[tuple[str, float]]]:
    """Embed ``items`` with the model's encoders and return their top-``k`` labels."""
    t0 = time.perf_counter()
    feats = embed_for_model(model, items, cache_dir=cache_dir)
    t1 = time.perf_counter()
    out = tag(model, feats, k)
    if timing is not None:
        timing.encode_s += t1 - t0
        timing.head_s += time.perf_counter() - t1
    return out


def verify_items(
    model: FusionClassifier,
    items: Sequence[Item],
    claimed: Sequence[str],
    k: int = 5,
    *,
    cache_dir: str | Path | None = None,
) -> list[Verdict]:
    """Embed ``items`` with the model's encoders and verify their claimed labels."""
    unknown = sorted({c for c in claimed if c not in model.classes_})
    if unknown:
        raise UnknownLabelError(
            f"unknown label(s) {unknown}; the model knows: {', '.join(model.classes_)}"
        )
    return verify(model, embed_for_model(model, items, cache_dir=cache_dir), claimed, k)
