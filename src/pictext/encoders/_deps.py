"""Small helpers shared by the encoders: optional imports and file fingerprints."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

from pictext.core.errors import StateError


class MissingPackageError(StateError, ImportError):
    """An optional package an encoder needs is not installed; the message says what to run."""


def require(module: str, pip_name: str, *, purpose: str) -> ModuleType:
    """Import ``module`` or raise an error naming the pip package to install.

    Args:
        module: Importable module name, e.g. ``"onnxruntime"``.
        pip_name: Distribution to install, e.g. ``"onnxruntime"``.
        purpose: What needs it, for the message (e.g. ``"encoder 'efficientnet-lite0'"``).

    Raises:
        MissingPackageError: If the module cannot be found.
    """
    if importlib.util.find_spec(module.split(".")[0]) is None:
        raise MissingPackageError(
            f"{purpose} needs the Python package {pip_name!r}, which is not installed: "
            f"run `pip install {pip_name}` (or `pip install 'pictext[encoders]'`)."
        )
    return importlib.import_module(module)


def missing_packages(requirements: tuple[tuple[str, str], ...]) -> list[str]:
    """The pip names among ``(module, pip_name)`` pairs whose module cannot be found."""
    return [pip for mod, pip in requirements if importlib.util.find_spec(mod) is None]


def file_digest(path: Path, length: int = 8) -> str:
    """The first ``length`` hex digits of a file's SHA-256 (identifies a weights file)."""
    sha = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()[:length]
