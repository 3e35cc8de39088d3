"""Caption images from their embeddings, and retrieve images by caption similarity.

Captioner types (:data:`~pictext.caption.registry.CAPTIONERS`): retrieval captioning,
:class:`ConsensusCaptioner` (the consensus caption of the nearest training images), and the
trained decoders of one head, :class:`Captioner`: the report's merge model (CNN features +
LSTM, ``arch="merge"``), a small transformer decoder (``"transformer"``) and the same with
retrieved captions in its memory (``"retrieval"``). :func:`load_captioner` loads any saved
one. Text preparation, the one :class:`Decoding`, evaluation (BLEU, caption cosine,
degenerate captions) with baselines, and caption-similarity retrieval live beside them.
Importing this package pulls in torch.
"""

from __future__ import annotations

from pictext.caption.bleu import bleu_scores, most_frequent_caption, nearest_caption
from pictext.caption.captioner import Captioner, CaptionerConfig
from pictext.caption.consensus import ConsensusCaptioner, ConsensusConfig
from pictext.caption.decoding import DEFAULT_DECODING, Decoding
from pictext.caption.registry import CAPTIONERS, load_captioner
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
    "CAPTIONERS",
    "DEFAULT_DECODING",
    "CaptionCollection",
    "CaptionMatch",
    "CaptionThresholds",
    "Captioner",
    "CaptionerConfig",
    "ConsensusCaptioner",
    "ConsensusConfig",
    "Decoding",
    "Vocabulary",
    "bleu_scores",
    "caption_collection",
    "caption_divergent",
    "caption_query",
    "caption_similar",
    "clean_caption",
    "load_captioner",
    "most_frequent_caption",
    "nearest_caption",
]
