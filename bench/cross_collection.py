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
index's blend of head and raw space, rank/space.py; and each head and the ranking head again
on every image variant of ``--variants``, see :data:`VARIANTS`: crop to content, test-time
flip, flipped training rows). The target side is never used to choose anything: it is the
test. ``--table3-val`` also prints Table 3's seed-0 validation top-1 (image-only and fusion
heads) per variant on tuxpaint and openclipart with label words stripped.
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
from pictext.classify.fusion import FusionClassifier, FusionConfig
from pictext.classify.metrics import topk_accuracy
from pictext.classify.runs import load_labelled, train_fusion
from pictext.classify.table3 import classify_split
from pictext.core import defaults
from pictext.data.split import split_dataset
from pictext.rank.head import RankingHead
from pictext.rank.space import blend_space, choose_blend
from pictext.store import embed_dataset
from pictext.store.features import Features
from pictext.store.inputs import IMAGE_ONLY, drop_inputs

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


@dataclass(frozen=True)
class Variant:
    """How the image side is embedded and trained on (the encoder's ``crop`` and ``views``)."""

    crop: bool = False  # crop to content before padding (encoder option ``crop=True``)
    tta: bool = False  # every vector the mean of the identity and flipped view (encoder
    # option ``views=("identity", "flip")``)
    flip_rows: bool = False  # the flipped view of each training row added as a row (same
    # label and text); validation, test and queries keep the identity view


VARIANTS: dict[str, Variant] = {
    "plain": Variant(),
    "tta": Variant(tta=True),
    "flip rows": Variant(flip_rows=True),
    "crop": Variant(crop=True),
    "crop+tta": Variant(crop=True, tta=True),
    "crop+flip rows": Variant(crop=True, flip_rows=True),
}


def view_features(ds: Any, crop: bool, view: str) -> Features:
    """Default towers' embeddings of ``ds`` with the image tower on one view (cached)."""
    from pictext.encoders import create_encoder

    image = create_encoder(defaults.IMAGE_ENCODER, crop=crop, views=(view,), threads=1)
    return embed_dataset(ds, image, defaults.TEXT_ENCODER, progress=False)


def variant_features(ds: Any, variant: Variant) -> tuple[Features, Features | None]:
    """``(features, flipped)`` of ``ds`` under a variant; ``flipped`` (the flip view's
    features, for training rows) only for ``flip_rows``.

    The test-time mean is taken here over the two single-view caches: the encoder with
    ``views=("identity", "flip")`` computes the same mean (tests/encoders/test_views.py), and
    the flip-only vectors serve the flipped training rows too.
    """
    feats = view_features(ds, variant.crop, "identity")
    if not (variant.tta or variant.flip_rows):
        return feats, None
    flipped = view_features(ds, variant.crop, "flip")
    if variant.flip_rows:
        return feats, flipped
    if feats.image is None or flipped.image is None:
        raise SystemExit(f"{ds.name}: no image embeddings to average")
    feats.image = (feats.image + flipped.image) / np.float32(2)
    if feats.image_mask is not None and flipped.image_mask is not None:
        feats.image_mask = feats.image_mask & flipped.image_mask
        feats.image[~feats.image_mask] = 0
    return feats, None


def stack_rows(a: Features, b: Features) -> Features:
    """The rows of ``a`` then those of ``b`` (same inputs and encoders)."""
    cat = np.concatenate
    return Features(
        ids=a.ids + b.ids,
        image=None if a.image is None or b.image is None else cat([a.image, b.image]),
        image_mask=None
        if a.image_mask is None or b.image_mask is None
        else cat([a.image_mask, b.image_mask]),
        text={k: cat([v, b.text[k]]) for k, v in a.text.items()},
        text_mask={k: cat([v, b.text_mask[k]]) for k, v in a.text_mask.items()},
        image_encoder=a.image_encoder,
        text_encoder=a.text_encoder,
    )


def training_rows(
    feats: Features, flipped: Features | None, y: np.ndarray, rows: np.ndarray
) -> tuple[Features, np.ndarray]:
    """The training rows (with their flipped copies when ``flipped`` is given) and labels."""
    train, labels = feats.subset(rows), y[rows]
    if flipped is None:
        return train, labels
    return stack_rows(train, flipped.subset(rows)), np.concatenate([labels, labels])


def fit_head(
    ds: Any, feats: Features, flipped: Features | None, split: Any, config: FusionConfig
) -> FusionClassifier:
    """A fusion head as :func:`~pictext.classify.runs.train_fusion` trains one (early stopping
    and temperature on validation), on the variant's training rows."""
    y = ds.labels()
    s = split.rows([it.id for it in ds.items])
    train, y_train = training_rows(feats, flipped, y, s.train)
    val = feats.subset(s.val)
    clf = FusionClassifier(config).fit(train, y_train, val, y[s.val], classes=ds.classes)
    clf.calibrate(val, y[s.val])
    return clf


@dataclass
class Trained:
    """A source collection with its models, before and after (chosen on its validation)."""

    name: str
    dataset: Any
    features: Any
    classifier: Any  # the default fusion head (before)
    candidates: dict[str, Any]  # name -> tag model tried
    candidate_variant: dict[str, str]  # name -> the variant whose features it reads
    variant_feats: dict[str, Features]  # variant -> the source's features (query side)
    chosen: dict[str, str]  # query kind ("image", "image+title") -> chosen candidate
    val_scores: dict[str, dict[str, float]]  # query kind -> candidate -> validation top-1
    head: Any  # the ranking head of the default (plain) variant (before)
    blend: float  # head weight of the index space chosen on validation (plain variant)
    blend_scores: dict[float, float]  # validation P@10 per weight (plain variant)
    rank_heads: dict[str, tuple[Any, float]]  # variant -> (ranking head, chosen weight)
    rank_scores: dict[str, float]  # variant -> validation P@10 at its chosen weight
    rank_chosen: str  # the variant of the "after" index


def mapping(source: str, target: str) -> dict[str, str]:
    """Target class -> source class for a pair of packaged collections."""
    pairs = {("tuxpaint", "openclipart"): TUX_TO_OPENCLIPART}
    if (source, target) in pairs:
        return {v: k for k, v in pairs[(source, target)].items()}
    if (target, source) in pairs:
        return dict(pairs[(target, source)])
    raise SystemExit(f"no class mapping between {source} and {target}")


def train_source(name: str, rank_epochs: int, members: int, variants: list[str]) -> Trained:
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
    candidate_variant = dict.fromkeys(candidates, "plain")
    variant_feats, flips = {"plain": feats}, {}
    for v in variants:
        if v == "plain":
            continue
        variant_feats[v], flips[v] = variant_features(ds, VARIANTS[v])
        for cand, inputs in (("fusion", FusionConfig().inputs), ("image head", IMAGE_ONLY)):
            config = FusionConfig(inputs=inputs, seed=defaults.SPLIT_SEED)
            candidates[f"{v}: {cand}"] = fit_head(ds, variant_feats[v], flips[v], split, config)
            candidate_variant[f"{v}: {cand}"] = v
    val_scores: dict[str, dict[str, float]] = {}
    chosen: dict[str, str] = {}
    for kind, view in (("image", image_only), ("image+title", title_only)):
        val_scores[kind] = {
            c: 100
            * topk_accuracy(
                m.predict_proba(view(variant_feats[candidate_variant[c]].subset(val))), y[val], 1
            )
            for c, m in candidates.items()
            if kind == "image" or "image head" not in c
        }
        best = max(val_scores[kind].values())
        chosen[kind] = next(c for c, v in val_scores[kind].items() if v == best)  # ties: first
    rsplit = split_dataset(ds, holdout=defaults.RANK_HOLDOUT, seed=defaults.SPLIT_SEED)
    rows = rsplit.rows([it.id for it in ds.items])
    rank_heads, rank_scores, blend_scores = {}, {}, {}
    for v in ["plain", *(v for v in variants if v != "plain")]:
        f = variant_feats[v]
        train, y_train = training_rows(f, flips.get(v), y, rows.train)
        head = RankingHead(progress=False, epochs=rank_epochs, seed=defaults.SPLIT_SEED)
        head.fit(
            train,
            y_train,
            classes=ds.classes,
            eval_features=f.subset(rows.val),
            eval_labels=y[rows.val],
        )
        # the index holds each source item once: validation queries against the plain rows
        weight, scores = choose_blend(
            head, f.subset(rows.train), y[rows.train], f.subset(rows.val), y[rows.val]
        )
        rank_heads[v], rank_scores[v] = (head, weight), 100 * scores[weight]
        blend_scores[v] = scores
    best_rank = max(rank_scores.values())
    rank_chosen = next(v for v, sc in rank_scores.items() if sc == best_rank)
    head, blend = rank_heads["plain"]
    return Trained(
        name,
        ds,
        feats,
        heads[0],
        candidates,
        candidate_variant,
        variant_feats,
        chosen,
        val_scores,
        head,
        blend,
        blend_scores["plain"],
        rank_heads,
        rank_scores,
        rank_chosen,
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


def index_space(head: Any, feats: Any, weight: float) -> np.ndarray:
    """Rows of ``feats`` in the index space: the head's output blended with the raw image
    (``weight`` 1: the head alone, what the index held before)."""
    return blend_space(head.transform(feats), np.asarray(feats.image, np.float32), weight)


def similar_rows(src: Trained, feats: Any, when: str, k: int) -> np.ndarray:
    """``[N, k]`` rows of the source nearest to each row of ``feats`` (cosine): the plain
    head alone ``before``; the chosen variant's head and weight ``after`` (``feats`` must be
    that variant's)."""
    from pictext.core.vectors import unit_rows
    from pictext.rank.ann import top_k_inner

    variant = "plain" if when == "before" else src.rank_chosen
    head, weight = (src.head, 1.0) if when == "before" else src.rank_heads[variant]
    rows, _ = top_k_inner(
        unit_rows(index_space(head, src.variant_feats[variant], weight)),
        unit_rows(index_space(head, feats, weight)),
        k,
    )
    return rows


def queries(target: str, classes: dict[str, str]) -> tuple[Any, list[str]]:
    """The target items whose class maps, and their mapped source class."""
    ds = load_labelled(target)
    keep = [i for i, it in enumerate(ds.items) if it.label in classes]
    sub = ds.subset(keep)
    return sub, [classes[it.label] for it in sub.items]


def query_views(src: Trained, ds: Any, when: str) -> dict[str, Any]:
    """Query features of ``ds`` per role: ``image`` / ``image+title`` (each for its tag
    model) and ``similar`` (for the index), in the variant each one reads."""
    cache: dict[str, Features] = {}

    def feats(variant: str) -> Features:
        if variant not in cache:
            cache[variant] = variant_features(ds, VARIANTS[variant])[0]
        return cache[variant]

    out = {}
    for kind, view in (("image", image_only), ("image+title", title_only)):
        cand = "fusion" if when == "before" else src.chosen[kind]
        out[kind] = view(feats(src.candidate_variant[cand]))
    out["similar"] = image_only(feats("plain" if when == "before" else src.rank_chosen))
    return out


def tag_model(src: Trained, kind: str, when: str) -> Any:
    """The tag model of a query kind: the default fusion head before, the chosen after."""
    return src.classifier if when == "before" else src.candidates[src.chosen[kind]]


def direction(src: Trained, target: str) -> list[dict[str, Any]]:
    """The before and after rows of one direction (percent)."""
    classes = mapping(src.name, target)
    ds, want = queries(target, classes)
    y = np.array([src.dataset.classes.index(c) for c in want])
    labels = np.array(src.dataset.labels())
    out = []
    for when in ("before", "after"):
        views = query_views(src, ds, when)
        row: dict[str, Any] = {"direction": f"{src.name} -> {target}", "": when, "n": len(want)}
        for kind in ("image", "image+title"):
            p = tag_model(src, kind, when).predict_proba(views[kind])
            row[f"tag top-1 {kind}"] = 100 * topk_accuracy(p, y, 1)
            row[f"tag top-5 {kind}"] = 100 * topk_accuracy(p, y, 5)
        near = similar_rows(src, views["similar"], when, 10)
        row["similar P@10"] = 100 * float((labels[near] == y[:, None]).mean())
        row["setting (image; image+title; index)"] = (
            "defaults"
            if when == "before"
            else f"{src.chosen['image']}; {src.chosen['image+title']}; {src.rank_chosen}"
        )
        out.append(row)
    return out


CASES = (  # issue 15's uploads from outside the collection: openclipart against tuxpaint
    "food/fruit/cartoon_apple_k_yager_01.svg",
    "animals/turtle_jurgen_gaeremyn_01.svg",
    "animals/red-eye_frog_mirko_maisc_01.svg",
)


def draw_cases(src: Trained, target: str, out: Path) -> list[Path]:
    """One PNG per case: the query (as the image tower sees it), its tags and its 6 most
    similar source items, before (top row) and after (bottom row)."""
    from pictext.core.figures import figure, save_png
    from pictext.data import load_dataset
    from pictext.data.images import load_image
    from pictext.encoders.preprocess import PreprocessConfig, pad_square_resize

    tds = load_dataset(target)
    by_id = {it.id: it for it in tds.items}
    paths = []
    for case in CASES:
        item = by_id[case]
        one = tds.subset([tds.items.index(item)])
        fig, axes = figure(2, 8, figsize=(15, 4.6), squeeze=False)
        for i, when in enumerate(("before", "after")):
            views = query_views(src, one, when)
            p = tag_model(src, "image", when).predict_proba(views["image"])[0]
            top = np.argsort(-p)[:3]
            tags = "\n".join(f"{src.dataset.classes[j]} {p[j]:.2f}" for j in top)
            near = similar_rows(src, views["similar"], when, 6)[0]
            for ax in axes[i]:
                ax.axis("off")
            # the query as the tag model's image tower sees it (cropped or not, padded)
            variant = "plain" if when == "before" else src.candidate_variant[src.chosen["image"]]
            preproc = PreprocessConfig(224, crop=VARIANTS[variant].crop)
            axes[i, 0].imshow(pad_square_resize(load_image(item, 224), preproc))
            setting = "" if when == "before" else f" ({src.chosen['image']}; {src.rank_chosen})"
            axes[i, 0].set_title(f"{when}{setting}:\n{item.title}", fontsize=7)
            axes[i, 1].text(0, 0.5, "tags:\n" + tags, fontsize=9, va="center")
            for j, r in enumerate(near):
                it = src.dataset.items[int(r)]
                axes[i, 2 + j].imshow(load_image(it, 128))
                axes[i, 2 + j].set_title(f"{it.title[:18]}\n({it.label})", fontsize=7)
        name = Path(case).stem
        fig.suptitle(f"{target} {case} queried against {src.name} (image only)", fontsize=10)
        paths.append(save_png(fig, out / f"case_{name}.png"))
    return paths


def table3_val(name: str, variants: list[str]) -> dict[str, dict[str, float]]:
    """Table 3's seed-0 validation top-1 (%) of its image-only and fusion heads per variant
    (``openclipart`` with label words stripped, as Table 3 reports it)."""
    from pictext.classify.table3 import Table3Config

    ds = load_labelled(name, strip_label_words=name == "openclipart")
    split = classify_split(ds, holdout=Table3Config().holdout, seed=0)
    val = split.rows([it.id for it in ds.items]).val
    heads = {"image-only": IMAGE_ONLY, "fusion": (*IMAGE_ONLY, *Table3Config().text_inputs)}
    out: dict[str, dict[str, float]] = {}
    for v in variants:
        feats, flipped = variant_features(ds, VARIANTS[v])
        out[v] = {}
        for row, inputs in heads.items():
            clf = fit_head(ds, feats, flipped, split, FusionConfig(inputs=inputs, seed=0))
            p = clf.predict_proba(feats.subset(val))
            out[v][row] = 100 * topk_accuracy(p, ds.labels()[val], 1)
    return out


def print_scores(console: Console, title: str, scores: dict[str, dict[str, float]]) -> None:
    """A rows x columns table of validation scores (%)."""
    cols = list(dict.fromkeys(c for r in scores.values() for c in r))
    table = Table(title=title)
    table.add_column("")
    for c in cols:
        table.add_column(c, justify="right")
    for r, vals in scores.items():
        table.add_row(r, *(f"{vals[c]:.1f}" if c in vals else "" for c in cols))
    console.print(table)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--pairs", default="tuxpaint:openclipart,openclipart:tuxpaint", help='"" for none'
    )
    ap.add_argument("--rank-epochs", type=int, default=defaults.RANK_EPOCHS)
    ap.add_argument("--members", type=int, default=3, help="seed-ensemble candidate size")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--grid", type=Path, default=None, help="folder for the case PNGs")
    ap.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"image variants among {list(VARIANTS)}"
    )
    ap.add_argument(
        "--table3-val", action="store_true", help="also Table 3 seed-0 validation per variant"
    )
    args = ap.parse_args()
    variants = args.variants.split(",")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {list(VARIANTS)}")
    import torch

    torch.set_num_threads(args.threads)
    console = Console(width=200)
    if args.table3_val:
        for name in ("tuxpaint", "openclipart"):
            print_scores(
                console,
                f"Table 3 seed-0 validation top-1, {name}"
                + (" (label words stripped)" if name == "openclipart" else "")
                + " (%)",
                table3_val(name, variants),
            )
    results: list[dict[str, Any]] = []
    trained: dict[str, Trained] = {}
    for pair in filter(None, args.pairs.split(",")):
        src, dst = pair.split(":")
        if src not in trained:
            trained[src] = t = train_source(src, args.rank_epochs, args.members, variants)
            by_kind = {
                c: {k: t.val_scores[k][c] for k in t.val_scores if c in t.val_scores[k]}
                for c in t.candidates
            }
            print_scores(console, f"{src} validation tag top-1 by candidate (%)", by_kind)
            console.print(
                f"{src}: chosen {t.chosen}; index validation P@10 by variant "
                f"{ {v: round(sc, 1) for v, sc in t.rank_scores.items()} } -> {t.rank_chosen} "
                f"(head weight {t.rank_heads[t.rank_chosen][1]})"
            )
        results += direction(trained[src], dst)
        print_results(console, results)  # after each direction: a long run shows its rows
        if args.grid is not None and (src, dst) == ("tuxpaint", "openclipart"):
            for path in draw_cases(trained[src], dst, args.grid):
                console.print(f"wrote {path}")


def print_results(console: Console, results: list[dict[str, Any]]) -> None:
    """The before/after table of the directions run so far."""
    table = Table(title="cross-collection: train on one, query with the other's images (%)")
    for col in results[0]:
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(*(f"{v:.1f}" if isinstance(v, float) else str(v) for v in r.values()))
    console.print(table)


if __name__ == "__main__":
    main()
