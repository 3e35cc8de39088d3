"""A model bundle: the folder ``pictext serve MODEL_DIR`` reads.

Layout (every part optional; the routes of a missing part answer 503 naming the command
that trains it)::

    MODEL_DIR/
      bundle.json     {"format": "pictext-bundle", "version": 1, "dataset": "tuxpaint",
                       "title": "..."}   (optional; a hand-written {"dataset": ...} is read too)
      classifier/     pictext train DATASET --out MODEL_DIR/classifier       -> /tag, /verify
      index/          pictext index build DATASET --head RUN/head --out MODEL_DIR/index
                                                     -> /similar, /divergent, /recommend, /map
      captioner/      pictext caption-train DATASET --holdout 0 --out MODEL_DIR/captioner
                                                                              -> /caption
      audit/          pictext audit DATASET --out MODEL_DIR/audit
                                  -> /browse sorts by uniqueness and error, item flags

A bundle is read-only to the service: what it derives from one (the 2-D map of the index,
the collection's captions and embeddings) is kept in the cache (``$PICTEXT_CACHE``), keyed
by content, never written into MODEL_DIR.

The collection (items, their text and images, for ``/items`` and thumbnails) is the
dataset named by ``bundle.json``, else the one recorded in the index's config. MODEL_DIR
may also be a single part's folder (a saved classifier or an index). Parts are recognised by
the format names of :mod:`pictext.core.artifacts`, read without importing torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pictext.core import artifacts
from pictext.core.artifacts import ArtifactError, ArtifactKind
from pictext.core.errors import InputError

PARTS: tuple[str, ...] = ("classifier", "index", "captioner")
# The artifact kind of each part; a part lives in the folder of its name.
PART_KINDS: dict[str, ArtifactKind] = {
    "classifier": artifacts.CLASSIFIER,
    "index": artifacts.INDEX,
    "captioner": artifacts.CAPTIONER,
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


class BundleError(InputError, ValueError):
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
    audit: Path | None = None  # saved collection audit (optional: the browser's sorts, flags)
    dataset: str | None = None  # dataset name or path of the indexed collection
    info: dict[str, Any] = field(default_factory=dict)  # bundle.json, when present

    def part(self, name: str) -> Path | None:
        return getattr(self, name)

    def missing(self) -> list[str]:
        return [p for p in PARTS if self.part(p) is None]

    def hint(self, part: str) -> str:
        """The command that builds a missing part."""
        return TRAIN_COMMANDS[part].format(root=self.root)


def _check_part(folder: Path, part: str, root: Path) -> Path:
    """``folder`` once it holds a loadable ``part``; else a :class:`BundleError` saying why."""
    try:
        artifacts.read_config(folder, PART_KINDS[part])
    except ArtifactError as err:
        raise BundleError(
            f"{folder}: not a saved {part} ({err.problem}); rebuild it with: "
            f"{TRAIN_COMMANDS[part].format(root=root)}"
        ) from None
    return folder


def _find_part(root: Path, part: str) -> Path | None:
    if artifacts.kind_of(root) is PART_KINDS[part]:  # MODEL_DIR is this part itself
        return _check_part(root, part, root)
    folder = root / part
    return _check_part(folder, part, root) if folder.is_dir() else None


def _find_audit(root: Path) -> Path | None:
    """``MODEL_DIR/audit`` when it holds a saved audit (it is optional, never "missing")."""
    folder = root / "audit"
    if not folder.is_dir():
        return None
    try:
        artifacts.read_config(folder, artifacts.AUDIT)
    except ArtifactError as err:
        raise BundleError(
            f"{folder}: not a saved audit ({err.problem}); rebuild it with: "
            f"pictext audit DATASET --out {folder}"
        ) from None
    return folder


def _read_info(root: Path) -> dict[str, Any]:
    """``bundle.json``: a saved header (checked) or a hand-written ``{"dataset": ...}``."""
    file = root / artifacts.BUNDLE.config_file
    if not file.is_file():
        return {}
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as err:
        raise BundleError(f"{file}: not valid JSON: {err}") from None
    if not isinstance(info, dict):
        raise BundleError(f"{file}: must hold a JSON object")
    if "format" not in info and "version" not in info:
        return info
    try:
        return artifacts.check_header(info, artifacts.BUNDLE, root)
    except ArtifactError as err:
        raise BundleError(str(err)) from None


def _dataset(root: Path, info: dict[str, Any], index: Path | None) -> str | None:
    name = info.get("dataset")
    if name is None and index is not None:
        name = artifacts.read_config(index, artifacts.INDEX).get("dataset") or None
    if name is None:
        return None
    # A relative path in bundle.json is relative to the bundle.
    local = root / str(name)
    return str(local) if "dataset" in info and local.exists() else str(name)


def write_bundle_info(root: str | Path, *, dataset: str, title: str = "") -> Path:
    """Write ``bundle.json`` (format, version, dataset and title) atomically.

    Args:
        root: the bundle folder (MODEL_DIR).
        dataset: the collection's dataset name or path (relative paths: to the bundle).
        title: shown by the web page.

    Returns:
        The file written.
    """
    return artifacts.write_config(root, artifacts.BUNDLE, {"dataset": dataset, "title": title})


def find_bundle(model_dir: str | Path, *, dataset: str | None = None) -> Bundle:
    """Find the parts of a bundle.

    Args:
        model_dir: the bundle folder (or one saved part).
        dataset: overrides the collection's dataset name or path.

    Raises:
        BundleError: not a folder, a malformed ``bundle.json``, a part folder holding
            something else or an old version of it, or no part at all.
    """
    root = Path(model_dir)
    if not root.is_dir():
        raise BundleError(
            f"{root}: no such folder; build a bundle first (see `pictext serve --help`)"
        )
    info = _read_info(root)
    found = {p: _find_part(root, p) for p in PARTS}
    bundle = Bundle(root, **found, audit=_find_audit(root), info=info)
    if not any(found.values()):
        steps = "; ".join(f"{p}: {bundle.hint(p)}" for p in PARTS)
        raise BundleError(f"{root}: no model in this bundle. Build its parts: {steps}")
    bundle.dataset = dataset or _dataset(root, info, bundle.index)
    return bundle
