"""The classifier ``pictext train`` saves when it can fit several model families: an ensemble
chosen on validation (Caruana et al. 2004) over the routed heads and a tuned linear model.

Candidates (each fitted on train, early-stopped or tuned and calibrated on validation):

- ``fusion``: the fusion head (a seed ensemble when ``members`` > 1);
- ``image`` / ``text``: the image-only and text-only heads (also the missing-input routes);
- ``linear``: logistic regression over every field, C chosen on validation
  (:func:`~pictext.classify.anchors.tuned_linear`).

Their calibrated validation probabilities are combined by greedy forward selection with
replacement (:func:`ensemble_selection`, on log-loss, started from the best ``init``
candidates); the counts become the weights of a probability average, and one temperature is
fitted on validation *after* combining. Rows that have an image and text are scored by the
weighted average; rows missing one go to the routed heads exactly as
:class:`~pictext.classify.routed.RoutedClassifier` sends them, so the missing-input answers
are the routed classifier's.

Saved as one classifier folder: the routed classifier's folder (a pictext without
ensembles loads it as the routed classifier) with ``config.json`` ``ensemble`` (weights,
temperature, validation scores) and the linear member in ``linear/``
(:data:`~pictext.core.artifacts.LINEAR`, safetensors, no pickles).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.classify.anchors import LogRegConcat, tuned_linear
from pictext.classify.calibration import fit_temperature, softmax
from pictext.classify.routed import (
    FUSION_HEAD,
    RoutedClassifier,
    _present,
    ensemble_proba,
    train_routed,
)
from pictext.core.artifacts import (
    CLASSIFIER,
    LINEAR,
    ArtifactFormatError,
    load_artifact,
    read_config,
    save_artifact,
)
from pictext.store.inputs import TEXT_ONLY

if TYPE_CHECKING:
    from pictext.classify.fusion import FusionClassifier, FusionConfig
    from pictext.store.features import Features

LINEAR_MEMBER = "linear"
_EPS = 1e-12


def log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-probability of the true classes (clipped at 1e-12)."""
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], _EPS, None))))


def ensemble_selection(
    probas: Mapping[str, np.ndarray],
    y: np.ndarray,
    *,
    rounds: int = 40,
    init: int = 2,
) -> dict[str, float]:
    """Greedy forward ensemble selection with replacement (Caruana et al. 2004) on log-loss.

    The ensemble starts with the ``init`` best candidates alone (sorted initialisation),
    then ``rounds`` times adds the candidate (again, possibly) whose inclusion gives the
    lowest log-loss of the averaged probabilities. The weights are the counts at the round
    with the lowest log-loss, normalised.

    Args:
        probas: candidate name -> probabilities ``[N, C]`` on the selection rows.
        y: their class indices ``[N]``.
        rounds: greedy additions.
        init: candidates in the starting ensemble (best first; at least 1).

    Returns:
        Candidate name -> weight (summing to 1; unused candidates absent).

    Example:
        >>> y = np.array([0, 1, 0, 1])
        >>> good = np.eye(2)[y] * 0.8 + 0.1
        >>> bad = np.full((4, 2), 0.5)
        >>> ensemble_selection({"good": good, "bad": bad}, y, init=1)
        {'good': 1.0}
    """
    if not probas:
        raise ValueError("ensemble selection needs at least one candidate")
    y = np.asarray(y)
    names = list(probas)
    alone = {n: log_loss(probas[n], y) for n in names}
    start = sorted(names, key=lambda n: (alone[n], names.index(n)))[: max(1, init)]
    counts = dict.fromkeys(names, 0)
    total = np.zeros_like(probas[names[0]], dtype=np.float64)
    for n in start:
        counts[n] += 1
        total += probas[n]
    best_loss, best_counts = log_loss(total / sum(counts.values()), y), dict(counts)
    for _ in range(rounds):
        k = sum(counts.values()) + 1
        losses = {n: log_loss((total + probas[n]) / k, y) for n in names}
        pick = min(names, key=lambda n: (losses[n], names.index(n)))
        counts[pick] += 1
        total += probas[pick]
        if losses[pick] < best_loss - 1e-12:
            best_loss, best_counts = losses[pick], dict(counts)
    size = sum(best_counts.values())
    return {n: c / size for n, c in best_counts.items() if c}


class EnsembleClassifier(RoutedClassifier):
    """A :class:`RoutedClassifier` whose full rows (image and text) are scored by a weighted
    average of candidates' calibrated probabilities, then one temperature.

    Args:
        heads: the routed heads by name (``"fusion"`` required; ``"image"``, ``"text"``).
        routes: the routes for rows missing an input (see :class:`RoutedClassifier`).
        validation: the routes' validation scores.
        linear: the tuned linear member (None: no ``"linear"`` candidate).
        weights: candidate name -> weight (``"fusion"``, ``"image"``, ``"text"``,
            ``"linear"``); default the fusion head alone.
        temperature: applied to the combined probabilities (``softmax(log p / T)``).
        selection: validation record of the selection (candidate scores, the ensemble's).
    """

    def __init__(
        self,
        heads: Mapping[str, Sequence[FusionClassifier]],
        routes: Mapping[str, str] | None = None,
        validation: Mapping[str, Any] | None = None,
        *,
        linear: LogRegConcat | None = None,
        weights: Mapping[str, float] | None = None,
        temperature: float = 1.0,
        selection: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(heads, routes, validation)
        self.linear = linear
        self.weights = dict(weights or {FUSION_HEAD: 1.0})
        for name in self.weights:
            if name not in self.candidates():
                raise ValueError(f"ensemble weight for {name!r}: no such candidate")
        self.temperature = float(temperature)
        self.selection = dict(selection or {})

    def candidates(self) -> list[str]:
        """The candidate names this model can score."""
        return [*self.heads, *([LINEAR_MEMBER] if self.linear is not None else [])]

    def candidate_proba(self, name: str, feats: Features) -> np.ndarray:
        """One candidate's calibrated probabilities for every row."""
        if name == LINEAR_MEMBER:
            if self.linear is None:
                raise ValueError("this ensemble has no linear member")
            return self.linear.predict_proba(feats)
        return ensemble_proba(self.heads[name], feats, True)

    def mix(self, feats: Features) -> np.ndarray:
        """The weighted average of the candidates' probabilities (before the temperature)."""
        return sum(w * self.candidate_proba(n, feats) for n, w in self.weights.items())

    def full_rows(self, feats: Features) -> np.ndarray:
        """Rows the ensemble scores (an image and some text the model reads)."""
        has_image, has_text = _present(feats, self.config.inputs)
        return has_image & has_text

    def predict_proba(self, feats: Features, *, calibrated: bool = True) -> np.ndarray:
        """Class probabilities ``[N, C]``: the weighted average, temperature-scaled, on rows
        with an image and text; the routed heads' answer elsewhere (``calibrated=False``: no
        temperature on the average, members at temperature 1 on routed rows)."""
        out = super().predict_proba(feats, calibrated=calibrated)
        full = np.flatnonzero(self.full_rows(feats))
        if len(full):
            sub = feats if len(full) == feats.n else feats.subset(full)
            p = self.mix(sub)
            out[full] = (
                softmax(np.log(np.clip(p, _EPS, None)), self.temperature) if calibrated else p
            )
        return out

    # ---- persistence -------------------------------------------------------------------------
    def save(
        self,
        directory: str | Path,
        *,
        extra: Mapping[str, Any] | None = None,
        extra_files: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write the routed classifier's folder plus the ensemble (see the module docstring)."""
        record = {
            "weights": self.weights,
            "temperature": self.temperature,
            "selection": self.selection,
            "linear": LINEAR_MEMBER if self.linear is not None else None,
        }
        files = dict(extra_files or {})
        if self.linear is not None:
            files[LINEAR_MEMBER] = lambda p: save_linear(self.linear, p)
        return super().save(
            directory, extra={"ensemble": record, **(extra or {})}, extra_files=files
        )

    @classmethod
    def load(cls, directory: str | Path) -> EnsembleClassifier:
        """Read a model written by :meth:`save` (a routed classifier without ``ensemble``
        loads as the fusion head alone on full rows).

        Raises:
            ArtifactError: not a saved classifier, or a part is missing or unreadable.
        """
        d = Path(directory)
        routed = RoutedClassifier.load(d)
        record = read_config(d, CLASSIFIER).get("ensemble") or {}
        try:
            linear = load_linear(d / record["linear"]) if record.get("linear") else None
            return cls(
                routed.heads,
                routed.routes,
                routed.validation,
                linear=linear,
                weights=record.get("weights"),
                temperature=float(record.get("temperature", 1.0)),
                selection=record.get("selection"),
            )
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, ArtifactFormatError):
                raise
            raise ArtifactFormatError(
                d, f"config.json's ensemble is unreadable ({err})", CLASSIFIER
            ) from None


def load_classifier(directory: str | Path) -> RoutedClassifier:
    """The saved classifier at ``directory``: what tag, verify, predict and the service use.
    An :class:`EnsembleClassifier` when it was saved as one, else the routed heads (a
    routed classifier, or a plain fusion head saved before routing).

    Raises:
        ArtifactError: not a saved classifier, or a part is missing or unreadable (one line).
    """
    if "ensemble" in read_config(directory, CLASSIFIER):
        return EnsembleClassifier.load(directory)
    return RoutedClassifier.load(directory)


def _temper(p: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)``: the temperature applied to combined probabilities."""
    return softmax(np.log(np.clip(p, _EPS, None)), temperature)


def build_ensemble(
    routed: RoutedClassifier,
    linear: LogRegConcat | None,
    val: Features,
    y_val: np.ndarray,
    *,
    rounds: int = 40,
    init: int = 2,
) -> EnsembleClassifier:
    """Choose the weights (:func:`ensemble_selection`) and the temperature on the validation
    rows that have an image and text; the routed classifier's heads and routes are kept.

    Args:
        routed: the fitted routed classifier (its heads are candidates).
        linear: the tuned linear member, or None.
        val: validation features (never the test side); ``y_val`` their class indices.
        rounds: greedy additions.
        init: candidates in the starting ensemble.
    """
    model = EnsembleClassifier(routed.heads, routed.routes, routed.validation, linear=linear)
    y_val = np.asarray(y_val)
    rows = np.flatnonzero(model.full_rows(val))
    if not len(rows) or "image" not in model.config.inputs:
        return model
    sub, y = val.subset(rows), y_val[rows]
    probas = {n: model.candidate_proba(n, sub) for n in model.candidates()}
    weights = ensemble_selection(probas, y, rounds=rounds, init=init)
    model.weights = weights
    mixed = model.mix(sub)
    model.temperature = fit_temperature(np.log(np.clip(mixed, _EPS, None)), y)
    model.selection = {
        "rows": len(rows),
        "val_top1": {n: 100 * float((p.argmax(1) == y).mean()) for n, p in probas.items()},
        "val_log_loss": {n: log_loss(p, y) for n, p in probas.items()},
        "ensemble_val_top1": 100 * float((mixed.argmax(1) == y).mean()),
        "ensemble_val_log_loss": log_loss(mixed, y),
    }
    return model


def linear_inputs(inputs: Sequence[str]) -> tuple[str, ...]:
    """The linear member's inputs for a model reading ``inputs``: the same fields, plus the
    whole text (``"text"``) when it reads every text field."""
    out = tuple(inputs)
    if set(TEXT_ONLY) <= set(inputs) and "text" not in out:
        out = (*out, "text")
    return out


def train_ensemble(
    config: FusionConfig,
    train: Features,
    y_train: np.ndarray,
    val: Features,
    y_val: np.ndarray,
    *,
    classes: Sequence[str],
    members: int = 1,
) -> EnsembleClassifier:
    """Fit every candidate on train (the routed heads of
    :func:`~pictext.classify.routed.train_routed` and the tuned linear model) and combine them
    on validation (:func:`build_ensemble`)."""
    routed = train_routed(
        config, train, y_train, val, y_val, classes=classes, members=members, routes=True
    )
    linear = None
    if "image" in config.inputs and len(config.inputs) > 1:
        linear, _ = tuned_linear(train, y_train, val, y_val, inputs=linear_inputs(config.inputs))
    return build_ensemble(routed, linear, val, y_val)


# ---- the linear member on disk ----------------------------------------------------------------
def save_linear(model: LogRegConcat, directory: str | Path) -> Path:
    """Write a fitted :class:`LogRegConcat` (coefficients and standardisation, safetensors)."""
    lr = model.model_
    if lr is None:
        raise RuntimeError("LogRegConcat is not fitted")
    arrays = {"coef": lr.coef_, "intercept": lr.intercept_, "classes": lr.classes_.astype(np.int64)}
    for name, (mean, std) in model.stats_.items():
        arrays[f"mean/{name}"], arrays[f"std/{name}"] = mean, std
    config = {
        "inputs": list(model.inputs),
        "C": model.C,
        "image_encoder": model.image_encoder_,
        "text_encoder": model.text_encoder_,
    }
    return save_artifact(directory, LINEAR, config, arrays)


def load_linear(directory: str | Path) -> LogRegConcat:
    """Read a model written by :func:`save_linear`."""
    from sklearn.linear_model import LogisticRegression

    meta, arrays = load_artifact(directory, LINEAR)
    model = LogRegConcat(tuple(meta["inputs"]), C=float(meta["C"]))
    model.image_encoder_, model.text_encoder_ = meta["image_encoder"], meta["text_encoder"]
    model.stats_ = {n: (arrays[f"mean/{n}"], arrays[f"std/{n}"]) for n in model.inputs}
    lr = LogisticRegression(C=model.C)
    lr.coef_, lr.intercept_ = arrays["coef"], arrays["intercept"]
    lr.classes_ = arrays["classes"]
    lr.n_features_in_ = int(arrays["coef"].shape[1])
    model.model_ = lr
    return model
