"""Load a dataset by name (packaged) or by path (folder, WebVision tree, manifest)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pictext.core.names import did_you_mean
from pictext.data.dataset import Dataset
from pictext.data.errors import DatasetNotFoundError, UnknownDatasetError


def _openclipart(**options: Any) -> Dataset:
    from pictext.data.openclipart import read_openclipart

    return read_openclipart(**options)


def _tuxpaint(**options: Any) -> Dataset:
    from pictext.data.tuxpaint import read_tuxpaint

    return read_tuxpaint(**options)


def _fashion_mnist(**options: Any) -> Dataset:
    from pictext.data.fashion_mnist import read_fashion_mnist

    return read_fashion_mnist(**options)


_PACKAGED: dict[str, Callable[..., Dataset]] = {
    "openclipart": _openclipart,
    "tuxpaint": _tuxpaint,
    "fashion-mnist": _fashion_mnist,
}

DEBIAN_PACKAGES = {  # dataset name -> the Debian package it is read from
    "openclipart": "openclipart-svg",
    "tuxpaint": "tuxpaint-stamps-default",
    "fashion-mnist": "dataset-fashion-mnist",
}


def list_datasets() -> list[str]:
    """Names of the packaged datasets :func:`load_dataset` knows."""
    return list(_PACKAGED)


def load_dataset(
    name_or_path: str | Path,
    *,
    strip_label_words: bool = False,
    allow_outside_root: bool = False,
    **options: Any,
) -> Dataset:
    """A dataset by packaged name or by path.

    ``collection:MODEL_DIR`` (or ``collection:PATH/collection.sqlite``) reads a curated
    collection with its edits applied (:mod:`pictext.data.collection`). A path is read by what
    it holds: a folder with ``info/train_filelist_*.txt`` as the
    WebVision layout, any other folder as class folders with JSON sidecars, a ``.csv``,
    ``.tsv``, ``.jsonl`` or ``.ndjson`` file as a manifest.

    Args:
        name_or_path: ``openclipart``, ``tuxpaint``, ``fashion-mnist``, or a path.
        strip_label_words: remove label and folder-name words from the text
            (:func:`pictext.data.hygiene.strip_label_words`).
        allow_outside_root: for a class folder or a manifest, read images that symlinks or
            manifest paths place outside the folder (default: named and skipped; see
            ``docs/DATA.md``). Packaged and WebVision datasets are read as they are.
        **options: passed to the reader (e.g. ``include_all=True`` for openclipart).

    Raises:
        DatasetNotFoundError: neither a known name nor an existing, readable path.

    Example:
        >>> ds = load_dataset("tuxpaint")  # doctest: +SKIP
        >>> len(ds), len(ds.classes)  # doctest: +SKIP
        (950, 16)
    """
    dataset = _read(name_or_path, options, allow_outside_root)
    if strip_label_words:
        from pictext.data.hygiene import strip_label_words as strip

        dataset = strip(dataset)
    return dataset


COLLECTION_PREFIX = "collection:"


def _read_collection(where: str, options: dict[str, Any], allow_outside: bool) -> Dataset:
    """A curated collection (``collection:MODEL_DIR`` or ``collection:PATH.sqlite``).

    Its items with their edits applied, removed items left out, added items included; see
    :mod:`pictext.data.collection.store`.
    """
    from pictext.data.collection.store import Collection

    coll = Collection.open(where)
    try:
        base_name = coll.meta("dataset")
        base = _read(base_name, options, allow_outside) if base_name and coll.needs_base() else None
        return coll.dataset(base)
    finally:
        coll.close()


def _read(name_or_path: str | Path, options: dict[str, Any], allow_outside: bool) -> Dataset:
    key = str(name_or_path)
    if key in _PACKAGED:
        return _PACKAGED[key](**options)
    if key.startswith(COLLECTION_PREFIX):
        return _read_collection(key[len(COLLECTION_PREFIX) :], options, allow_outside)
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        from pictext.data.webvision import is_webvision, read_webvision

        if is_webvision(path):
            return read_webvision(path, **options)
        from pictext.data.folder import read_folder

        return read_folder(path, allow_outside_root=allow_outside, **options)
    if path.is_file():
        from pictext.data.manifest import MANIFEST_SUFFIXES, read_manifest

        if path.suffix.lower() in MANIFEST_SUFFIXES:
            return read_manifest(path, allow_outside_root=allow_outside, **options)
        raise DatasetNotFoundError(
            f"{path}: not a manifest (use {', '.join(MANIFEST_SUFFIXES)}) nor a folder",
            item=str(path),
        )
    raise UnknownDatasetError(
        f"no dataset {key!r}: not a packaged name ({', '.join(_PACKAGED)}) "
        f"nor an existing folder or manifest{did_you_mean(key, _PACKAGED)}",
        item=key,
    )
