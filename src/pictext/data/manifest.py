"""CSV and JSONL manifests: one row per image with its text and label.

Columns (CSV header or JSONL keys): ``path`` (or ``image``), ``title``, ``description``,
``tags``, ``label``, and optionally ``fine_label`` and ``id``. Paths are relative to the
manifest's folder unless absolute. In CSV, tags are one string split on ``;`` (or ``,``);
in JSONL, a list of strings (a string is split the same way). The item id is ``id`` when
given, else the path as written. Rows without a path, duplicate ids, malformed JSON lines and
missing or empty image files are skipped and recorded in ``Dataset.problems``; a text field
of the wrong type (JSONL) is left empty and recorded.

Paths outside the allowed root (default: the manifest's folder; ``root=`` sets another) are
refused per row, named and skipped, unless ``allow_outside_root=True`` (``pictext embed
--allow-outside-root``); see ``docs/DATA.md``. An absolute path inside the root is fine.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from pictext.core.defaults import MAX_MANIFEST_BYTES
from pictext.core.limits import FileTooLargeError, read_bounded
from pictext.data.dataset import SKIPPED, Dataset
from pictext.data.errors import ItemError
from pictext.data.folder import checked_text_fields
from pictext.data.item import Item
from pictext.data.text import clean_text, decode_text, text_problem
from pictext.data.walk import OUTSIDE_HINT

MANIFEST_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson")
_SNIFF_CHARS = 65536  # the start of a manifest checked for binary data


def read_manifest(
    path: str | Path,
    *,
    name: str | None = None,
    root: str | Path | None = None,
    allow_outside_root: bool = False,
) -> Dataset:
    """Read a CSV/TSV or JSONL manifest.

    Args:
        path: the manifest file (``.csv``, ``.tsv``, ``.jsonl`` or ``.ndjson``).
        name: dataset name; default the file's stem.
        root: the folder image paths must lie in (default: the manifest's folder).
        allow_outside_root: read image paths outside ``root`` too.

    Raises:
        ItemError (a ``ValueError``) naming the manifest: it cannot be read, has an unknown
            suffix, is empty or binary, or is a CSV without a ``path``/``image`` column.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MANIFEST_SUFFIXES:
        raise ItemError(str(path), f"not a manifest; use one of {', '.join(MANIFEST_SUFFIXES)}")
    text, problem = decode_text(_read(path))
    if not_text := text_problem(text[:_SNIFF_CHARS]):
        raise ItemError(str(path), f"manifest is a binary file, not a text manifest: {not_text}")
    problems = [f"{path.name}: {problem}"] if problem else []
    rows = (
        _jsonl_rows(text, problems)
        if suffix in (".jsonl", ".ndjson")
        else _csv_rows(text, path, delimiter="\t" if suffix == ".tsv" else ",")
    )
    name = name or path.stem
    items: list[Item] = []
    seen: set[str] = set()
    allowed = None if allow_outside_root else Path(root or path.parent).resolve()
    n_rows = 0
    for line, row in rows:
        n_rows += 1
        item = _item(row, path.parent, allowed, name, f"line {line}", problems)
        if item is None:
            continue
        if item.id in seen:
            problems.append(f"{item.id}: duplicate id (line {line}){SKIPPED}")
            continue
        seen.add(item.id)
        items.append(item)
    if n_rows == 0 and not problems:  # a header (or blank lines) and nothing else
        raise ItemError(str(path), "manifest has no rows (a header and nothing else)")
    return Dataset(name, items, problems)


def _csv_rows(text: str, path: Path, delimiter: str) -> Iterator[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    if not set(columns) & {"path", "image"}:
        shown = ", ".join(repr(c[:20]) for c in columns[:5]) or "none"
        more = f" and {len(columns) - 5} more" if len(columns) > 5 else ""
        problem = f"manifest needs a 'path' (or 'image') column; its columns: {shown}{more}"
        raise ItemError(str(path), problem)
    try:
        for row in reader:
            clean = {k.strip().lower(): v for k, v in row.items() if k is not None}
            yield reader.line_num, clean
    except csv.Error as err:  # e.g. a field over the csv module's size limit
        raise ItemError(str(path), f"line {reader.line_num}: not CSV ({err})") from None


def _jsonl_rows(text: str, problems: list[str]) -> Iterator[tuple[int, dict]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as err:
            problems.append(f"line {line}: malformed JSON ({err}){SKIPPED}")
            continue
        except RecursionError:
            problems.append(f"line {line}: JSON nested too deeply{SKIPPED}")
            continue
        if not isinstance(row, dict):
            problems.append(f"line {line}: not a JSON object{SKIPPED}")
            continue
        yield line, {str(k).lower(): v for k, v in row.items()}


def _read(path: Path) -> bytes:
    """The manifest's bytes; refused when unreadable, empty or binary."""
    try:
        data = read_bounded(path, MAX_MANIFEST_BYTES, "a manifest")
    except FileNotFoundError:
        raise ItemError(str(path), "no such manifest file") from None
    except FileTooLargeError as err:
        raise ItemError(str(path), f"the manifest {err.problem}") from None
    except OSError as err:
        raise ItemError(str(path), f"cannot read the manifest ({err.strerror or err})") from err
    if not data.strip():
        raise ItemError(str(path), "manifest is empty")
    if b"\x00" in data[:8192]:
        raise ItemError(str(path), "manifest is a binary file, not a text manifest")
    return data


def _item(
    row: dict, base: Path, allowed: Path | None, name: str, where: str, problems: list[str]
) -> Item | None:
    raw = row.get("path") or row.get("image")
    raw_path = clean_text(raw) if isinstance(raw, str) else ""
    if not raw_path:
        problems.append(f"{where}: no image path{SKIPPED}")
        return None
    item_id = clean_text(row.get("id")) or raw_path
    image = Path(raw_path) if Path(raw_path).is_absolute() else base / raw_path
    if allowed is not None and not image.resolve().is_relative_to(allowed):
        problems.append(
            f"{item_id}: image path {image} is outside the allowed folder {allowed}; "
            f"not read ({OUTSIDE_HINT}){SKIPPED}"
        )
        return None
    try:
        size = image.stat().st_size if image.is_file() else None
    except OSError as err:
        problems.append(f"{item_id}: cannot read image file {image} ({err.strerror}){SKIPPED}")
        return None
    if size is None:
        problems.append(f"{item_id}: image file not found: {image}{SKIPPED}")
        return None
    if size == 0:
        problems.append(f"{item_id}: empty image file (0 bytes){SKIPPED}")
        return None
    fields, wrong = checked_text_fields(row)
    problems.extend(f"{item_id}: {w}" for w in wrong)
    label = clean_text(row.get("label")) or None
    fine = clean_text(row.get("fine_label")) or None
    return Item(item_id, str(image), label=label, fine_label=fine, source=name, **fields)
