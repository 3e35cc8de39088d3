"""End-to-end steps the ``pictext rank`` / ``index`` commands run: load a dataset with its
cached embeddings, split it, train and evaluate a ranking head, write the pictures.

A training run writes ``run.json`` (what it used) and ``split.json`` (the split, by item id:
:class:`~pictext.data.split.DatasetSplit`); evaluation reads that split back instead of
drawing it again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.core import defaults
from pictext.core.atomic import atomic_write_json as _write_json

if TYPE_CHECKING:
    from pictext.data.dataset import Dataset
    from pictext.data.split import DatasetSplit
    from pictext.rank.divergent import Divergence
    from pictext.rank.head import RankingHead
    from pictext.store.features import Features


@dataclass
class RunSpec:
    """What a training run used; saved as ``run.json`` beside its ``split.json``."""

    dataset: str  # dataset name or path
    holdout: float  # share of each class held out (halved into val and test)
    seed: int  # split seed
    image_encoder: str = defaults.IMAGE_ENCODER  # registry name of the image tower
    text_encoder: str | None = None  # registry name of the text tower, when the head reads text
    in_class: str = "auto"  # in-class negatives: "auto"/"fine" use fine labels if any, "hard" never
    pairs_from: tuple[str, ...] = ()  # joint space: other collections whose train-side
    # image-text pairs join the alignment loss (never their validation or test side)
    exclude: tuple[str, ...] = ()  # image files no model may see (e.g. the demo's showcase)


@dataclass
class Loaded:
    """A dataset with its features, integer labels and split."""

    dataset: Dataset
    features: Features
    labels: np.ndarray  # class index per item
    fine: np.ndarray | None  # fine class index per item (-1 none), None when no item has one
    train: np.ndarray  # row indices
    val: np.ndarray
    test: np.ndarray
    split: DatasetSplit  # the split those rows come from (saved as split.json)


def load(spec: RunSpec, *, progress: bool = True, split: DatasetSplit | None = None) -> Loaded:
    """Load and embed (cached) the dataset of ``spec``, split by ``split``.

    Args:
        spec: dataset, encoders, holdout and seed.
        progress: show embedding progress.
        split: the recorded split to use; default drawn by
            :func:`pictext.data.split.split_dataset` from ``spec.holdout`` and ``spec.seed``.
    """
    from pictext.data import load_dataset
    from pictext.data.split import split_dataset
    from pictext.store import embed_dataset

    dataset = load_dataset(spec.dataset)
    feats = embed_dataset(dataset, spec.image_encoder, spec.text_encoder, progress=progress)
    if split is None:
        split = split_dataset(dataset, holdout=spec.holdout, seed=spec.seed)
    rows = split.rows([it.id for it in dataset.items])
    return Loaded(
        dataset,
        feats,
        dataset.labels(),
        fine_codes(dataset),
        rows.train,
        rows.val,
        rows.test,
        split,
    )


def fine_codes(dataset: Dataset) -> np.ndarray | None:
    """Fine label per item as an integer (-1 = none); None when no item has one."""
    names = [it.fine_label for it in dataset.items]
    if not any(names):
        return None
    index = {n: i for i, n in enumerate(sorted({n for n in names if n}))}
    return np.array([index[n] if n else -1 for n in names], np.int64)


def train(
    run_dir: Path,
    spec: RunSpec,
    head_params: dict[str, Any],
    progress: bool = True,
    grid: Sequence[tuple[int, float, float]] = (),
) -> RankingHead:
    """Fit a ranking head on the train split; write ``head/``, ``run.json`` and ``split.json``.

    ``grid``: joint-space candidates ``(embed_dim, align_weight, modality_dropout)`` (see
    :data:`~pictext.core.defaults.RANK_JOINT_GRID`); each is fitted with ``head_params`` and
    the one with the best validation score is kept (recorded in ``run.json``)."""
    from pictext.rank.head import RankingHead

    if spec.in_class not in ("auto", "fine", "hard"):
        raise ValueError(f"in_class must be auto, fine or hard, got {spec.in_class!r}")
    data = load(spec, progress=progress)
    if spec.in_class == "fine" and data.fine is None:
        raise ValueError(f"{spec.dataset} has no fine labels; use in_class='hard' or 'auto'")
    start = time.perf_counter()
    fine = None if data.fine is None or spec.in_class == "hard" else data.fine[data.train]
    candidates = [{}] if not grid else [
        {"embed_dim": d, "align_weight": a, "modality_dropout": m, "use_text": True}
        for d, a, m in grid
    ]  # fmt: skip
    tried = []
    head = None
    pairs = pair_features(spec) if spec.pairs_from and grid else None
    for extra in candidates:
        fitted = RankingHead(progress=progress, **{**head_params, **extra}).fit(
            data.features.subset(data.train),
            data.labels[data.train],
            fine_labels=fine,
            classes=data.dataset.classes,
            eval_features=data.features.subset(data.val),
            eval_labels=data.labels[data.val],
            pairs=pairs,
        )
        score = _best_val(fitted)
        tried.append({**extra, "val_score": score})
        if head is None or score > _best_val(head):
            head = fitted
    assert head is not None
    seconds = time.perf_counter() - start
    run_dir.mkdir(parents=True, exist_ok=True)
    head.save(run_dir / "head")
    data.split.save(run_dir / "split.json")
    info = {
        "spec": asdict(spec),
        "fit_seconds": seconds,
        "n_train": len(data.train),
        "n_val": len(data.val),
        "n_test": len(data.test),
        "history": head.history,
        "candidates": tried if grid else [],
    }
    _write_json(run_dir / "run.json", info)
    return head


def pair_features(spec: RunSpec) -> Features | None:
    """The train side of each collection of ``spec.pairs_from`` (its split by the project's
    policy, the run's holdout and seed), without ``spec.exclude``'s images, embedded with the
    run's encoders: unlabelled image-text pairs for the joint space's alignment."""
    from pictext.data import load_dataset
    from pictext.data.split import split_dataset
    from pictext.store import embed_dataset

    excluded = {str(Path(p).resolve()) for p in spec.exclude}
    parts = []
    for name in spec.pairs_from:
        if name == spec.dataset:
            continue
        ds = load_dataset(name)
        rows = split_dataset(ds, holdout=spec.holdout, seed=spec.seed).rows(
            [it.id for it in ds.items]
        )
        keep = [
            int(r) for r in rows.train
            if not ds.items[r].image or str(Path(ds.items[r].image).resolve()) not in excluded
        ]  # fmt: skip
        feats = embed_dataset(ds, spec.image_encoder, spec.text_encoder, progress=False)
        parts.append(feats.subset(np.asarray(keep, np.int64)))
    if not parts:
        return None
    return stack_features(parts)


def stack_features(parts: Sequence[Features]) -> Features:
    """The rows of every part, in order (same inputs and encoders)."""
    from pictext.store.features import Features

    cat = np.concatenate
    first = parts[0]
    return Features(
        ids=[i for p in parts for i in p.ids],
        image=cat([p.image for p in parts]),
        image_mask=cat([p.image_mask for p in parts]),
        text={k: cat([p.text[k] for p in parts]) for k in first.text},
        text_mask={k: cat([p.text_mask[k] for p in parts]) for k in first.text_mask},
        image_encoder=first.image_encoder,
        text_encoder=first.text_encoder,
    )


def _best_val(head: RankingHead) -> float:
    scores = [h["val_triplet_acc"] for h in head.history]
    return float(np.nanmax(scores)) if scores and not np.all(np.isnan(scores)) else float("-inf")


def evaluate(
    run_dir: Path,
    *,
    grid_queries: int = 4,
    map_method: str = "tsne",
    divergence: Divergence | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Ranking metrics of the head vs the raw embedding on the run's test split, plus pictures.

    The split is the one the training run recorded (``split.json``), not drawn again; the
    grid's divergent lists are chosen by ``divergence`` (default: the default mode).
    """
    from pictext.data.split import DatasetSplit
    from pictext.rank.divergent import Divergence
    from pictext.rank.evaluate import ranking_table
    from pictext.rank.head import RankingHead

    info = json.loads((run_dir / "run.json").read_text())
    spec = RunSpec(**info["spec"])
    head = RankingHead.load(run_dir / "head")
    data = load(spec, progress=progress, split=DatasetSplit.load(run_dir / "split.json"))
    test = data.features.subset(data.test)
    keep = head.usable(test) & (data.labels[data.test] >= 0)
    rows = data.test[keep]
    spaces = {
        "raw": np.asarray(data.features.image[rows], np.float32),
        "head": head.transform(data.features.subset(rows)),
    }
    spaces["raw-unit"] = spaces["raw"] / np.linalg.norm(spaces["raw"], axis=1, keepdims=True)
    fine = None if data.fine is None else data.fine[rows]
    table = ranking_table(spaces, data.labels[rows], fine=fine, seed=spec.seed)
    report = {"dataset": spec.dataset, "n_test": len(rows), "table": table}
    _write_json(run_dir / "report.json", report)
    pictures = _Pictures(grid_queries, map_method, spec.seed, divergence or Divergence())
    _pictures(run_dir, data, rows, spaces, pictures)
    return report


@dataclass
class _Pictures:
    n_queries: int  # grid rows per space
    map_method: str  # "tsne" or "pca"
    seed: int  # picks the grid's queries
    divergence: Divergence  # how the grid's divergent lists are chosen


def _pictures(
    run_dir: Path, data: Loaded, rows: np.ndarray, spaces: dict[str, np.ndarray], pic: _Pictures
) -> None:
    from pictext.data.images import load_image
    from pictext.rank.ann import top_k_inner
    from pictext.rank.divergent import divergent_rows
    from pictext.rank.plot_grid import GridRow, retrieval_grid
    from pictext.rank.plot_map import ranking_map

    ranking_map(
        {k: spaces[k] for k in ("raw", "head")},
        data.labels[rows],
        data.dataset.classes,
        run_dir / "ranking_map.png",
        method=pic.map_method,
        seed=pic.seed,
    )
    rng = np.random.default_rng(pic.seed)
    queries = rng.choice(len(rows), size=min(pic.n_queries, len(rows)), replace=False)
    grid = []
    for q in queries:
        for name in ("raw", "head"):
            z = spaces[name] / np.linalg.norm(spaces[name], axis=1, keepdims=True)
            near, _ = top_k_inner(z, z[q : q + 1], 6)
            far, far_d = divergent_rows(z, z[q], 5, pic.divergence, exclude={int(q)})
            ids = [data.features.ids[rows[j]] for j in far]
            d = lambda j, z=z, q=q: float(np.linalg.norm(z[j] - z[q]))  # noqa: E731
            grid.append(
                GridRow(
                    name,
                    data.features.ids[rows[q]],
                    [(data.features.ids[rows[j]], d(j)) for j in near[0] if j != q][:5],
                    list(zip(ids, far_d.tolist(), strict=True)),
                    pic.divergence.describe(),
                )
            )
    by_id = {it.id: it for it in data.dataset.items}
    retrieval_grid(
        grid,
        lambda i: load_image(by_id[i]),
        lambda i: str(by_id[i].label),
        run_dir / "retrieval_grid.png",
    )
