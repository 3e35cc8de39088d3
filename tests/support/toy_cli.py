"""``pictext`` with the toy encoders of :mod:`service_toys` registered: the real command line
(:func:`pictext.cli.main`, the one error boundary) run as a subprocess, fast.

Only how an encoder is built changes: ``toy-image`` and ``toy-text`` build the toy encoders,
every other name goes to the registry as usual (so unknown names fail as they would).

Usage: ``python tests/support/toy_cli.py tag a.png --model M``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from service_toys import ToyImageEncoder, ToyTextEncoder

TOYS = {"toy-image": ToyImageEncoder, "toy-text": ToyTextEncoder}


def toy_entry(name: str) -> Any:
    """The registry entry of a toy encoder."""
    from pictext.encoders import registry

    toy = TOYS[name]
    kind = "image" if toy is ToyImageEncoder else "text"
    return registry.EncoderEntry(name, kind, toy.dim, "", "", summary="a test toy")


def install() -> None:
    """Route the registry's name look-up and encoder factory through the toys."""
    from pictext.encoders import registry

    real_create, real_entry = registry.create_encoder, registry.get_entry

    def create(name: str, **options: Any) -> Any:
        return TOYS[name]() if name in TOYS else real_create(name, **options)

    def entry(name: str) -> Any:
        return toy_entry(name) if name in TOYS else real_entry(name)

    registry.create_encoder = create
    registry.get_entry = entry


if __name__ == "__main__":
    install()
    from pictext.cli import main

    sys.exit(main())
