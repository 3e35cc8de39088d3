"""Embeddings computed once and cached on disk, keyed by content and encoder version, and
the one path for new inputs, :func:`embed_items` (see docs/ARCHITECTURE.md)."""

from __future__ import annotations

from pictext.store.cache import VectorCache
from pictext.store.embed import EmbedReport, embed_dataset, embed_items
from pictext.store.failures import Failure, UnreadableItemsError, require_read
from pictext.store.features import TEXT_INPUTS, Features
from pictext.store.memory import MemoryCache
from pictext.store.pool import EncoderPool, EncoderSource, encoder_for

__all__ = [
    "TEXT_INPUTS",
    "EmbedReport",
    "EncoderPool",
    "EncoderSource",
    "Failure",
    "Features",
    "MemoryCache",
    "UnreadableItemsError",
    "VectorCache",
    "embed_dataset",
    "embed_items",
    "encoder_for",
    "require_read",
]
