"""Answers that travel: train on one packaged collection, tag and query with another's images.

    .venv/bin/python bench/cross_collection.py                    # both directions
    .venv/bin/python bench/cross_collection.py --grid runs/xc     # + the apple/turtle grids

For each direction (tuxpaint -> openclipart and back) the source collection's classifier and
ranking head are trained as ``pictext train`` and ``pictext rank train`` train them (default
hyperparameters, the default split; validation of the *source* picks every setting), then
every item of the other collection whose class maps onto a source class is a query:

- tag top-1 / top-5 of the mapped class, image only, and with the title (the concatenated
  text of a title-only upload is its title, so the title's embedding stands for both);
- similar P@10: share of the 10 nearest source items (the ``pictext index build`` index over
  the whole source) in the mapped class, for the index space (``--space``) and the raw one.

"Before" is the defaults as they were; "after" is each setting chosen on the source's
validation side among the candidates (one fusion head or a ``--members`` seed ensemble; for
image-only queries also the image-only head; each of the two heads again on
``efficientnet-lite0-imagenet`` features, i.e. with the ImageNet head's probabilities; the
index's blend of head and raw space, rank/space.py). The target side is never used to
choose anything: it is the test.
``--grid DIR`` draws the cases of issue 15 (openclipart's cartoon apple, small turtle and
frog against the tuxpaint-trained model) before and after as PNG.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from pictext.classify.anchors import ProbAverage
from pictext.classify.fusion import FusionConfig
from pictext.classify.metrics import topk_accuracy
from pictext.classify.runs import load_labelled, train_fusion
from pictext.classify.table3 import classify_split
from pictext.core import defaults
from pictext.data.split import split_dataset
from pictext.rank.head import RankingHead
from pictext.rank.space import blend_space, choose_blend
from pictext.store import embed_dataset
from pictext.store.inputs import drop_inputs

# tuxpaint class -> openclipart class (the classes the two collections share)
TUX_TO_OPENCLIPART: dict[str, str] = {
    "animals": "animals",
    "food": "food",
    "people": "people",
    "plants": "plants",
    "vehicles": "transportation",
    "town": "buildings",
    "symbols": "signs_and_symbols",
}


@dataclass
class Trained:
    """A source collection with its models, before and after (chosen on its validation)."""

    name: str
    dataset: Any
    features: Any
    classifier: Any  # the default fusion head (before)
    candidates: dict[str, Any]  # name -> tag model tried
    chosen: dict[str, str]  # query kind ("image", "image+title") -> chosen candidate
    val_scores: dict[str, dict[str, float]]  # query kind -> candidate -> validation top-1
    head: Any
    blend: float  # head weight of the index space chosen on validation
    blend_scores: dict[float, float]  # validation P@10 per weight


def mapping(source: str, target: str) -> dict[str, str]:
    """Target class -> source class for a pair of packaged collections."""
    pairs = {("tuxpaint", "openclipart"): TUX_TO_OPENCLIPART}
    if (source, target) in pairs:
        return {v: k for k, v in pairs[(source, target)].items()}
    if (target, source) in pairs:
        return dict(pairs[(target, source)])
    raise SystemExit(f"no class mapping between {source} and {target}")


def train_source(name: str, rank_epochs: int, members: int) -> Trained:
    """Classifier (``pictext train`` defaults) and ranking head (``pictext rank train``
    defaults) of one collection, plus the candidates, each scored on validation."""
    ds = load_labelled(name)
    feats = embed_dataset(ds, progress=False)  # default towers, cached
    y = ds.labels()
    split = classify_split(ds, holdout=defaults.CLASSIFY_HOLDOUT, seed=defaults.SPLIT_SEED)
    val = split.rows([it.id for it in ds.items]).val
    heads = [
        train_fusion(ds, feats, FusionConfig(seed=defaults.SPLIT_SEED + j), split=split)[0]
        for j in range(members)
    ]
    image_head, _ = train_fusion(
        ds, feats, FusionConfig(inputs=("image",), seed=defaults.SPLIT_SEED), split=split
    )
    candidates = {"fusion": heads[0], "image head": image_head}
    if members > 1:
        candidates[f"fusion x{members}"] = ProbAverage(heads)
    fin = with_imagenet(feats)  # + ImageNet probabilities (encoders/efficientnet_logits.py)
    for cand, inputs in (
        ("fusion+imagenet", FusionConfig().inputs),
        ("image head+imagenet", ("image",)),
    ):
        model, _ = train_fusion(
            ds, fin, FusionConfig(inputs=inputs, seed=defaults.SPLIT_SEED), split=split
        )
        candidates[cand] = OnImagenet(model)
    val_scores: dict[str, dict[str, float]] = {}
    chosen: dict[str, str] = {}
    for kind, view in (("image", image_only), ("image+title", title_only)):
        fv = view(feats.subset(val))
        val_scores[kind] = {
            c: 100 * topk_accuracy(m.predict_proba(fv), y[val], 1)
            for c, m in candidates.items()
            if kind == "image" or not c.startswith("image head")
        }
        best = max(val_scores[kind].values())
        chosen[kind] = next(c for c, v in val_scores[kind].items() if v == best)  # ties: first
    rsplit = split_dataset(ds, holdout=defaults.RANK_HOLDOUT, seed=defaults.SPLIT_SEED)
    rows = rsplit.rows([it.id for it in ds.items])
    head = RankingHead(progress=False, epochs=rank_epochs, seed=defaults.SPLIT_SEED)
    head.fit(
        feats.subset(rows.train),
        y[rows.train],
        classes=ds.classes,
        eval_features=feats.subset(rows.val),
        eval_labels=y[rows.val],
    )
    blend, blend_scores = choose_blend(
        head, feats.subset(rows.train), y[rows.train], feats.subset(rows.val), y[rows.val]
    )
    return Trained(
        name, ds, feats, heads[0], candidates, chosen, val_scores, head, blend, blend_scores
    )


def with_imagenet(feats: Any) -> Any:
    """``feats`` with the image embedding of ``efficientnet-lite0-imagenet``: the cached
    pooled vector and the ImageNet head's probabilities, the function the encoder applies."""
    from pictext.encoders import create_encoder
    from pictext.encoders.efficientnet_logits import imagenet_features, imagenet_head

    enc = create_encoder("efficientnet-lite0-imagenet")
    out = feats.subset(np.arange(feats.n))
    mask = np.ones(feats.n, bool) if feats.image_mask is None else feats.image_mask
    out.image = imagenet_features(feats.image, *imagenet_head(enc.base.weights)) * mask[:, None]
    out.image_encoder = f"{enc.name}@{enc.version}"
    return out


class OnImagenet:
    """A head trained on :func:`with_imagenet` features, fed the same way."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict_proba(self, feats: Any) -> np.ndarray:
        return self.model.predict_proba(with_imagenet(feats))


def image_only(feats: Any) -> Any:
    """Features of the same items uploaded as an image alone."""
    return drop_inputs(feats, ("all_text",))


def title_only(feats: Any) -> Any:
    """Features of the same items uploaded with their title and nothing else."""
    out = drop_inputs(feats, ("description", "tags", "text"))
    if "title" in out.text:
        out.text["text"] = out.text["title"].copy()
        out.text_mask["text"] = out.text_mask["title"].copy()
    return out


def index_space(src: Trained, feats: Any, weight: float) -> np.ndarray:
    """Rows of ``feats`` in the index space: the head's output blended with the raw image
    (``weight`` 1: the head alone, what the index held before)."""
    return blend_space(src.head.transform(feats), np.asarray(feats.image, np.float32), weight)


def similar_rows(src: Trained, feats: Any, weight: float, k: int) -> np.ndarray:
    """``[N, k]`` rows of the source nearest to each row of ``feats`` (cosine)."""
    from pictext.rank.ann import normalize_rows, top_k_inner

    rows, _ = top_k_inner(
        normalize_rows(index_space(src, src.features, weight)),
        normalize_rows(index_space(src, feats, weight)),
        k,
    )
    return rows


def queries(target: str, classes: dict[str, str]) -> tuple[Any, Any, list[str]]:
    """The target items whose class maps, their features and mapped source class."""
    ds = load_labelled(target)
    keep = [i for i, it in enumerate(ds.items) if it.label in classes]
    sub = ds.subset(keep)
    feats = embed_dataset(sub, progress=False)
    return sub, feats, [classes[it.label] for it in sub.items]


def direction(src: Trained, target: str) -> list[dict[str, Any]]:
    """The before and after rows of one direction (percent)."""
    classes = mapping(src.name, target)
    _, feats, want = queries(target, classes)
    y = np.array([src.dataset.classes.index(c) for c in want])
    views = {"image": image_only(feats), "image+title": title_only(feats)}
    labels = np.array(src.dataset.labels())
    out = []
    for when in ("before", "after"):
        row: dict[str, Any] = {"direction": f"{src.name} -> {target}", "": when, "n": len(want)}
        for kind, f in views.items():
            model = src.classifier if when == "before" else src.candidates[src.chosen[kind]]
            p = model.predict_proba(f)
            row[f"tag top-1 {kind}"] = 100 * topk_accuracy(p, y, 1)
            row[f"tag top-5 {kind}"] = 100 * topk_accuracy(p, y, 5)
        weight = 1.0 if when == "before" else src.blend
        near = similar_rows(src, views["image"], weight, 10)
        row["similar P@10"] = 100 * float((labels[near] == y[:, None]).mean())
        out.append(row)
    return out


CASES = (  # issue 15's uploads from outside the collection: openclipart against tuxpaint
    "food/fruit/cartoon_apple_k_yager_01.svg",
    "animals/turtle_jurgen_gaeremyn_01.svg",
    "animals/red-eye_frog_mirko_maisc_01.svg",
)


def draw_cases(src: Trained, target: str, out: Path) -> list[Path]:
    """One PNG per case: the query, its tags and its 6 most similar source items, before
    (top row) and after (bottom row)."""
    from pictext.core.figures import figure, save_png
    from pictext.data import load_dataset
    from pictext.data.images import load_image

    tds = load_dataset(target)
    by_id = {it.id: it for it in tds.items}
    paths = []
    for case in CASES:
        item = by_id[case]
        f = image_only(embed_dataset(tds.subset([tds.items.index(item)]), progress=False))
        fig, axes = figure(2, 8, figsize=(15, 4.6), squeeze=False)
        for i, when in enumerate(("before", "after")):
            model = src.classifier if when == "before" else src.candidates[src.chosen["image"]]
            p = model.predict_proba(f)[0]
            top = np.argsort(-p)[:3]
            tags = "\n".join(f"{src.dataset.classes[j]} {p[j]:.2f}" for j in top)
            weight = 1.0 if when == "before" else src.blend
            near = similar_rows(src, f, weight, 6)[0]
            for ax in axes[i]:
                ax.axis("off")
            axes[i, 0].imshow(load_image(item, 128))
            axes[i, 0].set_title(f"{when}: {item.title}", fontsize=8)
            axes[i, 1].text(0, 0.5, "tags:\n" + tags, fontsize=9, va="center")
            for j, r in enumerate(near):
                it = src.dataset.items[int(r)]
                axes[i, 2 + j].imshow(load_image(it, 128))
                axes[i, 2 + j].set_title(f"{it.title[:18]}\n({it.label})", fontsize=7)
        name = Path(case).stem
        fig.suptitle(f"{target} {case} queried against {src.name} (image only)", fontsize=10)
        paths.append(save_png(fig, out / f"case_{name}.png"))
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--pairs", default="tuxpaint:openclipart,openclipart:tuxpaint")
    ap.add_argument("--rank-epochs", type=int, default=defaults.RANK_EPOCHS)
    ap.add_argument("--members", type=int, default=3, help="seed-ensemble candidate size")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--grid", type=Path, default=None, help="folder for the case PNGs")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    results = []
    trained: dict[str, Trained] = {}
    console = Console(width=200)
    for pair in args.pairs.split(","):
        src, dst = pair.split(":")
        if src not in trained:
            trained[src] = t = train_source(src, args.rank_epochs, args.members)
            console.print(
                f"{src} validation: tag top-1 {t.val_scores} -> {t.chosen}; "
                f"index P@10 by head weight {t.blend_scores} -> {t.blend}"
            )
        results += direction(trained[src], dst)
        if args.grid is not None and (src, dst) == ("tuxpaint", "openclipart"):
            for path in draw_cases(trained[src], dst, args.grid):
                console.print(f"wrote {path}")
    table = Table(title="cross-collection: train on one, query with the other's images (%)")
    for col in results[0]:
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(*(f"{v:.1f}" if isinstance(v, float) else str(v) for v in r.values()))
    console.print(table)


if __name__ == "__main__":
    main()
