"""Captions of new images, and caption-similarity search over a collection.

What ``pictext caption``, ``pictext similar|divergent --by caption`` and the service's
``/caption`` route call, so they give the same caption for the same image: new images are
embedded by the one path for new inputs (:func:`~pictext.store.embed.embed_items`) with the
encoder the captioner recorded, the collection is captioned once (cached on disk) and the
bands of :class:`~pictext.caption.retrieval.CaptionThresholds` decide what is similar and
what is divergent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pictext.caption.retrieval import (
    CaptionCollection,
    CaptionMatch,
    CaptionThresholds,
    caption_collection,
    caption_divergent,
    caption_similar,
    caption_vectors,
)
from pictext.core import defaults
from pictext.core.limits import check_k
from pictext.store.embed import embed_items
from pictext.store.failures import Failure, all_read, per_item, read_rows
from pictext.store.pool import EncoderSource, encoder_for

if TYPE_CHECKING:
    from pictext.caption.decoding import Decoding
    from pictext.caption.registry import AnyCaptioner
    from pictext.data.item import Item
    from pictext.encoders.base import TextEncoder
    from pictext.store.memory import MemoryCache


@dataclass
class CaptionAnswer:
    """A query image's caption and the collection images of similar and divergent captions."""

    caption: str  # generated caption of the query
    similar: list[CaptionMatch] = field(default_factory=list)  # cosine >= thresholds.similar
    divergent: list[CaptionMatch] = field(default_factory=list)  # cosine in the divergent band


def caption_each(
    captioner: AnyCaptioner,
    items: Sequence[Item],
    *,
    decoding: Decoding | None = None,
    encoders: EncoderSource | None = None,
    cache_dir: str | Path | None = None,
    memory: MemoryCache | None = None,
) -> list[str | Failure]:
    """Per item, the caption of its image, or the :class:`Failure` that kept the image from
    being read: what a batch answers (embedding options as in
    :func:`~pictext.store.embed.embed_items`).

    Raises:
        ValueError: the captioner names no image encoder.
    """
    if not captioner.image_encoder:
        raise ValueError("the captioner does not name its image encoder; retrain it")
    feats, failures = embed_items(
        items, captioner.image_encoder, None, encoders=encoders, cache_dir=cache_dir, memory=memory
    )
    assert feats.image is not None
    rows = read_rows(feats.ids, failures)
    texts = captioner.predict(feats.image[rows], decoding=decoding) if rows else []
    return per_item(feats.ids, failures, texts)


class CaptionSearch:
    """A captioned collection that answers query images with similar and divergent captions.

    Args:
        captioner: the fitted captioner.
        text_encoder: the encoder of caption similarity.
        collection: the collection's captions; None answers captions only.
        decoding: how query captions are decoded (the collection's when built by
            :meth:`over`); default :data:`~pictext.caption.decoding.DEFAULT_DECODING`.
        thresholds: the similar and divergent cosine bands.
        encoders: builds the captioner's recorded image encoder (default: the registry).

    Example:
        >>> search = CaptionSearch.over(captioner, dataset.items, "use")  # doctest: +SKIP
        >>> search.answer([Item("q", "query.png")], k=5)[0].caption  # doctest: +SKIP
        'a red car on a road'
    """

    def __init__(
        self,
        captioner: AnyCaptioner,
        text_encoder: TextEncoder,
        collection: CaptionCollection | None = None,
        *,
        decoding: Decoding | None = None,
        thresholds: CaptionThresholds | None = None,
        encoders: EncoderSource | None = None,
    ) -> None:
        self.captioner = captioner
        self.text_encoder = text_encoder
        self.collection = collection
        self.decoding = decoding
        self.thresholds = thresholds or CaptionThresholds()
        self.encoders = encoders
        self.skipped: list[Failure] = []  # collection items whose image could not be read

    @classmethod
    def over(
        cls,
        captioner: AnyCaptioner,
        items: Sequence[Item],
        text_encoder: str | TextEncoder,
        *,
        decoding: Decoding | None = None,
        thresholds: CaptionThresholds | None = None,
        encoders: EncoderSource | None = None,
        cache_dir: str | Path | None = None,
    ) -> CaptionSearch:
        """Caption every collection image (cached: only the first call over a collection is
        slow); images that cannot be read are left out and listed in ``skipped``.

        Args:
            captioner: the fitted captioner.
            items: the collection.
            text_encoder: encoder (or registry name) of caption similarity.
            decoding: how every caption is decoded (default: the one default).
            thresholds: the similar and divergent cosine bands.
            encoders: builds the encoders (default: the registry).
            cache_dir: cache root (default ``$PICTEXT_CACHE``) of embeddings and captions.
        """
        from pictext.core.paths import cache_dir as default_cache

        tenc = (
            encoder_for(text_encoder, encoders) if isinstance(text_encoder, str) else text_encoder
        )
        if not captioner.image_encoder:
            raise ValueError("the captioner does not name its image encoder; retrain it")
        feats, failures = embed_items(
            items, captioner.image_encoder, None, encoders=encoders, cache_dir=cache_dir
        )
        assert feats.image is not None
        assert feats.image_mask is not None
        keep = np.flatnonzero(feats.image_mask)
        root = Path(cache_dir) / "captions" if cache_dir else default_cache("captions")
        collection = caption_collection(
            captioner,
            [feats.ids[i] for i in keep],
            feats.image[keep],
            tenc,
            decoding=decoding,
            cache_dir=root,
        )
        search = cls(
            captioner,
            tenc,
            collection,
            decoding=decoding,
            thresholds=thresholds,
            encoders=encoders,
        )
        search.skipped = failures
        return search

    def answer(
        self,
        items: Sequence[Item],
        k: int = defaults.SEARCH_K,
        *,
        cache_dir: str | Path | None = None,
        memory: MemoryCache | None = None,
    ) -> list[CaptionAnswer]:
        """Caption each item's image and find up to ``k`` similar and ``k`` divergent images.

        Raises:
            UsageError: ``k`` is not between 1 and :data:`~pictext.core.defaults.MAX_K`.
            UnreadableItemsError: an image could not be read; nothing is answered.
        """
        check_k(k)
        # The captions `pictext caption` gives (one path), then their text embeddings.
        captions = all_read(
            caption_each(
                self.captioner,
                items,
                decoding=self.decoding,
                encoders=self.encoders,
                cache_dir=cache_dir,
                memory=memory,
            )
        )
        vectors = caption_vectors(captions, self.text_encoder)
        th, col = self.thresholds, self.collection
        out = []
        for text, vec in zip(captions, vectors, strict=True):
            if col is None:
                out.append(CaptionAnswer(text))
                continue
            sim = caption_similar(vec, col, threshold=th.similar, k=k)
            div = caption_divergent(vec, col, low=th.divergent_low, high=th.divergent_high, k=k)
            out.append(CaptionAnswer(text, sim, div))
        return out
