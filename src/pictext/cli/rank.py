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

from pictext.cli.errors import refuse_unreadable
from pictext.core import defaults
from pictext.core.atomic import atomic_write_text
from pictext.encoders.registry import EncoderVersionError
from pictext.store.failures import UnreadableItemsError

if TYPE_CHECKING:
    from pictext.rank.divergent import Divergence
    from pictext.rank.head import RankingHead
    from pictext.rank.index import Hit

rank_app = typer.Typer(
    help="Train and evaluate the triplet-loss ranking head.", no_args_is_help=True
)
index_app = typer.Typer(help="Build a search index over a dataset.", no_args_is_help=True)

IndexOpt = Annotated[
    Path | None, typer.Option("--index", help="Index directory (default: the last one built).")
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


def _current_file() -> Path:
    from pictext.core.paths import cache_dir

    return cache_dir("index") / "CURRENT"


def _open_index(path: Path | None):
    from pictext.rank.index import SearchIndex

    if path is None:
        current = _current_file()
        if not current.exists():
            raise typer.BadParameter("no index built yet: run `pictext index build DATASET`")
        path = Path(current.read_text().strip())
    return SearchIndex.load(path)


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

    from pictext.rank.evaluate import diversity_sweep, matched_table, random_histories, unit_rows

    ix = _open_index(index)
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
    backend: Annotated[str, typer.Option(help="exact, hnsw or ivf.")] = "exact",
    metric: Annotated[str, typer.Option(help="cosine or l2.")] = "cosine",
    text: Annotated[bool, typer.Option(help="Keep text embeddings for text queries.")] = True,
    out: Annotated[Path | None, typer.Option(help="Index directory.")] = None,
    threads: int = 1,
) -> None:
    """Embed DATASET (cached) and build its search index.

    The encoders are the ones the ranking head recorded (checked against the installed
    versions); a raw index uses the default towers.
    """
    from pictext.core.paths import cache_dir
    from pictext.data import load_dataset
    from pictext.rank.ann import AnnParams
    from pictext.rank.head import RankingHead
    from pictext.rank.index import SearchIndex
    from pictext.store import embed_dataset

    _threads(threads)
    ds = load_dataset(dataset)
    rh = RankingHead.load(head) if head is not None else None
    image_encoder, text_encoder = _index_encoders(rh, text)
    try:
        feats = embed_dataset(ds, image_encoder, text_encoder)
    except EncoderVersionError as err:
        raise typer.BadParameter(f"the ranking head was {err}; retrain it") from None
    ix = SearchIndex.build(
        feats,
        head=rh,
        labels=[it.label for it in ds.items],
        dataset=dataset,
        metric=metric,
        backend=backend,
        ann_params=AnnParams(threads=threads),
        with_text=text,
    )
    target = out or cache_dir("index") / f"{Path(dataset).name}-{ix.manifest.space}-{backend}"
    ix.save(target)
    atomic_write_text(_current_file(), str(target.resolve()))
    typer.echo(f"indexed {len(ix)} items ({ix.manifest.space}, {metric}, {backend}) -> {target}")


def _index_encoders(head: RankingHead | None, text: bool) -> tuple[str, str | None]:
    """``(image, text)`` towers of an index: the head's recorded ones, else the defaults.

    The head's text tower is embedded whenever the head reads text; otherwise text is
    embedded (for text search) only when asked.
    """
    from pictext.core.defaults import IMAGE_ENCODER, TEXT_ENCODER

    if head is None or head.spec is None:
        return IMAGE_ENCODER, TEXT_ENCODER if text else None
    image = head.spec.image_encoder or IMAGE_ENCODER
    if head.spec.text_encoder:
        return image, head.spec.text_encoder
    return image, TEXT_ENCODER if text else None


def _show(hits: list, title: str) -> None:
    typer.echo(title)
    for i, h in enumerate(hits, 1):
        typer.echo(f"{i:3d}  {h.id:40s}  {h.label or '-':20s}  d={h.distance:.4f}")


ByOpt = Annotated[str, typer.Option("--by", help="image (the index) or caption.")]
CaptionerOpt = Annotated[Path | None, typer.Option("--model", help="Captioner (--by caption).")]
CollectionOpt = Annotated[str | None, typer.Option(help="Collection (--by caption).")]


def _by(by: str) -> str:
    if by not in ("image", "caption"):
        raise typer.BadParameter(f"--by must be 'image' or 'caption', not {by!r}")
    return by


def similar(
    query: Annotated[
        str, typer.Argument(help="Item id, image file, or text (id:/file:/text: forces).")
    ],
    k: Annotated[int, typer.Option("-k", help="Results.")] = 5,
    index: IndexOpt = None,
    by: ByOpt = "image",
    model: CaptionerOpt = None,
    dataset: CollectionOpt = None,
    min_cosine: Annotated[
        float, typer.Option(help="--by caption: similar at or above.")
    ] = defaults.CAPTION_SIMILAR,
) -> None:
    """The K items most similar to QUERY (by the index, or by caption similarity)."""
    if _by(by) == "caption":
        from pictext.cli.caption import run_caption_search

        run_caption_search(
            query, mode="similar", k=k, model=model, dataset=dataset, similar=min_cosine
        )
        return
    _show(_search(query, k, index, farthest=False), f"most similar to {query!r}:")


def divergent(
    query: Annotated[
        str, typer.Argument(help="Item id, image file, or text (id:/file:/text: forces).")
    ],
    k: Annotated[int, typer.Option("-k", help="Results.")] = 5,
    index: IndexOpt = None,
    by: ByOpt = "image",
    model: CaptionerOpt = None,
    dataset: CollectionOpt = None,
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
        )
        return
    div = _divergence(mode, spread, quantile)
    hits = _search(query, k, index, farthest=True, divergence=div)
    _show(hits, f"most divergent from {query!r} ({div.describe()}):")


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
    divergence: Divergence | None = None,
) -> list[Hit]:
    """Resolve and answer a query string; an unreadable image file is a one-line error."""
    from pictext.rank import queries

    ix = _open_index(index)
    try:
        return queries.search(ix, query, k, farthest=farthest, divergence=divergence)
    except UnreadableItemsError as err:
        refuse_unreadable(err)


def recommend(
    history: Annotated[list[str], typer.Option("--history", help="A seen item id (repeat).")],
    k: Annotated[int, typer.Option("-k", help="List length.")] = 10,
    method: Annotated[str, typer.Option(help="knn, mmr, kcenter or dpp.")] = "mmr",
    lambda_: Annotated[
        float, typer.Option("--lambda", help="1 = pure relevance, 0 = max diversity.")
    ] = 0.5,
    pool: int = 200,
    index: IndexOpt = None,
) -> None:
    """Items relevant to a user's history yet diverse."""
    ix = _open_index(index)
    hits = ix.recommend(history, k, lambda_=lambda_, method=method, pool=pool)
    _show(hits, f"{method} (lambda={lambda_}) for history {history}:")


def _print_table(rows: list[dict]) -> None:
    from pictext.report import markdown_table

    typer.echo(markdown_table(rows))
