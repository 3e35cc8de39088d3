"""Class precision of caption-similarity retrieval against image-embedding retrieval.

Queries are the held-out images; the collection is the training side. A returned image is
relevant when it has the query's class (the report counted about 6 of 10 relevant).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.caption.bleu import nearest_rows
from pictext.caption.retrieval import (
    CaptionCollection,
    CaptionThresholds,
    caption_collection,
    caption_divergent,
    caption_similar,
)

if TYPE_CHECKING:
    from pictext.caption.registry import AnyCaptioner
    from pictext.encoders.base import TextEncoder
    from pictext.store.features import Features


def list_precision(
    query_labels: np.ndarray, lists: Sequence[Sequence[int]], labels: np.ndarray, k: int
) -> dict[str, float]:
    """Same-class statistics of result lists (collection row indices per query).

    Returns:
        ``precision``: same-class share of the returned images, averaged over queries that
        got any; ``hits_per_k``: same-class images / k averaged over all queries (an empty
        slot counts as a miss); ``coverage``: share of queries with at least one result;
        ``returned``: mean list length.
    """
    got = [np.asarray(lst, dtype=np.int64) for lst in lists]
    same = [
        float(np.mean(labels[g] == q)) for g, q in zip(got, query_labels, strict=True) if len(g)
    ]
    hits = [float(np.sum(labels[g] == q)) / k for g, q in zip(got, query_labels, strict=True)]
    return {
        "precision": float(np.mean(same)) if same else float("nan"),
        "hits_per_k": float(np.mean(hits)) if hits else float("nan"),
        "coverage": float(np.mean([len(g) > 0 for g in got])) if got else float("nan"),
        "returned": float(np.mean([len(g) for g in got])) if got else 0.0,
        "k": k,
    }


def caption_retrieval_rows(
    captioner: AnyCaptioner,
    name: str,
    feats: Features,
    labels: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    references: Sequence[str],
    text_encoder: TextEncoder,
    *,
    k: int = 10,
    thresholds: CaptionThresholds | None = None,
    cache_dir: str | None = None,
) -> list[dict[str, Any]]:
    """Similar and divergent lists by caption for every test image, scored by class.

    Two collections are tried: the training images' generated captions (what a deployed
    system has) and their reference captions (the text they came with).
    """
    th = thresholds or CaptionThresholds()
    ids = [feats.ids[int(i)] for i in train]
    pos = {item_id: j for j, item_id in enumerate(ids)}
    generated = caption_collection(
        captioner, ids, feats.image[train], text_encoder, cache_dir=cache_dir
    )
    ref_texts = [references[int(i)] for i in train]
    given = CaptionCollection(
        ids, ref_texts, text_encoder.encode(ref_texts), generated.text_encoder
    )
    q_caps = captioner.predict(feats.image[test])
    q_emb = np.asarray(text_encoder.encode(q_caps), dtype=np.float32)
    yq, yc = labels[test], labels[train]
    rows = []
    for coll_name, coll in (("generated", generated), ("reference", given)):
        sim = [
            [pos[m.id] for m in caption_similar(q, coll, threshold=th.similar, k=k)] for q in q_emb
        ]
        div = [
            [
                pos[m.id]
                for m in caption_divergent(
                    q, coll, low=th.divergent_low, high=th.divergent_high, k=k
                )
            ]
            for q in q_emb
        ]
        label = f"caption ({name}) vs {coll_name} captions"
        rows.append(
            {
                "method": label,
                "list": f"similar (cos >= {th.similar:.2f})",
                **list_precision(yq, sim, yc, k),
            }
        )
        rows.append(
            {
                "method": label,
                "list": f"divergent ({th.divergent_low:.2f} <= cos <= {th.divergent_high:.2f})",
                **list_precision(yq, div, yc, k),
            }
        )
    return rows


def image_retrieval_rows(
    feats: Features, labels: np.ndarray, train: np.ndarray, test: np.ndarray, *, k: int = 10
) -> list[dict[str, Any]]:
    """The same lists by image-embedding cosine: the k nearest, and chance level."""
    yq, yc = labels[test], labels[train]
    near = nearest_rows(feats.image[test], feats.image[train], k=k)
    far = nearest_rows(-feats.image[test], feats.image[train], k=k)  # cosine to -q: farthest
    chance = float(np.mean([np.mean(yc == q) for q in yq]))
    return [
        {"method": "image embedding", "list": f"{k} nearest", **list_precision(yq, near, yc, k)},
        {"method": "image embedding", "list": f"{k} farthest", **list_precision(yq, far, yc, k)},
        {
            "method": "chance",
            "list": "random image",
            "precision": chance,
            "hits_per_k": chance,
            "coverage": 1.0,
            "returned": float(k),
            "k": k,
        },
    ]


def format_retrieval_table(
    rows: list[dict[str, Any]], log: Callable[[str], None] | None = None
) -> str:
    """The retrieval rows as a Markdown table (precision in %)."""
    lines = [
        "| method | list | class precision | same-class of k (empty = miss) | queries with "
        "results | mean returned |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        prec = "-" if np.isnan(r["precision"]) else f"{100 * r['precision']:.1f}%"
        lines.append(
            f"| {r['method']} | {r['list']} | {prec} | "
            f"{r['k'] * r['hits_per_k']:.1f} of {r['k']} | "
            f"{100 * r['coverage']:.0f}% | {r['returned']:.1f} |"
        )
    text = "\n".join(lines)
    if log is not None:
        log(text)
    return text
