"""encoders stage of the pictext pipeline (see docs/ARCHITECTURE.md): pretrained towers by name.

Importing this package is light; torch and onnxruntime load when an encoder first runs.

Example:
    >>> from pictext.encoders import create_encoder, list_encoders
    >>> list_encoders("image")[:2]
    ['efficientnet-lite0', 'efficientnet-lite0-int8']
    >>> create_encoder("use").dim
    512
"""

from __future__ import annotations

from pictext.encoders._deps import MissingPackageError
from pictext.encoders.base import ImageEncoder, TextEncoder
from pictext.encoders.registry import (
    DEFAULTS,
    create_encoder,
    encoder_kind,
    get_entry,
    list_encoders,
)

__all__ = [
    "DEFAULTS",
    "ImageEncoder",
    "MissingPackageError",
    "TextEncoder",
    "create_encoder",
    "encoder_kind",
    "get_entry",
    "list_encoders",
]
