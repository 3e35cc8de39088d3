"""Library side of ``pictext train`` / ``pictext evaluate``: dataset -> features -> heads."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.classify.datacheck import check_classes, split_check
from pictext.classify.ensemble import EnsembleClassifier, train_ensemble
from pictext.classify.fusion import FusionConfig
from pictext.classify.metrics import expected_calibration_error, topk_accuracy
from pictext.classify.routed import ROUTES, RoutedClassifier, train_routed
from pictext.store.inputs import drop_inputs

MAP_ITEMS = 5_000  # most held-out items a model's embedding maps project (sampled, seeded)

if TYPE_CHECKING:
    from pictext.classify.table3 import Table3Config, Table3Result
    from pictext.data.dataset import Dataset
    from pictext.data.split import DatasetSplit
    from pictext.store.features import Features


def load_labelled(name_or_path: str, *, strip_label_words: bool = False) -> Dataset:
    """A dataset by registry name or path, keeping only labelled items.

    Raises:
        DatasetNotFoundError: no such dataset.
        TrainingDataError: the dataset is empty, unlabelled or has fewer than two classes
            (checked before any embedding or training).
    """
    from pictext.data import load_dataset

    ds = load_dataset(name_or_path, strip_label_words=strip_label_words)
    check_classes(ds)
    keep = [i for i, it in enumerate(ds.items) if it.label is not None]
    return ds if len(keep) == len(ds) else ds.subset(keep)


def features_for(
    dataset: Dataset, cache_dir: str | Path | None = None, progress: bool = True
) -> Callable[[str, str], Features]:
    """A ``(image encoder, text encoder) -> Features`` function over the embedding cache."""
    from pictext.store import embed_dataset

    def fn(image_encoder: str, text_encoder: str) -> Features:
        return embed_dataset(
            dataset, image_encoder, text_encoder, cache_dir=cache_dir, progress=progress
        )

    return fn


def train_fusion(
    dataset: Dataset,
    feats: Features,
    config: FusionConfig,
    *,
    split: DatasetSplit,
    members: int = 1,
    routes: bool = True,
    ensemble: bool = True,
) -> tuple[RoutedClassifier, dict[str, Any]]:
    """Train the classifier ``pictext train`` saves: the fusion head, and (``routes``, when
    it reads an image and text) an image-only and a text-only head with the routes chosen on
    validation (:func:`~pictext.classify.routed.train_routed`); every head early-stopped and
    calibrated on val. Score val, test (also with no image and with no text) and each extra
    side of the split (the source's predefined sets, e.g. ``webvision_val``).

    Args:
        dataset: labelled items (their order matches ``feats``).
        feats: their embeddings.
        config: the heads' hyperparameters (the fusion head's inputs).
        split: the split to train, calibrate and score on (e.g.
            :func:`~pictext.classify.table3.classify_split`);
            save it with the model (:meth:`~pictext.data.split.DatasetSplit.save`).
        members: seed-ensemble size of every head.
        routes: train the single-input heads and route rows missing an input to them.
        ensemble: with ``routes``, also fit the tuned linear model and save the ensemble
            chosen on validation (:func:`~pictext.classify.ensemble.train_ensemble`).

    Returns:
        The calibrated model and its metrics (percent; ECE before and after calibration;
        ``routing``: the routes and their validation scores; ``data``: items per class and
        the classes too small for the split, see
        :func:`~pictext.classify.datacheck.split_check`).
    """
    check = split_check(dataset, split)
    y = dataset.labels()
    ids = [it.id for it in dataset.items]
    s = split.rows(ids)
    val = feats.subset(s.val)
    start = time.perf_counter()
    parts = (config, feats.subset(s.train), y[s.train], val, y[s.val])
    if routes and ensemble:
        clf = train_ensemble(*parts, classes=dataset.classes, members=members)
    else:
        clf = train_routed(*parts, classes=dataset.classes, members=members, routes=routes)
    fit_seconds = time.perf_counter() - start
    test = feats.subset(s.test)
    metrics: dict[str, Any] = {
        "sizes": {"train": len(s.train), "val": len(s.val), "test": len(s.test)}
        | {k: len(v) for k, v in split.extra.items()}
    }
    parts = [("val", s.val), ("test", s.test), *split.extra_rows(ids).items()]
    for part, idx in parts:
        metrics[part] = _scores(clf.predict_proba(feats.subset(idx)), y[idx])
    for route, (removed, _) in ROUTES.items():
        metrics["test"][route] = _scores(clf.predict_proba(drop_inputs(test, removed)), y[s.test])
    uncalibrated = clf.predict_proba(test, calibrated=False)
    metrics["test"]["ece_uncalibrated"] = 100 * expected_calibration_error(uncalibrated, y[s.test])
    metrics["temperature"] = clf.primary.temperature_
    metrics["members"] = clf.members
    metrics["routing"] = {"routes": clf.routes, "validation": clf.validation}
    metrics["fit_seconds"] = fit_seconds
    if isinstance(clf, EnsembleClassifier):
        metrics["ensemble"] = {
            "weights": clf.weights,
            "temperature": clf.temperature,
            "selection": clf.selection,
        }
    metrics["config"] = dataclasses.asdict(config)
    metrics["split"] = {"policy": split.policy, "holdout": split.holdout, "seed": split.seed}
    metrics["data"] = check.to_dict()
    return clf, metrics


def _scores(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {
        "top1": 100 * topk_accuracy(p, y, 1),
        "top5": 100 * topk_accuracy(p, y, 5),
        "ece": 100 * expected_calibration_error(p, y),
    }


def model_figures(
    dataset: Dataset,
    feats: Features,
    model: RoutedClassifier,
    out_dir: Path,
    *,
    split: DatasetSplit,
) -> list[Path]:
    """Learning curve, embedding maps (10 largest classes, test + val items, at most
    :data:`MAP_ITEMS` of them, thumbnails) and
    the most-confused pairs on test, for a model trained by :func:`train_fusion` on
    ``split`` (the run's recorded split)."""
    from pictext.classify.plot_confusion import plot_confused_pairs
    from pictext.classify.plot_maps import model_maps
    from pictext.core.curves import plot_learning_curves
    from pictext.data.errors import ItemError
    from pictext.data.images import load_image

    y = dataset.labels()
    s = split.rows([it.id for it in dataset.items])
    held = np.concatenate([s.val, s.test])
    if len(held) > MAP_ITEMS:  # a t-SNE of every held-out item takes many minutes at 70k
        held = np.sort(np.random.default_rng(0).choice(held, MAP_ITEMS, replace=False))

    def thumb(i: int) -> Any:
        try:
            return load_image(dataset.items[int(held[i])], 64)
        except ItemError:
            return None

    paths = [
        plot_learning_curves(
            {",".join(model.config.inputs): model.history_.to_dict()},
            out_dir / "learning_curve.png",
            dataset.name,
        )
    ]
    paths += model_maps(model, feats.subset(held), y[held], out_dir, thumbnail=thumb)
    pred = model.predict(feats.subset(s.test))
    paths.append(
        plot_confused_pairs(
            y[s.test],
            pred,
            dataset.classes,
            out_dir / "confused_pairs.png",
            title=f"{dataset.name}: test",
        )
    )
    paths += calibration_figures(dataset, feats.subset(s.test), y[s.test], model, out_dir)
    return paths


def calibration_figures(
    dataset: Dataset, test: Features, y: np.ndarray, model: RoutedClassifier, out_dir: Path
) -> list[Path]:
    """The test confusion matrix and the reliability diagram (ECE before and after
    calibration) of a trained classifier."""
    from pictext.classify.plot_calibration import plot_confusion_matrix, plot_reliability

    after = model.predict_proba(test)
    before = model.predict_proba(test, calibrated=False)
    cm = plot_confusion_matrix(
        y, after.argmax(axis=1), dataset.classes, out_dir / "confusion_matrix.png",
        f"{dataset.name}: test ({len(y)} items)",
    )  # fmt: skip
    rel, _, _ = plot_reliability(
        before, after, y, out_dir / "reliability.png", f"{dataset.name}: test"
    )
    return [cm, rel]


def evaluate_dataset(
    dataset: Dataset,
    cfg: Table3Config,
    *,
    cache_dir: str | Path | None = None,
    novel: bool = True,
    log: Any = None,
) -> Table3Result:
    """Run Table 3 on a dataset with cached embeddings (and the novel-subset columns).

    The splits are drawn first and checked (:func:`~pictext.classify.datacheck.split_check`):
    classes too small for a split are logged and recorded in ``result.data``.
    """
    from pictext.classify.table3 import draw_splits, run_table3
    from pictext.data.split import duplicate_groups

    groups = duplicate_groups(dataset)
    splits = draw_splits(dataset, cfg, groups)
    checks = [split_check(dataset, s) for s in splits]
    for seed, check in zip(cfg.seeds, checks, strict=True):
        if check.warning() and log is not None:
            log(f"warning: seed {seed}: {check.warning()}")
    result = run_table3(
        dataset,
        features_for(dataset, cache_dir),
        cfg,
        splits=splits,
        dup_groups=groups if novel else None,
        log=log,
    )
    result.data = {
        "seeds": {str(seed): c.to_dict() for seed, c in zip(cfg.seeds, checks, strict=True)}
    }
    return result
