"""The study's Table 3 on a dataset: image-only, text-only and fusion heads, plus anchors.

The "fusion" row is the classifier ``pictext train`` saves
(:class:`~pictext.classify.routed.RoutedClassifier`: the fusion head, with rows missing
their image or all text routed to the seed's text-only or image-only head where that won
on validation); "fusion head alone" is its fusion head without routes, so the table shows
what routing adds.

For each seed the dataset is split (stratified per class; the split changes with the seed,
and every row of one seed shares it), each model is trained on train, early-stopped on
validation, calibrated on validation, and scored on test (and on its novel subset), and on
each predefined set of the source the split records (``extra``: WebVision's human-checked
validation set, ``webvision_val_top1``). The
splits are drawn once (:func:`draw_splits`), handed to the runner and recorded with the
result (``split-seed<N>.json`` beside the tables).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.classify.fusion import FusionClassifier, FusionConfig
from pictext.classify.metrics import expected_calibration_error, topk_accuracy
from pictext.classify.routed import (
    FUSION_HEAD,
    IMAGE_HEAD,
    TEXT_HEAD,
    RoutedClassifier,
    ensemble_proba,
    fit_members,
)
from pictext.core import defaults
from pictext.store.inputs import IMAGE_ONLY, TEXT_ONLY, drop_inputs

if TYPE_CHECKING:
    from pictext.data.dataset import Dataset
    from pictext.data.split import DatasetSplit
    from pictext.store.features import Features

FeaturesFn = Callable[[str, str], "Features"]  # (image encoder, text encoder) -> Features

ENSEMBLE_ROW = "saved classifier (ensemble)"  # the row of what ``pictext train`` saves
# the missing-input table: condition -> inputs removed at test time
CONDITIONS: dict[str, tuple[str, ...]] = {
    "full": (),
    "no image": ("image",),
    "no description": ("description",),
    "no title": ("title",),
    "no tags": ("tags",),
    "no text": ("all_text",),
}


@dataclass
class Table3Config:
    """What the Table-3 runner trains and how it splits."""

    image_encoders: tuple[str, ...] = defaults.TABLE3_IMAGE_ENCODERS  # image towers
    text_encoders: tuple[str, ...] = defaults.TABLE3_TEXT_ENCODERS  # text towers
    seeds: tuple[int, ...] = defaults.TABLE3_SEEDS  # one split + one training per seed
    holdout: float = defaults.CLASSIFY_HOLDOUT  # share of each class held out (study: 0.04)
    text_inputs: tuple[str, ...] = (*TEXT_ONLY, "text")  # text inputs of text-only and fusion
    # heads: the three fields, each tuned on its own, plus their concatenation (chosen on val)
    head: FusionConfig = field(default_factory=FusionConfig)  # hyperparameters of every head
    members: int = defaults.CLASSIFY_MEMBERS  # seed-ensemble size of every head
    logreg_c: float = 1.0  # inverse regularisation of the LogReg anchor
    anchors: bool = True  # also run the LogReg-concat, tuned-linear and probability-average
    # anchors (tuned linear: every field, C chosen on validation, classify/anchors.py)


@dataclass
class Table3Result:
    """Per-seed scores; aggregate with :mod:`pictext.classify.tables`."""

    dataset: str  # dataset name
    config: dict[str, Any]  # the resolved Table3Config
    classes: list[str] = field(default_factory=list)  # class names (index -> name)
    scores: list[dict[str, Any]] = field(default_factory=list)  # one per (seed, row)
    robustness: list[dict[str, Any]] = field(default_factory=list)  # one per (seed, row, condition)
    histories: dict[str, dict[str, Any]] = field(default_factory=dict)  # "row/seed" -> history
    sizes: dict[str, int] = field(default_factory=dict)  # train/val/test/novel sizes (first seed)
    predictions: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # first seed: row ->
    # {"y_true", "y_pred"} on test, for confusion plots
    splits: list[DatasetSplit] = field(default_factory=list)  # the split of each seed, in order
    data: dict[str, Any] = field(default_factory=dict)  # per seed: items per class and the
    # classes too small for the split (pictext.classify.datacheck)


def classify_split(
    dataset: Dataset,
    *,
    holdout: float = defaults.CLASSIFY_HOLDOUT,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> DatasetSplit:
    """The split ``pictext train`` and Table 3 use: the one policy of
    :func:`pictext.data.split.split_dataset` (per class, duplicate groups on one side).

    Args:
        dataset: the labelled items.
        holdout: share of each class held out, halved into validation and test.
        seed: the split's seed.
        groups: precomputed :func:`~pictext.data.split.duplicate_groups` (computed if None).
    """
    from pictext.data.split import split_dataset

    return split_dataset(dataset, holdout=holdout, seed=seed, groups=groups)


def draw_splits(
    dataset: Dataset, cfg: Table3Config, groups: np.ndarray | None = None
) -> list[DatasetSplit]:
    """One split per seed of ``cfg``, by :func:`classify_split`."""
    if groups is None:
        from pictext.data.split import duplicate_groups

        groups = duplicate_groups(dataset)
    return [
        classify_split(dataset, holdout=cfg.holdout, seed=seed, groups=groups) for seed in cfg.seeds
    ]


def run_table3(
    dataset: Dataset,
    features_fn: FeaturesFn,
    cfg: Table3Config | None = None,
    *,
    splits: Sequence[DatasetSplit] | None = None,
    dup_groups: np.ndarray | None = None,
    log: Callable[[str], None] | None = None,
) -> Table3Result:
    """Train and score every row of Table 3 for every seed.

    Args:
        dataset: labelled items (their order matches the features).
        features_fn: returns the (cached) features of ``dataset`` for an encoder pair.
        cfg: encoders, seeds, holdout and head hyperparameters.
        splits: one split per seed of ``cfg.seeds`` (default :func:`draw_splits`).
        dup_groups: duplicate-group id per item
            (:func:`pictext.data.split.duplicate_groups`); when given, test accuracy is also
            reported on the *novel* subset (no training item shares its image or text).
        log: called with one line per trained row.

    Returns:
        The per-seed scores and the missing-input table.
    """
    cfg = cfg or Table3Config()
    splits = list(splits) if splits is not None else draw_splits(dataset, cfg, dup_groups)
    if len(splits) != len(cfg.seeds):
        raise ValueError(f"{len(splits)} splits for {len(cfg.seeds)} seeds; give one per seed")
    y = dataset.labels()
    if (y < 0).any():
        raise ValueError(
            f"{dataset.name}: {(y < 0).sum()} items have no label; Table 3 needs labels"
        )
    result = Table3Result(dataset.name, _config_dict(cfg), classes=dataset.classes, splits=splits)
    ids = [it.id for it in dataset.items]
    cache: dict[tuple[str, str], Features] = {}

    def feats(ie: str, te: str) -> Features:
        if (ie, te) not in cache:
            cache[(ie, te)] = features_fn(ie, te)
        return cache[(ie, te)]

    for seed, recorded in zip(cfg.seeds, splits, strict=True):
        split, extra = recorded.rows(ids), recorded.extra_rows(ids)
        novel = None
        if dup_groups is not None:
            seen = set(np.asarray(dup_groups)[split.train].tolist())
            novel = np.array([dup_groups[int(i)] not in seen for i in split.test], dtype=bool)
        if not result.sizes:
            result.sizes = {
                "train": len(split.train),
                "val": len(split.val),
                "test": len(split.test),
            }
            if novel is not None:
                result.sizes["novel"] = int(novel.sum())
            result.sizes.update({k: len(v) for k, v in extra.items()})
        run = _SeedRun(dataset, cfg, seed, split, novel, feats, result, log or (lambda s: None))
        run.extra = extra
        run.all_rows()
    return result


class _SeedRun:
    """Every row of Table 3 for one seed (one split)."""

    def __init__(self, dataset, cfg, seed, split, novel, feats, result, log) -> None:
        self.classes, self.y = dataset.classes, dataset.labels()
        self.cfg, self.seed, self.split, self.novel = cfg, seed, split, novel
        self.feats, self.result, self.log = feats, result, log
        self.extra: dict[str, np.ndarray] = {}  # predefined sets: name -> rows, scored apart

    def all_rows(self) -> None:
        cfg = self.cfg
        te0, ie0 = cfg.text_encoders[0], cfg.image_encoders[0]
        if not any(m.any() for m in self.feats(ie0, te0).text_mask.values()):
            self.image_rows()  # no text anywhere: text and fusion rows would score chance
            return
        img = {
            ie: self.head(f"image-only {ie}", "image", self.feats(ie, te0), IMAGE_ONLY, ie, None)
            for ie in cfg.image_encoders
        }
        txt = {
            te: self.head(f"text-only {te}", "text", self.feats(ie0, te), cfg.text_inputs, None, te)
            for te in cfg.text_encoders
        }
        for ie in cfg.image_encoders:
            for te in cfg.text_encoders:
                f = self.feats(ie, te)
                pair = f"{ie} + {te}"
                alone = self.head(
                    f"fusion head alone {pair}",
                    "fusion-head",
                    f,
                    (*IMAGE_ONLY, *cfg.text_inputs),
                    ie,
                    te,
                )
                fusion = self.routed(f"fusion {pair}", f, alone, img[ie], txt[te], ie, te)
                self.robustness(f"fusion {pair}", fusion, f)
                self.robustness(f"fusion head alone {pair}", _model(alone), f)
                tuned = self.anchors(ie, te, f, img[ie], txt[te]) if cfg.anchors else None
                ens = self.ensemble(f"{ENSEMBLE_ROW} {pair}", f, fusion, tuned, ie, te)
                self.robustness(f"{ENSEMBLE_ROW} {pair}", ens, f)

    def image_rows(self) -> None:
        """A collection without text: the image-only head and the LogReg anchor per tower."""
        from pictext.classify.anchors import LogRegConcat

        te0 = self.cfg.text_encoders[0]
        for ie in self.cfg.image_encoders:
            f = self.feats(ie, te0)
            self.head(f"image-only {ie}", "image", f, IMAGE_ONLY, ie, None)
            if self.cfg.anchors:
                s, start = self.split, time.perf_counter()
                lr = LogRegConcat(("image",), C=self.cfg.logreg_c).fit(
                    f.subset(s.train), self.y[s.train]
                )
                seconds = time.perf_counter() - start
                self.score(f"LogReg image {ie}", "anchor-logreg", lr, f, ie, None, seconds)

    def head(self, row, kind, f, inputs, ie, te) -> list[FusionClassifier]:
        """One head's members, trained, calibrated and scored as ``row``."""
        s, start = self.split, time.perf_counter()
        val, y_val = f.subset(s.val), self.y[s.val]
        head_cfg = dataclasses.replace(self.cfg.head, inputs=tuple(inputs), seed=self.seed)
        members = fit_members(
            head_cfg, self.cfg.members, f.subset(s.train), self.y[s.train], val, y_val,
            classes=self.classes,
        )  # fmt: skip
        self.result.histories[f"{row}/{self.seed}"] = members[0].history_.to_dict()
        uncal = ensemble_proba(members, val, calibrated=False)
        extra = {"val_ece_uncalibrated": expected_calibration_error(uncal, y_val)}
        self.score(row, kind, _model(members), f, ie, te, time.perf_counter() - start, extra)
        return members

    def routed(self, row, f, fusion, img, txt, ie, te) -> RoutedClassifier:
        """The classifier ``pictext train`` builds, from this seed's heads: routes chosen on
        validation (:func:`~pictext.classify.routed.train_routed` without retraining)."""
        s, start = self.split, time.perf_counter()
        model = RoutedClassifier({FUSION_HEAD: fusion, IMAGE_HEAD: img, TEXT_HEAD: txt})
        model.choose_routes(f.subset(s.val), self.y[s.val])
        extra = {"routes": model.routes, "route_validation": model.validation}
        self.score(row, "fusion", model, f, ie, te, time.perf_counter() - start, extra)
        return model

    def ensemble(self, row, f, routed, tuned, ie, te) -> Any:
        """The ensemble ``pictext train`` saves, from this seed's heads and tuned linear
        model (fitted here when the anchors are off), weights and temperature chosen on
        validation (:func:`~pictext.classify.ensemble.build_ensemble`)."""
        from pictext.classify.anchors import tuned_linear
        from pictext.classify.ensemble import build_ensemble, linear_inputs

        s, start = self.split, time.perf_counter()
        val, y_val = f.subset(s.val), self.y[s.val]
        if tuned is None:
            inputs = linear_inputs(routed.config.inputs)
            tuned, _ = tuned_linear(f.subset(s.train), self.y[s.train], val, y_val, inputs=inputs)
        model = build_ensemble(routed, tuned, val, y_val)
        extra = {"weights": model.weights, "selection": model.selection}
        self.score(row, "ensemble", model, f, ie, te, time.perf_counter() - start, extra)
        return model

    def anchors(self, ie, te, f, img_model, txt_model) -> Any:
        from pictext.classify.anchors import LogRegConcat, ProbAverage, tuned_linear

        s, start = self.split, time.perf_counter()
        lr = LogRegConcat(("image", "text"), C=self.cfg.logreg_c).fit(
            f.subset(s.train), self.y[s.train]
        )
        self.score(
            f"LogReg concat {ie} + {te}",
            "anchor-logreg",
            lr,
            f,
            ie,
            te,
            time.perf_counter() - start,
        )
        start = time.perf_counter()
        tuned, by_c = tuned_linear(
            f.subset(s.train), self.y[s.train], f.subset(s.val), self.y[s.val]
        )
        self.score(
            f"tuned linear, all fields {ie} + {te}",
            "anchor-tuned",
            tuned,
            f,
            ie,
            te,
            time.perf_counter() - start,
            {"C": tuned.C, "val_top1_by_C": {str(c): v for c, v in by_c.items()}},
        )
        avg = ProbAverage([_model(img_model), _model(txt_model)])
        self.score(f"average probs {ie} + {te}", "anchor-average", avg, f, ie, te, 0.0)
        return tuned

    def score(self, row, kind, model, f, ie, te, seconds, extra=None) -> None:
        test = f.subset(self.split.test)
        p, yt = model.predict_proba(test), self.y[self.split.test]
        rec = {
            "seed": self.seed,
            "row": row,
            "kind": kind,
            "image_encoder": ie,
            "text_encoder": te,
            "top1": topk_accuracy(p, yt, 1),
            "top5": topk_accuracy(p, yt, 5),
            "test_ece": expected_calibration_error(p, yt),
            "seconds": seconds,
            **(extra or {}),
        }
        if self.novel is not None:
            rec["novel_top1"] = topk_accuracy(p[self.novel], yt[self.novel], 1)
            rec["novel_top5"] = topk_accuracy(p[self.novel], yt[self.novel], 5)
        for name, rows in self.extra.items():
            pe = model.predict_proba(f.subset(rows))
            rec[f"{name}_top1"] = topk_accuracy(pe, self.y[rows], 1)
            rec[f"{name}_top5"] = topk_accuracy(pe, self.y[rows], 5)
        self.result.scores.append(rec)
        if self.seed == self.cfg.seeds[0]:
            self.result.predictions[row] = {"y_true": yt.tolist(), "y_pred": p.argmax(1).tolist()}
        self.log(
            f"seed {self.seed} {row}: top-1 {100 * rec['top1']:.1f} "
            f"top-5 {100 * rec['top5']:.1f} ({seconds:.1f}s)"
        )

    def robustness(self, row, model, f) -> None:
        test, yt = f.subset(self.split.test), self.y[self.split.test]
        for cond, removed in CONDITIONS.items():
            p = model.predict_proba(drop_inputs(test, removed))
            self.result.robustness.append(
                {
                    "seed": self.seed,
                    "row": row,
                    "condition": cond,
                    "top1": topk_accuracy(p, yt, 1),
                    "top5": topk_accuracy(p, yt, 5),
                }
            )


def _model(members: list[FusionClassifier]) -> Any:
    """One head, or the probability average of its seed ensemble."""
    from pictext.classify.anchors import ProbAverage

    return members[0] if len(members) == 1 else ProbAverage(members)


def _config_dict(cfg: Table3Config) -> dict[str, Any]:
    return dataclasses.asdict(cfg)
