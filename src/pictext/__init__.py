"""pictext: image collections with text, CPU-first and offline.

Importing ``pictext`` is light: no torch, no web server, no plotting.
"""

from __future__ import annotations

from pictext.data.dataset import Dataset
from pictext.data.item import Item

__version__ = "0.1.0"

__all__ = ["Dataset", "Item", "__version__"]
