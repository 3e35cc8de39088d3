"""Suspected label errors: out-of-fold class probabilities, then confident learning.

Every item is scored by a head that never saw it: the collection is cut into ``folds``
stratified folds, and a head trained on the other folds (early-stopped and temperature-
calibrated on a slice of them) gives the held-out fold's probabilities. cleanlab's
``find_label_issues`` (confident learning: Northcutt et al., 2021) reads those
probabilities against the given labels and returns the items whose label it doubts, ranked
by self-confidence; ``get_label_quality_scores`` gives every item a score in [0, 1].
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pictext.classify.fusion import FusionClassifier, FusionConfig
from pictext.core.console import progress as progress_display

if TYPE_CHECKING:
    from pictext.store.features import Features


@dataclass(frozen=True)
class LabelIssues:
    """What confident learning found, one row per item."""

    pred_probs: np.ndarray  # [N, C] out-of-fold class probabilities
    quality: np.ndarray  # [N] label quality in [0, 1] (self-confidence); low = suspect
    issue: np.ndarray  # [N] bool: cleanlab flags the given label as likely wrong
    ranked: np.ndarray  # flagged rows, most suspect first
    predicted: np.ndarray  # [N] the out-of-fold most likely class


def out_of_fold_probs(
    feats: Features,
    y: np.ndarray,
    config: FusionConfig,
    *,
    folds: int = 5,
    val_fraction: float = 0.15,
    seed: int = 0,
    classes: Sequence[str] | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Class probabilities ``[N, C]`` of each item from a head trained without its fold.

    Args:
        feats: the items' embeddings.
        y: class index per item.
        config: the head (``inputs`` chooses fusion, image-only or text-only).
        folds: stratified folds (each class needs at least this many items).
        val_fraction: share of the training folds kept for early stopping and calibration.
        seed: seeds the folds and the heads.
        classes: class names (their count sets C; default ``max(y) + 1``).
        progress: print one line per fold trained (:func:`pictext.core.console.progress`).

    Raises:
        ValueError: fewer than two folds, or a class smaller than ``folds``.
    """
    from sklearn.model_selection import StratifiedKFold, train_test_split

    y = np.asarray(y, dtype=np.int64)
    n_classes = len(classes) if classes is not None else int(y.max()) + 1
    names = list(classes) if classes is not None else [str(c) for c in range(n_classes)]
    counts = np.bincount(y, minlength=n_classes)
    small = [names[c] for c in np.flatnonzero((counts > 0) & (counts < folds))]
    if folds < 2 or small:
        raise ValueError(
            f"out-of-fold probabilities need folds >= 2 and every class with >= {folds} "
            f"items; too small: {', '.join(small) or '-'}"
        )
    out = np.zeros((len(y), n_classes))
    kfold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = list(kfold.split(np.zeros(len(y)), y))
    bar = progress_display(
        total=folds, desc="label errors: out-of-fold heads", unit="fold", enabled=progress
    )
    for k, (train, held) in enumerate(splits):
        fit_rows, val_rows = train_test_split(
            train, test_size=val_fraction, stratify=_stratify(y[train]), random_state=seed + k
        )
        cfg = dataclasses.replace(config, seed=config.seed + k, progress=False)
        clf = FusionClassifier(cfg).fit(
            feats.subset(fit_rows), y[fit_rows], feats.subset(val_rows), y[val_rows],
            classes=names,
        )  # fmt: skip
        clf.calibrate(feats.subset(val_rows), y[val_rows])
        out[held] = clf.predict_proba(feats.subset(held))
        bar.update(1)
    bar.close()
    return out


def _stratify(y: np.ndarray) -> np.ndarray | None:
    """Stratify on ``y`` unless a class has a single member (sklearn refuses then)."""
    counts = np.bincount(y)
    return y if counts[counts > 0].min(initial=0) > 1 else None


def find_label_issues(y: np.ndarray, pred_probs: np.ndarray) -> LabelIssues:
    """Confident learning over out-of-fold probabilities (cleanlab).

    Args:
        y: given class index per item.
        pred_probs: ``[N, C]`` out-of-fold probabilities (:func:`out_of_fold_probs`).
    """
    try:
        from cleanlab.filter import find_label_issues as cl_find
        from cleanlab.rank import get_label_quality_scores
    except ImportError as err:
        raise ImportError("the audit needs cleanlab: pip install 'pictext[audit]'") from err

    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(pred_probs, dtype=np.float64)
    p = p / p.sum(axis=1, keepdims=True)
    ranked = np.asarray(cl_find(y, p, return_indices_ranked_by="self_confidence"), dtype=np.int64)
    issue = np.zeros(len(y), dtype=bool)
    issue[ranked] = True
    quality = get_label_quality_scores(y, p, method="self_confidence")
    return LabelIssues(p, np.asarray(quality), issue, ranked, p.argmax(axis=1))
