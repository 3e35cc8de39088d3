"""CSV and JSONL manifests: one row per image with its text and label.

Columns (CSV header or JSONL keys): ``path`` (or ``image``), ``title``, ``description``,
``tags``, ``label``, and optionally ``fine_label`` and ``id``. Paths are relative to the
manifest's folder unless absolute. In CSV, tags are one string split on ``;`` (or ``,``);
in JSONL, a list (a string is split the same way). The item id is ``id`` when given, else
the path as written. Rows without a path, duplicate ids, malformed JSON lines and missing or
empty image files are skipped and recorded in ``Dataset.problems``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from pictext.core.errors import InputError, NotFoundError
from pictext.data.dataset import Dataset
from pictext.data.folder import text_fields
from pictext.data.item import Item
from pictext.data.text import clean_text, decode_text, text_problem

MANIFEST_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson")
_SNIFF_CHARS = 65536  # the start of a manifest checked for binary data


class ManifestError(InputError, ValueError):
    """A manifest that cannot be read at all: empty, binary, or without a path column."""


class ManifestNotFoundError(ManifestError, NotFoundError, FileNotFoundError):
    """A manifest path that does not exist."""


def read_manifest(path: str | Path, *, name: str | None = None) -> Dataset:
    """Read a CSV/TSV or JSONL manifest.

    Args:
        path: the manifest file (``.csv``, ``.tsv``, ``.jsonl`` or ``.ndjson``).
        name: dataset name; default the file's stem.

    Raises:
        ManifestNotFoundError: the manifest does not exist.
        ManifestError: an unknown suffix, an empty or binary file, or a CSV without a
            ``path``/``image`` column (the message names the manifest and the problem).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MANIFEST_SUFFIXES:
        raise ManifestError(
            f"{path}: not a manifest; use one of {', '.join(MANIFEST_SUFFIXES)}", item=str(path)
        )
    text, problem = decode_text(_read(path))
    _check_text(path, text)
    problems = [f"{path.name}: {problem}"] if problem else []
    rows = (
        _jsonl_rows(text, problems)
        if suffix in (".jsonl", ".ndjson")
        else _csv_rows(text, path, delimiter="\t" if suffix == ".tsv" else ",")
    )
    name = name or path.stem
    items: list[Item] = []
    seen: set[str] = set()
    for line, row in rows:
        item = _item(row, path.parent, name, f"line {line}", problems)
        if item is None:
            continue
        if item.id in seen:
            problems.append(f"{item.id}: duplicate id (line {line}); skipped")
            continue
        seen.add(item.id)
        items.append(item)
    return Dataset(name, items, problems)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ManifestNotFoundError(f"{path}: no such manifest file", item=str(path)) from None
    except IsADirectoryError:
        raise ManifestError(f"{path}: is a folder, not a manifest file", item=str(path)) from None
    except OSError as err:
        raise ManifestError(
            f"{path}: cannot read the manifest ({err.strerror or err})", item=str(path)
        ) from None


def _check_text(path: Path, text: str) -> None:
    """Refuse an empty manifest and one that is binary data, before reading rows."""
    if not text.strip():
        raise ManifestError(f"{path}: the manifest is empty", item=str(path))
    problem = text_problem(text[:_SNIFF_CHARS])
    if problem:
        raise ManifestError(f"{path}: not a text manifest: {problem}", item=str(path))


def _csv_rows(text: str, path: Path, delimiter: str) -> Iterator[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    names = [c.strip().lower() for c in reader.fieldnames or [] if c is not None]
    if not set(names) & {"path", "image"}:
        header = ", ".join(repr(c) for c in names[:10]) or "nothing"
        raise ManifestError(
            f"{path}: no 'path' (or 'image') column; the header line has {header}",
            item=str(path),
        )
    for row in reader:
        clean = {k.strip().lower(): v for k, v in row.items() if k is not None}
        yield reader.line_num, clean


def _jsonl_rows(text: str, problems: list[str]) -> Iterator[tuple[int, dict]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as err:
            problems.append(f"line {line}: malformed JSON ({err}); skipped")
            continue
        if not isinstance(row, dict):
            problems.append(f"line {line}: not a JSON object; skipped")
            continue
        yield line, {str(k).lower(): v for k, v in row.items()}


def _item(row: dict, base: Path, name: str, where: str, problems: list[str]) -> Item | None:
    raw_path = clean_text(row.get("path") or row.get("image"))
    if not raw_path:
        problems.append(f"{where}: no image path; skipped")
        return None
    item_id = clean_text(row.get("id")) or raw_path
    image = Path(raw_path) if Path(raw_path).is_absolute() else base / raw_path
    if not image.is_file():
        problems.append(f"{item_id}: image file not found: {image}; skipped")
        return None
    if image.stat().st_size == 0:
        problems.append(f"{item_id}: empty image file (0 bytes); skipped")
        return None
    label = clean_text(row.get("label")) or None
    fine = clean_text(row.get("fine_label")) or None
    return Item(item_id, str(image), label=label, fine_label=fine, source=name, **text_fields(row))
