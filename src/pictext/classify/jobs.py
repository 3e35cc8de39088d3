"""The classify jobs: a config in, a result out that can ``save()`` and ``describe()`` itself.

``pictext train`` and ``pictext demo`` call :func:`train_classifier`; ``pictext evaluate``
and the demo call :func:`evaluate_table`. The command line only parses, calls and prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pictext.core import defaults
from pictext.core.errors import UsageError

if TYPE_CHECKING:
    from pictext.classify.routed import RoutedClassifier
    from pictext.data.dataset import Dataset
    from pictext.data.split import DatasetSplit
    from pictext.store.features import Features

INPUTS = ("image", "title", "description", "tags")


@dataclass
class TrainConfig:
    """What ``pictext train`` fits: the dataset, its towers, split and head settings."""

    dataset: str
    image_encoder: str = defaults.IMAGE_ENCODER
    text_encoder: str = defaults.TEXT_ENCODER
    inputs: tuple[str, ...] = INPUTS
    holdout: float = defaults.CLASSIFY_HOLDOUT
    seed: int = defaults.SPLIT_SEED
    optimizer: str = "adamw"
    epochs: int = defaults.FUSION_EPOCHS
    members: int = defaults.CLASSIFY_MEMBERS
    routes: bool = True  # image-only and text-only heads for rows missing an input
    strip_label_words: bool = False
    cache_dir: Path | None = None
    progress: bool = True


@dataclass
class TrainResult:
    """A trained, calibrated classifier with the split it used and its test metrics."""

    dataset: Dataset
    features: Features
    model: RoutedClassifier
    split: DatasetSplit
    metrics: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def save(self, out: str | Path, *, figures: bool = True) -> Path:
        """The model, ``split.json``, ``metrics.json`` and (``figures``) its pictures."""
        from pictext.classify.runs import model_figures
        from pictext.core.atomic import atomic_write_json

        out = Path(out)
        self.model.save(out)
        self.split.save(out / "split.json")
        atomic_write_json(out / "metrics.json", self.metrics)
        if figures:
            model_figures(self.dataset, self.features, self.model, out, split=self.split)
        return out

    def describe(self) -> str:
        """One line: test top-1, top-5, calibration error and the routes kept."""
        t = self.metrics["test"]
        routed = ", ".join(f"{r} -> {h} head" for r, h in self.model.routes.items()) or "none"
        return (
            f"{self.dataset.name}: test top-1 {t['top1']:.1f}  top-5 {t['top5']:.1f}  "
            f"ECE {t['ece']:.1f}%  routes: {routed}"
        )


def train_classifier(cfg: TrainConfig) -> TrainResult:
    """Split, embed (cached), train the fusion head and its routes, calibrate.

    Raises:
        UsageError: ``members`` below 1, or an unknown encoder name.
    """
    from pictext.classify.datacheck import split_check
    from pictext.classify.fusion import FusionConfig
    from pictext.classify.runs import features_for, load_labelled, train_fusion
    from pictext.classify.table3 import classify_split

    if cfg.members < 1:
        raise UsageError(f"--members must be at least 1, not {cfg.members}", item="--members")
    ds = load_labelled(cfg.dataset, strip_label_words=cfg.strip_label_words)
    split = classify_split(ds, holdout=cfg.holdout, seed=cfg.seed)
    warning = split_check(ds, split).warning()
    feats = features_for(ds, cfg.cache_dir)(cfg.image_encoder, cfg.text_encoder)
    fusion = FusionConfig(
        inputs=cfg.inputs,
        seed=cfg.seed,
        optimizer=cfg.optimizer,
        epochs=cfg.epochs,
        progress=cfg.progress,
    )
    model, metrics = train_fusion(
        ds, feats, fusion, split=split, members=cfg.members, routes=cfg.routes
    )
    return TrainResult(ds, feats, model, split, metrics, [warning] if warning else [])


@dataclass
class TableResult:
    """The study's Table 3 and the missing-input table over seeds, and the files written."""

    result: Any
    files: dict[str, Path] = field(default_factory=dict)

    def save(self, out: str | Path) -> dict[str, Path]:
        """Tables (Markdown, CSV, JSON) and plots under ``out``."""
        from pictext.classify.tables import write_outputs, write_plots

        self.files = write_outputs(self.result, Path(out))
        self.files.update({p.stem: p for p in write_plots(self.result, Path(out))})
        return self.files

    def describe(self) -> Any:
        """The summary table (a rich table)."""
        from pictext.classify.tables import rich_table, summary

        return rich_table(summary(self.result))


def evaluate_table(
    dataset: str,
    cfg: Any,
    *,
    strip_label_words: bool = False,
    cache_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> TableResult:
    """Table 3 (``cfg``: :class:`~pictext.classify.table3.Table3Config`) on ``dataset``."""
    from pictext.classify.runs import evaluate_dataset, load_labelled

    ds = load_labelled(dataset, strip_label_words=strip_label_words)
    return TableResult(evaluate_dataset(ds, cfg, cache_dir=cache_dir, log=log))
