"""``pictext audit DATASET``: label errors, duplicates and uniqueness, saved as one run.

The audit is a named run in FiftyOne's sense: its config (dataset, encoders, folds,
thresholds) and its results (one row per item) are saved together as a ``pictext-audit``
artifact (:mod:`pictext.core.artifacts`), which the CLI prints, the report draws and the
service's browser sorts and filters by.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.audit import duplicates as dup
from pictext.audit.knn import HEADS_MAX, KnnGraph, knn_graph
from pictext.audit.labels import LabelIssues, find_label_issues, out_of_fold_probs
from pictext.core import defaults
from pictext.core.artifacts import AUDIT, load_artifact, save_artifact
from pictext.core.console import note

if TYPE_CHECKING:
    from pictext.classify.fusion import FusionConfig
    from pictext.data.dataset import Dataset
    from pictext.store.features import Features


@dataclass
class AuditConfig:
    """What an audit computes and how."""

    image_encoder: str = defaults.IMAGE_ENCODER  # image tower of the embeddings
    text_encoder: str = defaults.TEXT_ENCODER  # text tower
    inputs: tuple[str, ...] = ("image", "title", "description", "tags")  # the head's inputs
    folds: int = 5  # out-of-fold probabilities: stratified folds
    epochs: int = 30  # most epochs per fold's head (early stopping on a validation slice)
    patience: int = 5  # epochs without a better validation top-1 before stopping
    batch_size: int = 128  # the heads' training batch
    seed: int = 0  # seeds the folds and the heads
    strip_label_words: bool = True  # take label words out of the text (as the study does)
    phash_bits: int = 0  # pHash duplicates: most differing bits (0: the same picture)
    embedding_distance: float = 0.01  # embedding duplicates: largest cosine distance
    uniqueness_k: int = 5  # neighbours averaged by the uniqueness score
    label_errors: bool = True  # check the labels (out-of-fold heads or neighbour votes)
    knn_k: int = 10  # neighbours per item in the audit's k-NN graph (audit/knn.py)
    knn_method: str = "auto"  # the graph: exact, ivf (FAISS) or auto (by size)
    label_method: str = "auto"  # label probabilities: heads (out-of-fold fusion heads),
    # knn (the graph's neighbour votes) or auto (heads up to knn.HEADS_MAX labelled items)


@dataclass
class AuditResult:
    """One audit: its config, the items and a score or flag per item and check."""

    dataset: str  # the dataset's name or path
    config: AuditConfig
    ids: list[str]
    labels: list[str | None]  # the given label of each item
    classes: list[str]
    uniqueness: np.ndarray  # [N] mean cosine distance to the nearest items (NaN: no image)
    duplicates: dict[str, dup.DuplicateGroups]  # by kind
    issues: LabelIssues | None = None  # None when label errors were not computed
    seconds: dict[str, float] = field(default_factory=dict)  # time per step
    methods: dict[str, str] = field(default_factory=dict)  # {"knn": exact|ivf, "labels": ...}

    @property
    def error_score(self) -> np.ndarray:
        """Suspected-error score per item: 1 - label quality (NaN without label checks)."""
        if self.issues is None:
            return np.full(len(self.ids), np.nan)
        return 1.0 - self.issues.quality

    @functools.cached_property
    def _rows(self) -> dict[str, int]:
        return {i: r for r, i in enumerate(self.ids)}

    def row(self, item_id: str) -> int | None:
        """The row of an item id, or None when the audit does not hold it."""
        return self._rows.get(item_id)

    def suspects(self, n: int | None = None) -> list[int]:
        """Rows cleanlab flags as mislabelled, most suspect first (at most ``n``)."""
        if self.issues is None:
            return []
        return [int(r) for r in self.issues.ranked[:n]]

    def flags(self, row: int) -> dict[str, Any]:
        """What the audit says about one item, for the CLI, the page and the report."""
        out: dict[str, Any] = {"uniqueness": _num(self.uniqueness[row])}
        if self.issues is not None:
            pred = int(self.issues.predicted[row])
            out |= {
                "suspected_error": bool(self.issues.issue[row]),
                "error_score": _num(self.error_score[row]),
                "predicted": self.classes[pred] if pred >= 0 else None,
                "predicted_p": _num(self.issues.pred_probs[row, pred]) if pred >= 0 else None,
            }
        dups = {}
        for kind, g in self.duplicates.items():
            if g.group[row] >= 0:
                rows = g.members[int(g.group[row])]
                dups[kind] = {
                    "with": [self.ids[r] for r in rows if r != row],
                    "label_conflict": bool(g.conflict[row]),
                }
        out["duplicates"] = dups
        return out

    def summary(self) -> dict[str, Any]:
        """Counts: items, suspected errors, duplicate groups and conflicts per kind, seconds."""
        out: dict[str, Any] = {"dataset": self.dataset, "items": len(self.ids)}
        if self.issues is not None:
            out["suspected_errors"] = int(self.issues.issue.sum())
            hits = [
                self.classes[p] == lab
                for p, lab in zip(self.issues.predicted, self.labels, strict=True)
                if p >= 0
            ]
            out["checked"] = len(hits)
            out["oof_accuracy"] = float(np.mean(hits)) if hits else None
        out["duplicates"] = {
            k: {"groups": g.n_groups, "label_conflicts": g.n_conflicting}
            for k, g in self.duplicates.items()
        }
        out["seconds"] = {k: round(v, 2) for k, v in self.seconds.items()}
        out["methods"] = dict(self.methods)
        return out

    # ---------------------------------------------------------------- persistence
    def save(self, directory: str | Path) -> Path:
        """Write the audit as a ``pictext-audit`` artifact (config.json + model.safetensors)."""
        arrays: dict[str, np.ndarray] = {"uniqueness": self.uniqueness.astype(np.float64)}
        for kind, g in self.duplicates.items():
            arrays[f"dup_{kind}_group"] = g.group
            arrays[f"dup_{kind}_conflict"] = g.conflict.astype(np.uint8)
        if self.issues is not None:
            arrays |= {
                "pred_probs": self.issues.pred_probs,
                "quality": self.issues.quality.astype(np.float64),
                "issue": self.issues.issue.astype(np.uint8),
                "ranked": self.issues.ranked,
            }
        cfg = dataclasses.asdict(self.config) | {"inputs": list(self.config.inputs)}
        meta = {
            "dataset": self.dataset, "config": cfg, "ids": self.ids, "labels": self.labels,
            "classes": self.classes, "kinds": list(self.duplicates), "seconds": self.seconds,
            "methods": self.methods,
            "summary": self.summary(),
        }  # fmt: skip
        return save_artifact(directory, AUDIT, meta, arrays)

    @classmethod
    def load(cls, directory: str | Path) -> AuditResult:
        """Read an audit written by :meth:`save` (format and version checked)."""
        meta, a = load_artifact(directory, AUDIT)
        cfg = meta["config"] | {"inputs": tuple(meta["config"]["inputs"])}
        dups = {
            k: dup.DuplicateGroups(k, a[f"dup_{k}_group"], a[f"dup_{k}_conflict"].astype(bool))
            for k in meta["kinds"]
        }
        issues = None
        if "pred_probs" in a:
            p = a["pred_probs"]
            pred = np.where(np.isnan(p).any(1), -1, np.nan_to_num(p, nan=-1.0).argmax(1))
            issues = LabelIssues(p, a["quality"], a["issue"].astype(bool), a["ranked"], pred)
        return cls(
            meta["dataset"], AuditConfig(**cfg), list(meta["ids"]), list(meta["labels"]),
            list(meta["classes"]), a["uniqueness"], dups, issues, dict(meta["seconds"]),
            dict(meta.get("methods", {})),
        )  # fmt: skip


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 4)


def audit_dataset(
    dataset: str | Dataset,
    config: AuditConfig | None = None,
    *,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    features: Features | None = None,
) -> AuditResult:
    """Audit a collection: suspected label errors, duplicates, uniqueness.

    Args:
        dataset: a registry name, a path, or a loaded dataset.
        config: what to compute (default :class:`AuditConfig`).
        cache_dir: the embedding cache (default: the user's).
        progress: show progress (embedding, then each step and fold) on stderr.
        features: the dataset's embeddings when already at hand (in dataset order; their
            encoders are recorded in place of the config's).

    Raises:
        DatasetNotFoundError: no such dataset.
        TrainingDataError: label errors asked for, but fewer than two classes.
        ValueError: a class smaller than ``config.folds``.
    """
    from pictext.data import load_dataset
    from pictext.store import embed_dataset

    cfg = config or AuditConfig()
    ds = (
        load_dataset(dataset, strip_label_words=cfg.strip_label_words)
        if isinstance(dataset, str | Path)
        else dataset
    )
    name = str(dataset) if isinstance(dataset, str | Path) else ds.name
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    if features is None:
        feats = embed_dataset(
            ds, cfg.image_encoder, cfg.text_encoder, cache_dir=cache_dir, progress=progress
        )
    else:
        if features.ids != [it.id for it in ds.items]:
            raise ValueError("features do not match the dataset's items (ids or order)")
        feats = features
        cfg = dataclasses.replace(
            cfg, image_encoder=feats.image_encoder or "", text_encoder=feats.text_encoder or ""
        )
    seconds["embed"] = time.perf_counter() - t
    labels = [it.label for it in ds.items]
    note("audit: k-NN graph and duplicates (bytes, perceptual hash, embedding)", progress)
    graph = audit_graph(feats, cfg)
    seconds["knn_graph"] = graph.seconds
    methods = {"knn": f"{graph.method} k={graph.k}"}
    duplicates = find_duplicates(ds, feats, cfg, seconds, graph=graph)
    note("audit: uniqueness", progress)
    t = time.perf_counter()
    uniq = graph.mean_distance(cfg.uniqueness_k)
    seconds["uniqueness"] = time.perf_counter() - t
    classes = sorted({lab for lab in labels if lab is not None})
    issues = None
    if cfg.label_errors:
        t = time.perf_counter()
        issues = _label_issues(ds, feats, cfg, classes, graph, methods, progress)
        seconds["label_errors"] = time.perf_counter() - t
    ids = [it.id for it in ds.items]
    return AuditResult(name, cfg, ids, labels, classes, uniq, duplicates, issues, seconds, methods)


def audit_graph(feats: Features, cfg: AuditConfig) -> KnnGraph:
    """The k-NN graph of the image embeddings the audit reads (:mod:`pictext.audit.knn`)."""
    k = max(cfg.knn_k, cfg.uniqueness_k)
    return knn_graph(feats.image, feats.image_mask, k, method=cfg.knn_method, seed=cfg.seed)


def find_duplicates(
    ds: Dataset,
    feats: Features,
    cfg: AuditConfig,
    seconds: dict[str, float] | None = None,
    *,
    graph: KnnGraph | None = None,
) -> dict[str, dup.DuplicateGroups]:
    """Duplicate groups by bytes, perceptual hash and image embedding (the graph's short
    edges; built here when not given)."""
    seconds = {} if seconds is None else seconds
    labels = [it.label for it in ds.items]
    n = len(ds)
    t = time.perf_counter()
    out = {
        "bytes": dup.groups_from_pairs(
            "bytes", n, *dup.exact_pairs(dup.byte_keys(ds.items)), labels
        )
    }
    seconds["dup_bytes"] = time.perf_counter() - t
    t = time.perf_counter()
    hashes, ok = dup.perceptual_hashes(ds.items)
    out["phash"] = dup.groups_from_pairs(
        "phash", n, *dup.hash_pairs(hashes, ok, cfg.phash_bits), labels
    )
    seconds["dup_phash"] = time.perf_counter() - t
    t = time.perf_counter()
    graph = graph if graph is not None else audit_graph(feats, cfg)
    pairs = graph.pairs_within(cfg.embedding_distance)
    out["embedding"] = dup.groups_from_pairs("embedding", n, *pairs, labels)
    seconds["dup_embedding"] = time.perf_counter() - t
    return out


def head_config(cfg: AuditConfig, inputs: tuple[str, ...] | None = None) -> FusionConfig:
    """The fusion head each fold trains (``inputs`` overrides the config's, for baselines)."""
    from pictext.classify.fusion import FusionConfig

    return FusionConfig(
        inputs=inputs or cfg.inputs, epochs=cfg.epochs, patience=cfg.patience,
        batch_size=cfg.batch_size, seed=cfg.seed,
    )  # fmt: skip


def labelled_rows(ds: Dataset, folds: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(rows, y, classes)``: the items whose label can be checked out of fold.

    Those are the labelled items of classes with at least ``folds`` items (a smaller class
    cannot be held out of every fold); ``y`` indexes ``classes``, the classes kept.
    """
    from collections import Counter

    counts = Counter(it.label for it in ds.items if it.label is not None)
    classes = sorted(c for c, k in counts.items() if k >= folds)
    index = {c: i for i, c in enumerate(classes)}
    rows = np.array([i for i, it in enumerate(ds.items) if it.label in index], dtype=np.int64)
    return rows, np.array([index[ds.items[r].label] for r in rows], dtype=np.int64), classes


def label_method(cfg: AuditConfig, n_labelled: int) -> str:
    """``heads`` or ``knn``: the config's choice, or by size when it is ``auto``."""
    if cfg.label_method not in ("auto", "heads", "knn"):
        raise ValueError(f"unknown label method {cfg.label_method!r}; use auto, heads or knn")
    if cfg.label_method != "auto":
        return cfg.label_method
    return "heads" if n_labelled <= HEADS_MAX else "knn"


def _label_issues(
    ds: Dataset,
    feats: Features,
    cfg: AuditConfig,
    classes: list[str],
    graph: KnnGraph,
    methods: dict[str, str],
    progress: bool = False,
) -> LabelIssues:
    """Out-of-fold probabilities (fusion heads, or the graph's neighbour votes), then
    confident learning, over the checkable items.

    Items left out (unlabelled, of a class smaller than ``folds``, or without an image when
    the votes are used) get NaN probabilities and quality, and are never flagged.
    """
    from pictext.classify.datacheck import check_classes

    check_classes(ds)
    rows, y, kept = labelled_rows(ds, cfg.folds)
    if len(kept) < 2:
        raise ValueError(f"label checks need two classes with >= {cfg.folds} items each")
    methods["labels"] = label_method(cfg, len(rows))
    if methods["labels"] == "knn":
        has = feats.image_mask[rows]
        rows, y = rows[has], y[has]
        y_all = np.full(len(ds), -1, np.int64)
        y_all[rows] = y
        p = graph.vote_probs(y_all, len(kept), rows)
    else:
        p = out_of_fold_probs(
            feats.subset(rows), y, head_config(cfg), folds=cfg.folds, seed=cfg.seed,
            classes=kept, progress=progress,
        )  # fmt: skip
    found = find_label_issues(y, p)
    n = len(ds)
    cols = np.array([classes.index(c) for c in kept])
    full_p = np.full((n, len(classes)), np.nan)
    full_p[rows] = 0.0
    full_p[np.ix_(rows, cols)] = found.pred_probs
    quality = np.full(n, np.nan)
    quality[rows] = found.quality
    issue = np.zeros(n, dtype=bool)
    issue[rows] = found.issue
    predicted = np.full(n, -1, dtype=np.int64)
    predicted[rows] = cols[found.predicted]
    return LabelIssues(full_p, quality, issue, rows[found.ranked], predicted)
