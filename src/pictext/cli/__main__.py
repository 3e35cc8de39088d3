"""``python -m pictext.cli``: the same as the ``pictext`` console script."""

from pictext.cli import run

run()
