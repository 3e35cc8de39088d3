"""The two anchors any reviewer asks for: logistic regression on concatenated embeddings,
and the average of several models' probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from pictext.store.inputs import check_encoders, input_array, validate_inputs

if TYPE_CHECKING:
    from pictext.store.features import Features


class ProbaModel(Protocol):
    """Anything with ``predict_proba(features) -> [N, C]``."""

    def predict_proba(self, feats: Features) -> np.ndarray: ...


class LogRegConcat:
    """Multinomial logistic regression on standardised, concatenated embeddings.

    A missing input contributes zeros after standardisation (its training mean), plus a
    0/1 "present" column so the model can tell.

    Args:
        inputs: embeddings to concatenate; default image + the whole text (``"text"``).
        C: inverse L2 regularisation strength.
        max_iter: solver iterations.
    """

    def __init__(
        self,
        inputs: Sequence[str] = ("image", "text"),
        C: float = 1.0,  # noqa: N803 (scikit-learn spelling)
        max_iter: int = 2000,
    ) -> None:
        self.inputs = validate_inputs(inputs)
        self.C = C
        self.max_iter = max_iter
        self.image_encoder_: str | None = None
        self.text_encoder_: str | None = None
        self.stats_: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.model_ = None

    def fit(self, feats: Features, y: np.ndarray) -> LogRegConcat:
        """Fit on ``feats`` with class indices ``y``; returns self."""
        from sklearn.linear_model import LogisticRegression

        self.image_encoder_, self.text_encoder_ = feats.image_encoder, feats.text_encoder
        self.stats_ = {}
        for name in self.inputs:
            arr, mask = input_array(feats, name)
            rows = arr[mask] if mask.any() else arr
            self.stats_[name] = (rows.mean(0), np.maximum(rows.std(0), 1e-3))
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter)
        self.model_.fit(self._design(feats), np.asarray(y))
        return self

    def predict_proba(self, feats: Features) -> np.ndarray:
        """Class probabilities ``[N, C]`` (columns: every class index seen in training)."""
        if self.model_ is None:
            raise RuntimeError("LogRegConcat is not fitted")
        p = self.model_.predict_proba(self._design(feats))
        full = np.zeros((len(p), int(self.model_.classes_.max()) + 1))
        full[:, self.model_.classes_] = p
        return full

    def predict(self, feats: Features) -> np.ndarray:
        return self.predict_proba(feats).argmax(1)

    def _design(self, feats: Features) -> np.ndarray:
        check_encoders(feats, self.inputs, self.image_encoder_, self.text_encoder_)
        cols = []
        for name in self.inputs:
            mean, std = self.stats_[name]
            arr, mask = input_array(feats, name, len(mean))
            cols += [
                np.where(mask[:, None], (arr - mean) / std, 0.0),
                mask[:, None].astype(np.float64),
            ]
        return np.concatenate(cols, axis=1)


class ProbAverage:
    """Average of member models' probabilities (weights optional): the late-fusion anchor,
    and a seed ensemble when the members are the same model trained with other seeds."""

    def __init__(
        self, members: Sequence[ProbaModel], weights: Sequence[float] | None = None
    ) -> None:
        if not members:
            raise ValueError("ProbAverage needs at least one member")
        self.members = list(members)
        w = np.ones(len(members)) if weights is None else np.asarray(weights, dtype=np.float64)
        if len(w) != len(members) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be {len(members)} non-negative numbers, not all 0")
        self.weights = w / w.sum()

    def predict_proba(self, feats: Features) -> np.ndarray:
        """Weighted mean of the members' probabilities."""
        return sum(
            w * m.predict_proba(feats) for w, m in zip(self.weights, self.members, strict=True)
        )

    def predict(self, feats: Features) -> np.ndarray:
        return self.predict_proba(feats).argmax(1)
