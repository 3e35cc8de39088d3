"""Embeddings computed once and cached on disk, keyed by content and encoder version (see
docs/ARCHITECTURE.md)."""

from __future__ import annotations

from pictext.store.cache import VectorCache
from pictext.store.embed import EmbedReport, embed_dataset
from pictext.store.features import TEXT_INPUTS, Features

__all__ = ["TEXT_INPUTS", "EmbedReport", "Features", "VectorCache", "embed_dataset"]
