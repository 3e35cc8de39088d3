"""The anchors any reviewer asks for: logistic regression on concatenated embeddings (at a
fixed C, and over every field with C tuned on validation), and the average of several
models' probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

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
        self._fit_stats(feats)
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter)
        self.model_.fit(self._design(feats), np.asarray(y))
        return self

    def _fit_stats(self, feats: Features) -> None:
        """Per-input mean and std over the rows that have the input."""
        self.stats_ = {}
        for name in self.inputs:
            arr, mask = input_array(feats, name)
            rows = arr[mask] if mask.any() else arr
            self.stats_[name] = (rows.mean(0), np.maximum(rows.std(0), 1e-3))

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


ALL_FIELDS: tuple[str, ...] = ("image", "title", "description", "tags", "text")
TUNED_C_GRID: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def tuned_linear(
    train: Features,
    y_train: np.ndarray,
    val: Features,
    y_val: np.ndarray,
    *,
    inputs: Sequence[str] = ALL_FIELDS,
    grid: Sequence[float] = TUNED_C_GRID,
    max_iter: int = 2000,
    patience: int = 2,
) -> tuple[LogRegConcat, dict[float, float]]:
    """The strong linear anchor: :class:`LogRegConcat` over every field's embedding
    (standardised, zeroed where missing, with the mask flags), its C chosen on validation.

    Args:
        train: training features; ``y_train`` their class indices.
        val: validation features (choose C only; never the test side); ``y_val`` theirs.
        inputs: the fields; default image, title, description, tags and the whole text.
        grid: the C values tried, ascending (ties: the smaller C, the stronger
            regularisation).
        max_iter: solver iterations.
        patience: stop the path after this many C values in a row without a better
            validation top-1 (larger C fits are the slow ones).

    Returns:
        The model at the best C, fitted on train, and validation top-1 per C tried.
    """
    import copy

    from sklearn.linear_model import LogisticRegression

    if not grid:
        raise ValueError("tuned_linear needs at least one C to try")
    y_val = np.asarray(y_val)
    model = LogRegConcat(inputs, C=min(grid), max_iter=max_iter)
    model.image_encoder_, model.text_encoder_ = train.image_encoder, train.text_encoder
    model._fit_stats(train)
    x_train, x_val = model._design(train), model._design(val)
    # ascending C, each fit warm-started from the last (the regularisation path)
    lr = LogisticRegression(C=min(grid), max_iter=max_iter, warm_start=True)
    scores: dict[float, float] = {}
    best: tuple[float, Any] | None = None
    since = 0
    for c in sorted(grid):
        lr.set_params(C=c)
        lr.fit(x_train, np.asarray(y_train))
        acc = float((lr.predict(x_val) == y_val).mean()) if len(y_val) else 0.0
        if best is None or acc > max(scores.values()):
            best, since = (c, copy.deepcopy(lr)), 0
        else:
            since += 1
        scores[c] = acc
        if since >= patience:
            break
    assert best is not None
    model.C, model.model_ = best
    return model, scores


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
