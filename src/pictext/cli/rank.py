"""CLI: ranking head, index, similar / divergent search and diverse recommendations.

pictext rank train DATASET --out RUN          triplet-loss ranking head on cached embeddings
pictext rank evaluate RUN                     head vs raw: triplet acc, score@30, mAP, pictures
pictext index build DATASET [--head RUN/head] exact (default) or FAISS index
pictext similar QUERY -k 5                    QUERY: item id, image file or text
pictext divergent QUERY -k 5 --spread 0.5   far and spread out; --mode farthest: the farthest
pictext recommend --history ID --history ID -k 10 --method mmr --lambda 0.5
pictext rank diversity INDEX                  selectors vs kNN: relevance, ILD, coverage
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pictext.bundle.parts import (
    bundle_dataset,
    check_encoder_names,
    current_index_file,
    index_path,
    open_index,
    open_model,
)
from pictext.cli.show import epoch_line, print_table, show_answer
from pictext.core import defaults
from pictext.core.atomic import atomic_write_text
from pictext.core.errors import NotFoundError, UsageError
from pictext.core.limits import check_k

if TYPE_CHECKING:
    from pictext.data.item import Item
    from pictext.rank.divergent import Divergence

rank_app = typer.Typer(
    help="Train and evaluate the triplet-loss ranking head.", no_args_is_help=True
)
index_app = typer.Typer(help="Build a search index over a dataset.", no_args_is_help=True)

IndexOpt = Annotated[
    Path | None,
    typer.Option(
        "--index", help="Index or bundle folder (default: the current index, see index build)."
    ),
]
ModeOpt = Annotated[
    str, typer.Option(help="diverse: far from QUERY and spread out; farthest: the farthest.")
]
SpreadOpt = Annotated[float, typer.Option(help="diverse: 0 = farthest first .. 1 = most spread.")]
QuantileOpt = Annotated[
    float, typer.Option(help="diverse: only items beyond this quantile of distance to QUERY.")
]


def register(app: typer.Typer) -> None:
    """Add this area's commands to the ``pictext`` app."""
    app.add_typer(rank_app, name="rank")
    app.add_typer(index_app, name="index")
    app.command()(similar)
    app.command()(divergent)
    app.command()(recommend)


def _threads(n: int) -> None:
    from pictext.core.threads import set_torch_threads

    set_torch_threads(n)


@rank_app.command("train")
def rank_train(
    dataset: Annotated[str, typer.Argument(help="Dataset name or path.")],
    out: Annotated[Path, typer.Option(help="Run directory (head/ and run.json).")] = Path(
        "runs/rank"
    ),
    embed_dim: Annotated[
        int, typer.Option(help="Size of the ranking head's output vectors.")
    ] = defaults.RANK_EMBED_DIM,
    margin: Annotated[float, typer.Option(help="Triplet loss margin.")] = defaults.RANK_MARGIN,
    out_of_class_frac: Annotated[
        float, typer.Option(help="Share of triplets whose negative is from another class.")
    ] = defaults.RANK_OUT_OF_CLASS_FRAC,
    hard_negatives: Annotated[
        bool, typer.Option(help="Mine hard negatives (the closest of another class).")
    ] = True,
    in_class: Annotated[
        str,
        typer.Option(
            help="auto/fine: fine-label in-class negatives when the data has them; hard: mined."
        ),
    ] = "auto",
    use_text: Annotated[
        bool, typer.Option(help="Feed the text embeddings to the head as well as the image.")
    ] = False,
    joint: Annotated[
        bool,
        typer.Option(
            help="The joint image-text space: the head reads image and text, trained with "
            "modality dropout and cross-modal alignment, settings chosen on validation."
        ),
    ] = False,
    pairs_from: Annotated[
        str,
        typer.Option(
            help="--joint: other collections (comma-separated) whose train-side image-text "
            "pairs join the alignment."
        ),
    ] = "",
    exclude: Annotated[
        list[Path] | None,
        typer.Option(help="An image file no model may see (repeat)."),
    ] = None,
    epochs: Annotated[
        int, typer.Option(help="Training epochs (the best on validation is kept).")
    ] = defaults.RANK_EPOCHS,
    lr: Annotated[float, typer.Option(help="Learning rate.")] = defaults.RANK_LR,
    batch_size: Annotated[int, typer.Option(help="Triplets per batch.")] = defaults.RANK_BATCH_SIZE,
    seed: Annotated[
        int, typer.Option(help="Random seed (split, initialisation, sampling).")
    ] = defaults.SPLIT_SEED,
    holdout: Annotated[
        float, typer.Option(help="Share of items held out, halved into validation and test.")
    ] = defaults.RANK_HOLDOUT,
    threads: Annotated[int, typer.Option(help="torch threads.")] = 1,
) -> None:
    """Train a ranking head on the train split of DATASET."""
    from pictext.rank.runs import RunSpec, train

    _threads(threads)
    use_text = use_text or joint
    spec = RunSpec(
        dataset,
        holdout,
        seed,
        text_encoder="use" if use_text else None,
        in_class=in_class,
        pairs_from=tuple(n.strip() for n in pairs_from.split(",") if n.strip()),
        exclude=tuple(str(p) for p in exclude or ()),
    )
    params = dict(
        embed_dim=embed_dim,
        margin=margin,
        out_of_class_frac=out_of_class_frac,
        hard_negatives=hard_negatives,
        use_text=use_text,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
    )
    head = train(out, spec, params, grid=defaults.RANK_JOINT_GRID if joint else ())
    for row in head.history:
        typer.echo(epoch_line(row))
    typer.echo(f"saved {out / 'head'}")


@rank_app.command("evaluate")
def rank_evaluate(
    run: Annotated[Path, typer.Argument(help="Run directory from `pictext rank train`.")],
    grid_queries: Annotated[int, typer.Option(help="Queries shown in the retrieval grid.")] = 4,
    map_method: Annotated[str, typer.Option(help="tsne or pca.")] = "tsne",
    threads: Annotated[int, typer.Option(help="torch threads (0: torch's default).")] = 1,
    mode: ModeOpt = defaults.DIVERGENT_MODE,
    spread: SpreadOpt = defaults.DIVERGENT_SPREAD,
    quantile: QuantileOpt = defaults.DIVERGENT_QUANTILE,
) -> None:
    """Head vs raw embedding on the test split: metrics table, grid and map PNGs."""
    from pictext.rank.runs import evaluate

    _threads(threads)
    div = _divergence(mode, spread, quantile)
    report = evaluate(run, grid_queries=grid_queries, map_method=map_method, divergence=div)
    typer.echo(f"{report['dataset']}: {report['n_test']} test items")
    print_table(report["table"])
    typer.echo(
        f"wrote {run / 'report.json'}, {run / 'retrieval_grid.png'}, {run / 'ranking_map.png'}"
    )


@rank_app.command("diversity")
def rank_diversity(
    index: IndexOpt = None,
    users: Annotated[int, typer.Option(help="Simulated users.")] = 200,
    history: Annotated[int, typer.Option(help="Items in each user's history.")] = 5,
    k: Annotated[int, typer.Option("-k", "--k", help="List length.")] = defaults.SEARCH_K,
    pool: Annotated[
        int, typer.Option(help="Candidates scored before the diverse list is chosen.")
    ] = defaults.POOL,
    seed: Annotated[int, typer.Option(help="Random seed (split, initialisation, sampling).")] = 0,
) -> None:
    """Selectors (MMR, k-center, DPP) vs kNN: relevance, intra-list distance, class coverage."""
    from pictext.rank.jobs import diversity

    found = diversity(open_index(index), users=users, history=history, k=k, pool=pool, seed=seed)
    typer.echo(found.describe())


@index_app.command("build")
def index_build(
    dataset: Annotated[str, typer.Argument(help="Dataset name or path.")],
    head: Annotated[
        Path | None, typer.Option(help="Ranking head dir; default raw embedding.")
    ] = None,
    backend: Annotated[
        str, typer.Option(help="exact, hnsw, ivf, or auto (exact for small collections).")
    ] = "auto",
    metric: Annotated[str, typer.Option(help="cosine or l2.")] = "cosine",
    text: Annotated[bool, typer.Option(help="Keep text embeddings for text queries.")] = True,
    out: Annotated[Path | None, typer.Option(help="Index directory.")] = None,
    image_encoder: Annotated[
        str, typer.Option(help="Image tower of a raw index (a head's recorded one wins).")
    ] = defaults.IMAGE_ENCODER,
    text_encoder: Annotated[
        str, typer.Option(help="Text tower of text search (a head's recorded one wins).")
    ] = defaults.TEXT_ENCODER,
    current: Annotated[
        bool,
        typer.Option(
            help="Make it the current index (what similar/divergent/recommend read "
            "without --index)."
        ),
    ] = True,
    threads: Annotated[int, typer.Option(help="torch threads (0: torch's default).")] = 1,
) -> None:
    """Embed DATASET (cached) and build its search index.

    The encoders are the ones the ranking head recorded (checked against the installed
    versions); a raw index uses the default towers. The index becomes the current one
    (the pointer lives in the cache, $PICTEXT_CACHE/index/CURRENT) unless --no-current.
    """
    from pictext.core.paths import cache_dir
    from pictext.rank.jobs import IndexConfig, build_index, default_index_folder

    check_encoder_names(image_encoder, text_encoder)
    _threads(threads)
    cfg = IndexConfig(
        dataset,
        head=head,
        backend=backend,
        metric=metric,
        text=text,
        image_encoder=image_encoder,
        text_encoder=text_encoder,
        threads=threads,
    )
    ix = build_index(cfg)
    target = out or default_index_folder(ix, dataset, cache_dir("index"))
    ix.save(target)
    typer.echo(f"indexed {len(ix)} items ({ix.manifest.space}, {metric}, {backend}) -> {target}")
    if (m := ix.manifest.measured) is not None:
        typer.echo(
            f"{backend} against exact on {m['queries']} items: similar recall@{m['k']} "
            f"{m['similar_recall']:.3f}; divergent ({m['divergent_mode']}) distance "
            f"{m['divergent_distance_ratio']:.3f} and classes {m['divergent_classes_ratio']:.3f}"
            " of exact"
        )
    if current:
        pointer = current_index_file()
        atomic_write_text(pointer, str(target.resolve()))
        typer.echo(f"current index: {target.resolve()} (recorded in {pointer})")


ByOpt = Annotated[str, typer.Option("--by", help="image (the index) or caption.")]
CaptionerOpt = Annotated[
    Path | None, typer.Option("--model", help="Captioner or bundle folder (--by caption).")
]
CollectionOpt = Annotated[
    str | None, typer.Option(help="Collection (--by caption; default: the bundle's).")
]
CaptionTextOpt = Annotated[
    str, typer.Option("--text-encoder", help="--by caption: encoder of caption similarity.")
]
KOpt = Annotated[int, typer.Option("-k", "--k", help=f"Results (1 to {defaults.MAX_K}).")]
TextOpt = Annotated[
    bool, typer.Option("--text", help="Read QUERY as a text, whatever it looks like.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object: index, query, hits.")]
QueryArg = Annotated[
    str,
    typer.Argument(
        help="Item id, image file, or text (id:/file:/text: forces). A word that reads as a "
        "file or an id but is neither is an error; use --text or text: to search it as text."
    ),
]


def _by(by: str) -> str:
    if by not in ("image", "caption"):
        raise UsageError(f"--by must be 'image' or 'caption', not {by!r}", item="--by")
    return by


TitleOpt = Annotated[
    str | None, typer.Option("--title", help="The query image's title (joint index).")
]
DescriptionOpt = Annotated[
    str | None, typer.Option("--description", help="The query image's description (joint index).")
]
TagsOpt = Annotated[
    str | None,
    typer.Option("--tags", help="The query image's tags, comma-separated (joint index)."),
]


def similar(
    query: QueryArg,
    k: KOpt = defaults.SEARCH_K,
    index: IndexOpt = None,
    text: TextOpt = False,
    title: TitleOpt = None,
    description: DescriptionOpt = None,
    tags: TagsOpt = None,
    as_json: JsonOpt = False,
    by: ByOpt = "image",
    model: CaptionerOpt = None,
    dataset: CollectionOpt = None,
    text_encoder: CaptionTextOpt = defaults.CAPTION_TEXT_ENCODER,
    min_cosine: Annotated[
        float, typer.Option(help="--by caption: similar at or above.")
    ] = defaults.CAPTION_SIMILAR,
) -> None:
    """The K items most similar to QUERY (by the index, or by caption similarity)."""
    check_k(k, name="-k")
    if _by(by) == "caption":
        run_caption_search(
            query,
            mode="similar",
            k=k,
            model=model,
            dataset=dataset,
            similar=min_cosine,
            text_encoder=text_encoder,
            as_json=as_json,
        )
        return
    target = _query(query, text, title, description, tags)
    answer = open_model(index_path(index), "index").similar(target, k, text=text)
    show_answer(answer, f"most similar to {query!r}:", as_json)


def divergent(
    query: QueryArg,
    k: KOpt = defaults.SEARCH_K,
    index: IndexOpt = None,
    text: TextOpt = False,
    title: TitleOpt = None,
    description: DescriptionOpt = None,
    tags: TagsOpt = None,
    as_json: JsonOpt = False,
    by: ByOpt = "image",
    model: CaptionerOpt = None,
    dataset: CollectionOpt = None,
    text_encoder: CaptionTextOpt = defaults.CAPTION_TEXT_ENCODER,
    low: Annotated[
        float, typer.Option(help="--by caption: divergent from this cosine.")
    ] = defaults.CAPTION_DIVERGENT_LOW,
    high: Annotated[
        float, typer.Option(help="--by caption: divergent up to this cosine.")
    ] = defaults.CAPTION_DIVERGENT_HIGH,
    mode: ModeOpt = defaults.DIVERGENT_MODE,
    spread: SpreadOpt = defaults.DIVERGENT_SPREAD,
    quantile: QuantileOpt = defaults.DIVERGENT_QUANTILE,
) -> None:
    """K items divergent from QUERY: far and spread out (diverse), or the farthest."""
    check_k(k, name="-k")
    if _by(by) == "caption":
        run_caption_search(
            query,
            mode="divergent",
            k=k,
            model=model,
            dataset=dataset,
            divergent_low=low,
            divergent_high=high,
            text_encoder=text_encoder,
            as_json=as_json,
        )
        return
    div = _divergence(mode, spread, quantile)
    model = open_model(index_path(index), "index")
    target = _query(query, text, title, description, tags)
    answer = model.divergent(target, k, divergence=div, text=text)
    show_answer(answer, f"most divergent from {query!r} ({div.describe()}):", as_json)


def _divergence(mode: str, spread: float, quantile: float) -> Divergence:
    from pictext.rank.divergent import Divergence

    try:
        return Divergence(mode, spread, quantile)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None


def _query(
    query: str, text: bool, title: str | None, description: str | None, tags: str | None
) -> str | Item:
    """QUERY as given, or with --title / --description / --tags the new item they describe:
    QUERY an image file, or (with --text) words that join the title."""
    from pictext.data.item import Item

    if title is None and description is None and tags is None:
        return query
    words = " ".join(p for p in ((query if text else ""), title or "") if p)
    image = None if text else query
    if image is not None and not Path(image).is_file():
        raise UsageError(
            f"{query!r}: with --title, --description or --tags, QUERY is an image file "
            "(or words, with --text)",
            item=query,
        )
    tag_list = tuple(t.strip() for t in (tags or "").split(",") if t.strip())
    return Item(query, image, title=words, description=description or "", tags=tag_list)


def recommend(
    history: Annotated[list[str], typer.Option("--history", help="A seen item id (repeat).")],
    k: Annotated[
        int, typer.Option("-k", "--k", help=f"List length (1 to {defaults.MAX_K}).")
    ] = defaults.SEARCH_K,
    method: Annotated[
        str, typer.Option(help="knn, mmr, kcenter or dpp.")
    ] = defaults.RECOMMEND_METHOD,
    lambda_: Annotated[
        float, typer.Option("--lambda", help="1 = pure relevance, 0 = max diversity.")
    ] = defaults.MMR_LAMBDA,
    pool: Annotated[
        int, typer.Option(help="Candidates scored before the diverse list is chosen.")
    ] = defaults.POOL,
    index: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Items relevant to a user's history yet diverse."""
    from pictext.rank.queries import check_recommend

    check_k(k, name="-k")
    check_recommend(k, method=method, lambda_=lambda_, pool=pool)
    model = open_model(index_path(index), "index")
    answer = model.recommend(history, k, method=method, lambda_=lambda_, pool=pool)
    show_answer(answer, f"{method} (lambda={lambda_}) for history {history}:", as_json)


def run_caption_search(
    query: str,
    *,
    mode: str,
    k: int,
    model: Path | None,
    dataset: str | None,
    similar: float = defaults.CAPTION_SIMILAR,
    divergent_low: float = defaults.CAPTION_DIVERGENT_LOW,
    divergent_high: float = defaults.CAPTION_DIVERGENT_HIGH,
    text_encoder: str = defaults.CAPTION_TEXT_ENCODER,
    as_json: bool = False,
) -> None:
    """Body of ``pictext similar|divergent QUERY --by caption``: search and print."""
    from pictext.caption import CaptionThresholds

    check_encoder_names(text_encoder)
    if model is None:
        raise UsageError("--by caption needs --model CAPTIONER_OR_BUNDLE", item="--model")
    dataset = dataset or bundle_dataset(model)
    if dataset is None:
        raise UsageError(
            "--by caption needs --dataset NAME (or a bundle that names its collection)",
            item="--dataset",
        )
    path = Path(query.removeprefix("file:"))
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "is no such file"
        raise NotFoundError(
            f"{path} {what}: --by caption needs an image file as QUERY", item=str(path)
        )
    th = CaptionThresholds(similar, divergent_low, divergent_high)
    found = open_model(model, "captioner", dataset=dataset)
    [got] = found.caption_search([path], k, text_encoder=text_encoder, thresholds=th)
    text, matches = got.caption, got.similar if mode == "similar" else got.divergent
    band = f">= {similar:.2f}" if mode == "similar" else f"{divergent_low:.2f}-{divergent_high:.2f}"
    meaning = f"cos = cosine of the generated captions' text embeddings ({mode}: {band})"
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "query": str(path),
                    "caption": text,
                    "model": str(model),
                    "dataset": dataset,
                    "distance": meaning,
                    "hits": [
                        {"rank": i, "id": m.id, "cosine": m.score, "caption": m.caption}
                        for i, m in enumerate(matches, 1)
                    ],
                }
            )
        )
        return
    typer.echo(f"captioner: {model}; collection: {dataset}")
    typer.echo(meaning)
    typer.echo(f"{path}: caption {text!r}; {mode} captions:")
    if not matches:
        typer.echo("  none in this band")
    for i, m in enumerate(matches, 1):
        typer.echo(f"{i:3d}  {m.id:40s}  cos={m.score:.3f}  {m.caption}")
