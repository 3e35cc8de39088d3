"""What the commands read a model from: a saved part, or a bundle folder holding it.

Every command that reads a model (``--model``, ``--index``, the captioner) accepts the
folder ``pictext serve`` accepts and picks its part (:func:`pictext.service.bundle.find_bundle`);
``similar``/``divergent``/``recommend`` without ``--index`` read the cache's "current index"
pointer, which only ``pictext index build`` writes, and they say which index answered.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pictext.core.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from pictext.caption.registry import AnyCaptioner
    from pictext.classify.routed import RoutedClassifier
    from pictext.rank.index import SearchIndex


def part_folder(path: Path, part: str) -> Path:
    """The folder of a bundle's ``part`` (``classifier``, ``index``, ``captioner``).

    ``path`` itself when it is that part (or holds nothing pictext recognises: loading it
    then says what is wrong with it); the part's folder when ``path`` is a bundle.

    Raises:
        BundleError: ``path`` is a bundle without that part (the message names the command
            that builds it).
    """
    from pictext.core import artifacts
    from pictext.service.bundle import PART_KINDS, PARTS, BundleError, find_bundle

    if not path.is_dir() or artifacts.kind_of(path) is not None:
        return path
    is_bundle = (path / artifacts.BUNDLE.config_file).is_file() or any(
        (path / p).is_dir() for p in PARTS
    )
    if not is_bundle:
        return path
    bundle = find_bundle(path)
    found = bundle.part(part)
    if found is None:
        raise BundleError(
            f"{path}: this bundle has no {part} (no {PART_KINDS[part].what} in {path / part}); "
            f"build it with: {bundle.hint(part)}",
            item=str(path),
        )
    return found


def load_classifier(path: Path) -> RoutedClassifier:
    """A saved classifier (its heads and routes), or the classifier of a bundle."""
    from pictext.classify.ensemble import load_classifier as load_routed

    return load_routed(part_folder(path, "classifier"))


def load_captioner(path: Path) -> AnyCaptioner:
    """A saved captioner of any type, or the captioner of a bundle."""
    from pictext.caption.registry import load_captioner as load_any

    captioner = load_any(part_folder(path, "captioner"))
    if not captioner.image_encoder:
        raise UsageError(
            f"{path}: the captioner does not name its image encoder; retrain it", item=str(path)
        )
    return captioner


def bundle_dataset(path: Path | None) -> str | None:
    """The collection a bundle names (``bundle.json``, else its index), when ``path`` is one."""
    from pictext.core import artifacts
    from pictext.service.bundle import BundleError, find_bundle

    if path is None or not path.is_dir() or artifacts.kind_of(path) is not None:
        return None
    try:
        return find_bundle(path).dataset
    except BundleError:
        return None


def current_index_file() -> Path:
    """The cache's "current index" pointer: the last index ``pictext index build`` made
    current (under ``$PICTEXT_CACHE``; nothing else writes it)."""
    from pictext.core.paths import cache_dir

    return cache_dir("index") / "CURRENT"


def open_index(path: Path | None) -> SearchIndex:
    """The index at ``path`` (an index or a bundle), else the current one.

    Raises:
        NotFoundError: no ``--index`` and no current index, or the pointer names a folder
            that is gone.
    """
    from pictext.rank.index import SearchIndex

    if path is None:
        current = current_index_file()
        if not current.is_file():
            raise NotFoundError(
                "no index given and none built yet: pass --index DIR or run "
                "`pictext index build DATASET`",
                item="--index",
            )
        path = Path(current.read_text(encoding="utf-8").strip())
        if not path.is_dir():
            raise NotFoundError(
                f"the current index {path} (named by {current}) is gone: pass --index DIR "
                "or rebuild it with `pictext index build DATASET`",
                item=str(path),
            )
    return SearchIndex.load(part_folder(path, "index"))


def check_encoder_names(*names: str | None) -> None:
    """Refuse unknown encoder names and bad composites (``a+b``) before any work (one line)."""
    from pictext.store.composite import check_spec

    for name in names:
        if name and name != "none":
            check_spec(name)
