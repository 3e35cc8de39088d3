"""Every default and limit pictext uses, in one place: the CLI, the service and the library
read them from here, so a value is changed once (see docs/ARCHITECTURE.md).

Plain constants, no imports of the rest of pictext: any layer may read this module.
"""

from __future__ import annotations

# ---- encoders ---------------------------------------------------------------------------
IMAGE_ENCODER = "efficientnet-lite0"  # default image tower (registry name)
TEXT_ENCODER = "use"  # default text tower (registry name)
CAPTION_TEXT_ENCODER = "use"  # text tower of caption-similarity search

# ---- splits -----------------------------------------------------------------------------
STUDY_HOLDOUT = 0.04  # the classification study's share of each class held out (val + test)
SPLIT_SEED = 0  # seed of the default split

# ---- captions ---------------------------------------------------------------------------
CAPTION_SIMILAR = 0.90  # caption cosine at or above: similar (the report's value)
CAPTION_DIVERGENT_LOW = 0.50  # divergent band, lower end (inclusive; the report's value)
CAPTION_DIVERGENT_HIGH = 0.60  # divergent band, upper end (inclusive; the report's value)

# ---- limits on inputs (checked before any work) ------------------------------------------
MAX_PIXELS = 40_000_000  # width x height above this is refused (decompression bombs)
MAX_K = 100  # most results one query may ask for
