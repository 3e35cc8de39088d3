"""Caption images from their embeddings, and retrieve images by caption similarity.

The report's merge model (CNN features + LSTM, ``arch="merge"``) and a small transformer
decoder (``arch="transformer"``) share one head, :class:`Captioner`; text preparation,
decoding, BLEU evaluation with baselines, and caption-similarity retrieval live beside it.
Importing this package pulls in torch.
"""

from __future__ import annotations

from pictext.caption.bleu import bleu_scores, most_frequent_caption, nearest_caption
from pictext.caption.captioner import Captioner, CaptionerConfig
from pictext.caption.retrieval import (
    CaptionCollection,
    CaptionMatch,
    CaptionThresholds,
    caption_collection,
    caption_divergent,
    caption_query,
    caption_similar,
)
from pictext.caption.text import Vocabulary, clean_caption

__all__ = [
    "CaptionCollection",
    "CaptionMatch",
    "CaptionThresholds",
    "Captioner",
    "CaptionerConfig",
    "Vocabulary",
    "bleu_scores",
    "caption_collection",
    "caption_divergent",
    "caption_query",
    "caption_similar",
    "clean_caption",
    "most_frequent_caption",
    "nearest_caption",
]
