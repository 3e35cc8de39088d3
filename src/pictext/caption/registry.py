"""Captioner types by name, and loading any saved captioner.

Every type saves the same artifact kind (:data:`pictext.core.artifacts.CAPTIONER`) and
records its ``arch`` in ``config.json``; :func:`load_captioner` reads it and builds the
right class, so the CLI, the service and a bundle load whichever type won on validation.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pictext.core.artifacts import CAPTIONER, ArtifactFormatError, read_config

if TYPE_CHECKING:
    from pictext.caption.captioner import Captioner
    from pictext.caption.consensus import ConsensusCaptioner

    AnyCaptioner = Captioner | ConsensusCaptioner

# Retrieval (consensus) first, then the trained decoders of caption/models.py.
CAPTIONERS: tuple[str, ...] = ("consensus", "merge", "transformer", "retrieval")
LABELS: dict[str, str] = {
    "consensus": "consensus of nearest captions",
    "merge": "merge LSTM (the report's model)",
    "transformer": "transformer",
    "retrieval": "transformer + retrieved captions",
}


def load_captioner(directory: str | os.PathLike) -> AnyCaptioner:
    """The captioner saved in ``directory``, whatever its type.

    Raises:
        ArtifactError: not a saved captioner of this version, or of an unknown type (the
            message names the folder and the command that rebuilds it).
    """
    arch = read_config(directory, CAPTIONER).get("config", {}).get("arch")
    if arch == "consensus":
        from pictext.caption.consensus import ConsensusCaptioner

        return ConsensusCaptioner.load(directory)
    if arch in CAPTIONERS:
        from pictext.caption.captioner import Captioner

        return Captioner.load(directory)
    raise ArtifactFormatError(
        directory, f"captioner type {arch!r} is unknown, expected one of {CAPTIONERS}", CAPTIONER
    )
