"""What the commands read a model from: a saved part, or a bundle folder holding it.

Every command that reads a model (``--model``, ``--index``, the captioner) accepts the
folder ``pictext serve`` accepts and picks its part (:func:`pictext.bundle.layout.find_bundle`);
``similar``/``divergent``/``recommend`` without ``--index`` read the cache's "current index"
pointer, which only ``pictext index build`` writes, and they say which index answered.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pictext.core.errors import NotFoundError

if TYPE_CHECKING:
    from pictext.bundle.model import Model
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
    from pictext.bundle.layout import PART_KINDS, PARTS, BundleError, find_bundle
    from pictext.core import artifacts

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
    from pictext.bundle.model import load_captioner as load_checked

    return load_checked(part_folder(path, "captioner"))


def bundle_dataset(path: Path | None) -> str | None:
    """The collection a bundle names (``bundle.json``, else its index), when ``path`` is one."""
    from pictext.bundle.layout import BundleError, find_bundle
    from pictext.core import artifacts

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


def open_model(path: Path, part: str, *, dataset: str | None = None) -> Model:
    """A :class:`~pictext.bundle.model.Model` answering with the ``part`` at ``path`` (a
    bundle, or that part's own folder); the part loads on first use and a folder that holds
    no such part says what is wrong with it then."""
    from pictext.bundle.layout import Bundle
    from pictext.bundle.model import Model

    bundle = Bundle(Path(path), **{part: part_folder(Path(path), part)})
    bundle.dataset = dataset or bundle_dataset(Path(path))
    return Model(bundle)


def index_path(path: Path | None) -> Path:
    """``path`` (an index or a bundle), else the current index's folder.

    Raises:
        NotFoundError: no ``--index`` and no current index, or the pointer names a folder
            that is gone.
    """
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
    return path


def open_index(path: Path | None) -> SearchIndex:
    """The index at ``path`` (an index or a bundle), else the current one (see
    :func:`index_path`)."""
    return open_model(index_path(path), "index").require("index")


def check_encoder_names(*names: str | None) -> None:
    """Refuse unknown encoder names and bad composites (``a+b``) before any work (one line)."""
    from pictext.store.composite import check_spec

    for name in names:
        if name and name != "none":
            check_spec(name)
