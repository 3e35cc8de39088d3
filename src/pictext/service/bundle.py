"""A model bundle: the folder ``pictext serve MODEL_DIR`` reads.

Layout (every part optional; the routes of a missing part answer 503 naming the command
that trains it)::

    MODEL_DIR/
      bundle.json     {"dataset": "tuxpaint", "title": "..."}   (optional)
      classifier/     pictext train DATASET --out MODEL_DIR/classifier       -> /tag, /verify
      index/          pictext index build DATASET --head RUN/head --out MODEL_DIR/index
                                                     -> /similar, /divergent, /recommend, /map
      captioner/      pictext caption-train DATASET --holdout 0 --out MODEL_DIR/captioner
                                                                              -> /caption
      map.json        2-D map of the index, written by the service on first start

The collection (items, their text and images, for ``/items`` and thumbnails) is the
dataset named by ``bundle.json``, else the one recorded in the index manifest. MODEL_DIR
may also be a single part's folder (a saved classifier or an index).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PARTS: tuple[str, ...] = ("classifier", "index", "captioner")
# Folder names looked for, per part, and the file that marks a saved part.
_FOLDERS = {"classifier": ("classifier",), "index": ("index",), "captioner": ("captioner",)}
_MARKER = {"classifier": "config.json", "index": "manifest.json", "captioner": "config.json"}
_FORMAT_PREFIX = {  # the "format" field each part writes (read without importing torch)
    "classifier": "pictext.fusion/",
    "index": "pictext-index/",
    "captioner": "pictext.captioner/",
}
TRAIN_COMMANDS = {
    "classifier": "pictext train DATASET --out {root}/classifier",
    "index": (
        "pictext rank train DATASET --out RUN && "
        "pictext index build DATASET --head RUN/head --out {root}/index"
    ),
    "captioner": "pictext caption-train DATASET --holdout 0 --out {root}/captioner",
    "dataset": 'write {root}/bundle.json with {{"dataset": "NAME_OR_PATH"}}',
}


class BundleError(ValueError):
    """MODEL_DIR is not a usable bundle; the message says what to build."""


@dataclass
class Bundle:
    """Where each part of a bundle lives.

    Example:
        >>> b = Bundle(Path("m"))
        >>> b.missing()
        ['classifier', 'index', 'captioner']
    """

    root: Path  # MODEL_DIR
    classifier: Path | None = None  # saved FusionClassifier folder
    index: Path | None = None  # saved SearchIndex folder
    captioner: Path | None = None  # saved Captioner folder
    dataset: str | None = None  # dataset name or path of the indexed collection
    info: dict[str, Any] = field(default_factory=dict)  # bundle.json, when present

    def part(self, name: str) -> Path | None:
        return getattr(self, name)

    def missing(self) -> list[str]:
        return [p for p in PARTS if self.part(p) is None]

    def hint(self, part: str) -> str:
        """The command that builds a missing part."""
        return TRAIN_COMMANDS[part].format(root=self.root)

    @property
    def map_file(self) -> Path:
        return self.root / "map.json"


def _format(path: Path) -> str:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return str(meta.get("format", "")) if isinstance(meta, dict) else ""


def _is_part(folder: Path, part: str) -> bool:
    return _format(folder / _MARKER[part]).startswith(_FORMAT_PREFIX[part])


def _find_part(root: Path, part: str) -> Path | None:
    if _is_part(root, part):
        return root
    for name in _FOLDERS[part]:
        folder = root / name
        if folder.is_dir():
            if not _is_part(folder, part):
                raise BundleError(
                    f"{folder}: not a saved {part} ({_MARKER[part]} missing or of another "
                    f"format); rebuild it with: {TRAIN_COMMANDS[part].format(root=root)}"
                )
            return folder
    return None


def _dataset(root: Path, info: dict[str, Any], index: Path | None) -> str | None:
    name = info.get("dataset")
    if name is None and index is not None:
        manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
        name = manifest.get("dataset") or None
    if name is None:
        return None
    # A relative path in bundle.json is relative to the bundle.
    local = root / str(name)
    return str(local) if "dataset" in info and local.exists() else str(name)


def find_bundle(model_dir: str | Path, *, dataset: str | None = None) -> Bundle:
    """Find the parts of a bundle.

    Args:
        model_dir: the bundle folder (or one saved part).
        dataset: overrides the collection's dataset name or path.

    Raises:
        BundleError: not a folder, a malformed ``bundle.json``, a part folder holding
            something else, or no part at all.
    """
    root = Path(model_dir)
    if not root.is_dir():
        raise BundleError(
            f"{root}: no such folder; build a bundle first (see `pictext serve --help`)"
        )
    info: dict[str, Any] = {}
    if (root / "bundle.json").is_file():
        try:
            info = json.loads((root / "bundle.json").read_text(encoding="utf-8"))
        except ValueError as err:
            raise BundleError(f"{root / 'bundle.json'}: not valid JSON: {err}") from None
        if not isinstance(info, dict):
            raise BundleError(f"{root / 'bundle.json'}: must hold a JSON object")
    found = {p: _find_part(root, p) for p in PARTS}
    bundle = Bundle(root, **found, info=info)
    if not any(found.values()):
        steps = "; ".join(f"{p}: {bundle.hint(p)}" for p in PARTS)
        raise BundleError(f"{root}: no model in this bundle. Build its parts: {steps}")
    bundle.dataset = dataset or _dataset(root, info, bundle.index)
    return bundle
