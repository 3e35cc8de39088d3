"""Library side of ``pictext caption-train`` / ``caption-eval``: fit, choose on validation, test.

The split (:func:`pictext.data.split.split_dataset`: stratified by class, duplicate groups
on one side) gives train, validation and test images. Every captioner type asked for is
fitted on the training side and decoded with the one default :class:`Decoding`; the
consensus captioner's ``k`` and temperature are chosen on validation, and so is the
*default* captioner: the type with the best :func:`~pictext.caption.metrics.selection_score`
on validation. (The consensus captioner's validation score is the best of its grid, so it
is a little optimistic, by less than the grid's spread; on tuxpaint and openclipart its lead
over the decoders is ten times that.) Test figures are computed for every system, baselines
included, and never used to choose anything. The merge model is also decoded as the report
did (greedy, no constraints), so its reproduction keeps its own row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.caption.bleu import (
    bleu_scores,
    caption_stats,
    most_frequent_caption,
    nearest_caption,
)
from pictext.caption.decoding import DEFAULT_DECODING, REPRODUCTION, Decoding
from pictext.caption.metrics import caption_metrics, selection_score
from pictext.caption.references import reference_captions, training_captions
from pictext.caption.registry import CAPTIONERS
from pictext.caption.text import clean_caption
from pictext.core import defaults

if TYPE_CHECKING:
    from pictext.caption.captioner import Captioner
    from pictext.caption.consensus import ConsensusCaptioner
    from pictext.caption.registry import AnyCaptioner
    from pictext.data.dataset import Dataset
    from pictext.data.split import DatasetSplit, Split
    from pictext.encoders.base import TextEncoder
    from pictext.store.features import Features


REPORT_KEY = "merge (report's decoding)"  # the reproduction's test captions in ``captions``


@dataclass
class CaptionRunConfig:
    """One caption experiment: what to fit, how to split, how to decode."""

    archs: tuple[str, ...] = CAPTIONERS  # captioner types to fit; the default is one of them
    field: str = "auto"  # reference text: see reference_captions
    extra_fields: tuple[str, ...] = defaults.CAPTION_EXTRA_FIELDS  # also learn from these
    holdout: float = defaults.CAPTION_HOLDOUT  # share of each class held out (val + test)
    seed: int = defaults.SPLIT_SEED  # split, initialisation and shuffling seed
    epochs: int = defaults.CAPTION_EPOCHS  # most passes (best epoch on held-back pairs kept)
    max_len: int = 16  # most words per caption
    min_count: int = 2  # vocabulary minimum count
    decoding: Decoding = DEFAULT_DECODING  # how every decoder captions
    ks: tuple[int, ...] = defaults.CAPTION_CONSENSUS_KS  # consensus k tried on validation
    temperatures: tuple[float, ...] = defaults.CAPTION_CONSENSUS_TEMPERATURES  # and these
    text_encoder: str = defaults.CAPTION_TEXT_ENCODER  # caption similarity and cosine metric
    threads: int = 1  # torch CPU threads


def caption_sides(split: Split, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Usable train, validation and test rows of a split."""
    train, val, test = (side[usable[side]] for side in (split.train, split.val, split.test))
    return train, val, test


def run_captions(
    dataset: Dataset,
    feats: Features,
    cfg: CaptionRunConfig,
    log: Callable[[str], None] = print,
    *,
    split: DatasetSplit | None = None,
    text_encoder: TextEncoder | None = None,
) -> dict[str, Any]:
    """Fit each captioner type on the train side, choose on validation, score on test.

    Args:
        dataset: the items (their order matches ``feats``).
        feats: their image embeddings.
        cfg: captioner types, reference field, split, decoding.
        log: called with progress lines.
        split: the split to use; default drawn from ``cfg.holdout`` and ``cfg.seed``.
        text_encoder: encoder of caption similarity and of the cosine metric; default
            ``cfg.text_encoder`` from the registry.

    Returns:
        ``rows`` (one per system: test metrics, ``val`` metrics, ``val_score``,
        ``default``), ``default`` (the chosen type), ``models`` (fitted captioners),
        ``captions`` (type, baseline or :data:`REPORT_KEY` -> test captions),
        ``consensus_grid`` (validation score of each k and temperature), ``train`` /
        ``val`` / ``test`` rows, ``split``, ``references`` and ``config``.
    """
    from pictext.data.split import duplicate_groups, split_dataset

    if feats.image is None or feats.image_mask is None:
        raise ValueError(f"{dataset.name}: features have no image embeddings")
    unknown = set(cfg.archs) - set(CAPTIONERS)
    if unknown or not cfg.archs:
        raise ValueError(f"unknown captioner types {sorted(unknown)}; use some of {CAPTIONERS}")
    tenc = text_encoder or resolve_text_encoder(cfg.text_encoder)
    refs = reference_captions(dataset, cfg.field)
    usable = feats.image_mask & np.array([bool(r) for r in refs])
    groups = duplicate_groups(dataset)
    if split is None:
        split = split_dataset(dataset, holdout=cfg.holdout, seed=cfg.seed, groups=groups)
    train, val, test = caption_sides(split.rows([it.id for it in dataset.items]), usable)
    if not len(val) or not len(test):
        raise ValueError(f"{dataset.name}: the split leaves no validation or test image")
    log(
        f"{dataset.name}: {len(train)} train, {len(val)} validation, {len(test)} test images "
        f"({int((~usable).sum())} without image or caption left out)"
    )
    x, r = feats.image, np.array(refs, dtype=object)
    texts = training_captions(dataset, refs, cfg.extra_fields)
    sides = {"val": (x[val], list(r[val])), "test": (x[test], list(r[test]))}
    tr_refs = list(r[train])

    def score(
        name: str, decoding: str, predict: Callable[[np.ndarray], list[str]], key: str = ""
    ) -> dict:
        row: dict[str, Any] = {"model": name, "decoding": decoding}
        row["val"] = caption_metrics(predict(sides["val"][0]), sides["val"][1], tenc)
        t0 = time.perf_counter()
        hyps = predict(sides["test"][0])
        row["captions_per_s"] = len(hyps) / max(time.perf_counter() - t0, 1e-9)
        row.update(caption_metrics(hyps, sides["test"][1], tenc))
        row.update(_novel(hyps, sides["test"][1], tr_refs))
        row.update(caption_stats(hyps, tr_refs))
        row["val_score"] = selection_score(row["val"])
        captions[key or name] = hyps
        return row

    rows, models, captions, grid = [], {}, {}, []
    for arch in cfg.archs:
        if arch == "consensus":
            captions_tr = [texts[i] for i in train]
            model, grid = _fit_consensus(x[train], captions_tr, feats, sides, cfg, tenc)
            log(f"  consensus: k {model.config.k}, temperature {model.config.temperature:g}")
        else:
            captions_tr = [texts[i] for i in train]
            model = _fit_decoder(arch, x[train], captions_tr, feats, cfg, log, groups[train])
        models[arch] = model
        decode = _predictor(model, cfg.decoding)
        rows.append({**score(arch, _decoding_name(arch, cfg), decode), "arch": arch})
        if arch == "merge":  # the report's decoding, for the reproduction
            reproduction = _predictor(model, REPRODUCTION)
            rows.append(score(arch, "greedy (report)", reproduction, key=REPORT_KEY))
    baselines = {
        "nearest caption": lambda v: nearest_caption(x[train], tr_refs, v),
        "most frequent caption": lambda v: most_frequent_caption(tr_refs, len(v)),
    }
    for name, predict in baselines.items():
        rows.append(score(name, "-", predict))
    default = max((row for row in rows if "arch" in row), key=lambda row: row["val_score"])
    for row in rows:
        row["default"] = row is default
    log(f"  default captioner (best on validation): {default['arch']}")
    return {
        "rows": rows,
        "default": default["arch"],
        "models": models,
        "captions": captions,
        "consensus_grid": grid,
        "train": train,
        "val": val,
        "test": test,
        "split": split,
        "references": refs,
        "config": {**asdict(cfg), "text_encoder": f"{tenc.name}@{tenc.version}"},
    }


def _fit_consensus(
    image: np.ndarray,
    captions: list[list[str]],
    feats: Features,
    sides: dict[str, tuple[np.ndarray, list[str]]],
    cfg: CaptionRunConfig,
    tenc: TextEncoder,
) -> tuple[ConsensusCaptioner, list[dict[str, Any]]]:
    """The consensus captioner with the ``k`` and temperature best on validation."""
    from pictext.caption.consensus import ConsensusCaptioner

    model = ConsensusCaptioner().fit(
        image, captions, tenc, image_encoder=feats.image_encoder, clean=False
    )
    grid = []
    v_image, v_refs = sides["val"]
    for k in cfg.ks:
        for temperature in cfg.temperatures if k > 1 else cfg.temperatures[:1]:
            model.config = replace(model.config, k=k, temperature=temperature)
            metrics = caption_metrics(model.predict(v_image), v_refs, tenc)
            grid.append(
                {
                    "k": k,
                    "temperature": temperature,
                    "val_score": selection_score(metrics),
                    "bleu1": metrics["bleu1"],
                    "cosine": metrics["cosine"],
                }
            )
    best = max(grid, key=lambda g: g["val_score"])
    model.config = replace(model.config, k=best["k"], temperature=best["temperature"])
    return model, grid


def _fit_decoder(
    arch: str,
    image: np.ndarray,
    captions: list[list[str]],
    feats: Features,
    cfg: CaptionRunConfig,
    log: Callable[[str], None],
    groups: np.ndarray,
) -> Captioner:
    """Fit one decoder on every (image, caption) pair; held-back pairs keep groups whole."""
    from pictext.caption.captioner import Captioner

    rows = np.array([i for i, texts in enumerate(captions) for _ in texts], dtype=np.int64)
    flat = [t for texts in captions for t in texts]
    model = Captioner(
        arch=arch,
        epochs=cfg.epochs,
        max_len=cfg.max_len,
        min_count=cfg.min_count,
        seed=cfg.seed,
        threads=cfg.threads,
    ).fit(image[rows], flat, image_encoder=feats.image_encoder, clean=False, groups=groups[rows])
    log(
        f"  {arch}: {len(flat)} pairs, {len(model.vocab)} words, best epoch "
        f"{model.history.best_epoch + 1}, {model.history.seconds:.0f}s"
    )
    return model


def _predictor(model: Any, decoding: Decoding) -> Callable[[np.ndarray], list[str]]:
    return lambda image: model.predict(image, decoding=decoding)


def _decoding_name(arch: str, cfg: CaptionRunConfig) -> str:
    return f"k-NN consensus, {cfg.text_encoder}" if arch == "consensus" else cfg.decoding.name


def _novel(hyps: list[str], refs: list[str], train_refs: list[str]) -> dict[str, float]:
    """BLEU-1/2 on the test images whose reference caption never occurs in training."""
    seen = set(train_refs)
    novel = [i for i, r in enumerate(refs) if r not in seen]
    if not novel:
        return {}
    hyps_novel = [clean_caption(hyps[i]) for i in novel]
    sub = bleu_scores(hyps_novel, [refs[i] for i in novel], max_order=2)
    return {f"{k}_novel": v for k, v in sub.items()}


def resolve_text_encoder(name: str) -> TextEncoder:
    """The text encoder ``name`` (or ``name@version``) by the one resolver of recorded names."""
    from pictext.store.pool import encoder_for

    return encoder_for(name)


def refit_on_all(
    ds: Dataset, feats: Features, cfg: CaptionRunConfig, result: dict[str, Any]
) -> tuple[AnyCaptioner, int]:
    """The type chosen on validation (with its chosen settings), refitted on every captioned
    image (``caption-train --holdout 0``), and how many images it saw; the caller saves it."""
    from pictext.caption.captioner import Captioner
    from pictext.caption.consensus import ConsensusCaptioner
    from pictext.data.split import duplicate_groups

    chosen = result["models"][result["default"]]
    refs = reference_captions(ds, cfg.field)
    texts = training_captions(ds, refs, cfg.extra_fields)
    keep = [i for i, r in enumerate(refs) if r and feats.image_mask[i]]
    if isinstance(chosen, ConsensusCaptioner):
        model = ConsensusCaptioner(chosen.config).fit(
            feats.image[keep],
            [texts[i] for i in keep],
            resolve_text_encoder(chosen.text_encoder or cfg.text_encoder),
            image_encoder=feats.image_encoder,
            clean=False,
        )
    else:
        rows = [i for i in keep for _ in texts[i]]
        model = Captioner(**asdict(chosen.config)).fit(
            feats.image[rows],
            [t for i in keep for t in texts[i]],
            image_encoder=feats.image_encoder,
            clean=False,
            groups=duplicate_groups(ds)[rows],
        )
    return model, len(keep)
