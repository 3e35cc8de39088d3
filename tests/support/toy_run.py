"""Run the real ``pictext`` command line with the toy encoders (``toy_cli.py``), in a cache of
the test's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SUPPORT = Path(__file__).resolve().parent
SRC = SUPPORT.parents[1] / "src"
TOY = ["--image-encoder", "toy-image", "--text-encoder", "toy-text"]


def pictext(*args: str, cache: Path) -> subprocess.CompletedProcess:
    """``pictext ARGS`` with the toy encoders registered and ``PICTEXT_CACHE=cache``."""
    env = dict(os.environ, PICTEXT_CACHE=str(cache))
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(SUPPORT)])
    return subprocess.run(
        [sys.executable, str(SUPPORT / "toy_cli.py"), *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
