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

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pictext.cli.models import check_encoder_names, current_index_file, open_index
from pictext.core import defaults
from pictext.core.atomic import atomic_write_text
from pictext.core.errors import UsageError
from pictext.core.limits import check_k
from pictext.encoders.registry import EncoderVersionError

if TYPE_CHECKING:
    from pictext.rank.divergent import Divergence
    from pictext.rank.head import RankingHead
    from pictext.rank.queries import QueryAnswer

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
    import torch

    torch.set_num_threads(n)


@rank_app.command("train")
def rank_train(
    dataset: Annotated[str, typer.Argument(help="Dataset name or path.")],
    out: Annotated[Path, typer.Option(help="Run directory (head/ and run.json).")] = Path(
        "runs/rank"
    ),
    embed_dim: int = 4096,
    margin: float = 1.0,
    out_of_class_frac: float = 0.2,
    hard_negatives: bool = True,
    in_class: Annotated[
        str,
        typer.Option(
            help="auto/fine: fine-label in-class negatives when the data has them; hard: mined."
        ),
    ] = "auto",
    use_text: bool = False,
    epochs: int = defaults.RANK_EPOCHS,
    lr: float = 1e-4,
    batch_size: int = 256,
    seed: int = defaults.SPLIT_SEED,
    holdout: float = defaults.RANK_HOLDOUT,
    threads: Annotated[int, typer.Option(help="torch threads.")] = 1,
) -> None:
    """Train a ranking head on the train split of DATASET."""
    from pictext.rank.runs import RunSpec, train

    _threads(threads)
    spec = RunSpec(
        dataset, holdout, seed, text_encoder="use" if use_text else None, in_class=in_class
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
    head = train(out, spec, params)
    for row in head.history:
        typer.echo(
            f"epoch {row['epoch']:3d}  loss {row['loss']:.4f}  "
            f"val triplet acc {row['val_triplet_acc']:.4f} (raw {row['raw_val_triplet_acc']:.4f})"
        )
    typer.echo(f"saved {out / 'head'}")


@rank_app.command("evaluate")
def rank_evaluate(
    run: Annotated[Path, typer.Argument(help="Run directory from `pictext rank train`.")],
    grid_queries: int = 4,
    map_method: Annotated[str, typer.Option(help="tsne or pca.")] = "tsne",
    threads: int = 1,
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
    _print_table(report["table"])
    typer.echo(
        f"wrote {run / 'report.json'}, {run / 'retrieval_grid.png'}, {run / 'ranking_map.png'}"
    )


@rank_app.command("diversity")
def rank_diversity(
    index: IndexOpt = None,
    users: int = 200,
    history: int = 5,
    k: int = 10,
    pool: int = 200,
    seed: int = 0,
) -> None:
    """Selectors (MMR, k-center, DPP) vs kNN: relevance, intra-list distance, class coverage."""
    import numpy as np

    from pictext.core.vectors import unit_rows
    from pictext.rank.evaluate import diversity_sweep, matched_table, random_histories

    ix = open_index(index)
    names = sorted({lab for lab in ix.labels if lab is not None})
    labels = np.array([names.index(lab) if lab is not None else -1 for lab in ix.labels])
    hist = random_histories(labels, users, history, seed)
    sweep = diversity_sweep(unit_rows(ix.vectors), labels, hist, k=k, pool=pool)
    typer.echo(f"{len(hist)} users, history {history} items of one class, k={k}, pool={pool}")
    _print_table(sweep)
    typer.echo(
        "\nat matched relevance: kNN lists at ranks offset+1..offset+k vs each selector "
        "interpolated along its lambda sweep:"
    )
    _print_table(matched_table(sweep))


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
    threads: int = 1,
) -> None:
    """Embed DATASET (cached) and build its search index.

    The encoders are the ones the ranking head recorded (checked against the installed
    versions); a raw index uses the default towers. The index becomes the current one
    (the pointer lives in the cache, ``$PICTEXT_CACHE/index/CURRENT``) unless --no-current.
    """
    from pictext.core.paths import cache_dir
    from pictext.data import load_dataset
    from pictext.rank.ann import AnnParams
    from pictext.rank.head import RankingHead
    from pictext.rank.index import SearchIndex
    from pictext.store import embed_dataset

    check_encoder_names(image_encoder, text_encoder)
    _threads(threads)
    ds = load_dataset(dataset)
    rh = RankingHead.load(head) if head is not None else None
    image_encoder, text_encoder = _index_encoders(rh, text, image_encoder, text_encoder)
    try:
        feats = embed_dataset(ds, image_encoder, text_encoder)
    except EncoderVersionError as err:
        raise EncoderVersionError(
            f"the ranking head was {err}; retrain it", err.recorded, err.found
        ) from None
    ix = SearchIndex.build(
        feats,
        head=rh,
        labels=[it.label for it in ds.items],
        titles=[it.title or it.description[:_TITLE_CHARS] for it in ds.items],
        dataset=dataset,
        metric=metric,
        backend=backend,
        ann_params=AnnParams(threads=threads),
        with_text=text,
    )
    backend = ix.manifest.backend
    target = out or cache_dir("index") / f"{Path(dataset).name}-{ix.manifest.space}-{backend}"
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


_TITLE_CHARS = 80  # a result line shows the title, else this much of the description


def _index_encoders(
    head: RankingHead | None, text: bool, image_encoder: str, text_encoder: str
) -> tuple[str, str | None]:
    """``(image, text)`` towers of an index: the head's recorded ones, else the ones asked for.

    The head's text tower is embedded whenever the head reads text; otherwise text is
    embedded (for text search) only when asked.
    """
    if head is None or head.spec is None:
        return image_encoder, text_encoder if text else None
    image = head.spec.image_encoder or image_encoder
    if head.spec.text_encoder:
        return image, head.spec.text_encoder
    return image, text_encoder if text else None


def _show(answer: QueryAnswer, title: str, as_json: bool) -> None:
    """Print an answer: which index, how the query was read, what d means, then the hits."""
    import json

    if as_json:
        typer.echo(json.dumps(answer.to_dict()))
        return
    index = answer.index
    where = index["path"] or "an index built in memory"
    typer.echo(
        f"index: {where} ({index['items']} items, {index['space']} space, {index['metric']})"
    )
    if answer.kind == "history":
        typer.echo(f"history: {answer.query} ({answer.how})")
    else:
        typer.echo(f"query: {answer.query!r} read as {answer.how}")
    typer.echo(answer.distance)
    typer.echo(title)
    if not answer.hits:
        typer.echo("  no results")
    for i, h in enumerate(answer.hits, 1):
        line = f"{i:3d}  {h.id:40s}  {h.label or '-':20s}  d={h.distance:.4f}  {h.title}"
        typer.echo(line.rstrip())


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
KOpt = Annotated[int, typer.Option("-k", help=f"Results (1 to {defaults.MAX_K}).")]
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


def similar(
    query: QueryArg,
    k: KOpt = 5,
    index: IndexOpt = None,
    text: TextOpt = False,
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
        from pictext.cli.caption import run_caption_search

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
    answer = _search(query, k, index, farthest=False, text=text)
    _show(answer, f"most similar to {query!r}:", as_json)


def divergent(
    query: QueryArg,
    k: KOpt = 5,
    index: IndexOpt = None,
    text: TextOpt = False,
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
        from pictext.cli.caption import run_caption_search

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
    answer = _search(query, k, index, farthest=True, text=text, divergence=div)
    _show(answer, f"most divergent from {query!r} ({div.describe()}):", as_json)


def _divergence(mode: str, spread: float, quantile: float) -> Divergence:
    from pictext.rank.divergent import Divergence

    try:
        return Divergence(mode, spread, quantile)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None


def _search(
    query: str,
    k: int,
    index: Path | None,
    *,
    farthest: bool,
    text: bool,
    divergence: Divergence | None = None,
) -> QueryAnswer:
    """Resolve and answer a query string (a refusal is a PictextError: one line, exit 1)."""
    from pictext.rank import queries

    ix = open_index(index)
    return queries.answer(ix, query, k, farthest=farthest, text=text, divergence=divergence)


def recommend(
    history: Annotated[list[str], typer.Option("--history", help="A seen item id (repeat).")],
    k: Annotated[int, typer.Option("-k", help=f"List length (1 to {defaults.MAX_K}).")] = 10,
    method: Annotated[str, typer.Option(help="knn, mmr, kcenter or dpp.")] = "mmr",
    lambda_: Annotated[
        float, typer.Option("--lambda", help="1 = pure relevance, 0 = max diversity.")
    ] = 0.5,
    pool: int = 200,
    index: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Items relevant to a user's history yet diverse."""
    from pictext.rank.queries import check_recommend, recommend_answer

    check_k(k, name="-k")
    check_recommend(k, method=method, lambda_=lambda_, pool=pool)
    ix = open_index(index)
    answer = recommend_answer(ix, history, k, method=method, lambda_=lambda_, pool=pool)
    _show(answer, f"{method} (lambda={lambda_}) for history {history}:", as_json)


def _print_table(rows: list[dict]) -> None:
    from pictext.report import markdown_table

    typer.echo(markdown_table(rows))
