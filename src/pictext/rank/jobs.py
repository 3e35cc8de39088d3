"""The rank jobs beside :mod:`pictext.rank.runs` (train, evaluate): build an index, compare
the diversity selectors. A config in, a result out; the command line parses, calls, prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pictext.core import defaults
from pictext.encoders.registry import EncoderVersionError

if TYPE_CHECKING:
    from pictext.rank.head import RankingHead
    from pictext.rank.index import SearchIndex

TITLE_CHARS = 80  # a result line shows the title, else this much of the description


@dataclass
class IndexConfig:
    """What ``pictext index build`` indexes and how."""

    dataset: str
    head: Path | None = None  # ranking head folder; None: the raw embedding
    backend: str = "exact"  # exact, hnsw or ivf
    metric: str = "cosine"  # cosine or l2
    text: bool = True  # keep text embeddings for text queries
    image_encoder: str = defaults.IMAGE_ENCODER  # of a raw index (a head's recorded one wins)
    text_encoder: str = defaults.TEXT_ENCODER  # of text search (a head's recorded one wins)
    threads: int = 1


def index_encoders(
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


def build_index(cfg: IndexConfig) -> SearchIndex:
    """Embed the dataset (cached) with the towers the head recorded and build its index.

    Raises:
        EncoderVersionError: the installed encoders differ from the head's (retrain it).
    """
    from pictext.data import load_dataset
    from pictext.rank.ann import AnnParams
    from pictext.rank.head import RankingHead
    from pictext.rank.index import SearchIndex
    from pictext.store import embed_dataset

    ds = load_dataset(cfg.dataset)
    rh = RankingHead.load(cfg.head) if cfg.head is not None else None
    image, text = index_encoders(rh, cfg.text, cfg.image_encoder, cfg.text_encoder)
    try:
        feats = embed_dataset(ds, image, text)
    except EncoderVersionError as err:
        raise EncoderVersionError(
            f"the ranking head was {err}; retrain it", err.recorded, err.found
        ) from None
    return SearchIndex.build(
        feats,
        head=rh,
        labels=[it.label for it in ds.items],
        titles=[it.title or it.description[:TITLE_CHARS] for it in ds.items],
        dataset=cfg.dataset,
        metric=cfg.metric,
        backend=cfg.backend,
        ann_params=AnnParams(threads=cfg.threads),
        with_text=cfg.text,
    )


def default_index_folder(index: SearchIndex, dataset: str, root: Path) -> Path:
    """Where ``index build`` saves without ``--out``: ``root/<dataset>-<space>-<backend>``."""
    return root / f"{Path(dataset).name}-{index.manifest.space}-{index.manifest.backend}"


@dataclass
class DiversityResult:
    """Selectors (MMR, k-center, DPP) against kNN over random one-class histories."""

    users: int
    history: int
    k: int
    pool: int
    sweep: list[dict[str, Any]]
    matched: list[dict[str, Any]]

    def describe(self) -> str:
        """The sweep and the matched-relevance tables, in Markdown."""
        from pictext.core.tables import markdown_table

        return "\n".join(
            [
                f"{self.users} users, history {self.history} items of one class, "
                f"k={self.k}, pool={self.pool}",
                markdown_table(self.sweep),
                "\nat matched relevance: kNN lists at ranks offset+1..offset+k vs each "
                "selector interpolated along its lambda sweep:",
                markdown_table(self.matched),
            ]
        )


def diversity(
    index: SearchIndex,
    *,
    users: int = 200,
    history: int = 5,
    k: int = defaults.SEARCH_K,
    pool: int = defaults.POOL,
    seed: int = 0,
) -> DiversityResult:
    """Relevance, intra-list distance and class coverage of each selector on ``index``."""
    import numpy as np

    from pictext.core.vectors import unit_rows
    from pictext.rank.evaluate import diversity_sweep, matched_table, random_histories

    names = sorted({lab for lab in index.labels if lab is not None})
    labels = np.array([names.index(lab) if lab is not None else -1 for lab in index.labels])
    hist = random_histories(labels, users, history, seed)
    sweep = diversity_sweep(unit_rows(index.vectors), labels, hist, k=k, pool=pool)
    return DiversityResult(len(hist), history, k, pool, sweep, matched_table(sweep))
