"""A folder of class folders, each image with an optional JSON sidecar.

Layout (the WebVision study's code)::

    root/dog/123.jpg
    root/dog/123.json     {"title": "...", "description": "...", "tags": ["...", ...]}
    root/dog/puppies/7.png   (deeper folders: fine_label = "puppies")

Decisions for bad input, each recorded in ``Dataset.problems`` as ``"id: problem"``:

- a missing, empty, malformed or wrongly typed sidecar: the item is **kept** with empty text
  (its image is still useful; the missing-text rates show it);
- a sidecar that is not valid UTF-8: the item is kept, undecodable bytes are replaced;
- a missing or zero-byte image, or a file with an unsupported extension: the item is skipped.

Images are not decoded here (that would cost a full decode per item); corrupt or truncated
files are reported by :func:`pictext.data.images.load_image` when used, or dropped up front
with :func:`pictext.data.images.drop_unreadable`.
"""

from __future__ import annotations

import json
from pathlib import Path

from pictext.data.dataset import Dataset
from pictext.data.item import Item
from pictext.data.text import IMAGE_SUFFIXES, clean_text, decode_text, split_tags

SIDECAR_SUFFIX = ".json"


def read_folder(root: str | Path, *, name: str | None = None) -> Dataset:
    """Read a folder of class folders with JSON sidecars.

    Args:
        root: the folder whose sub-folders are the classes.
        name: dataset name; default the folder's name.
    """
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder of class folders: {root}")
    name = name or root.name
    items: list[Item] = []
    problems: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if len(rel.parts) < 2 or any(part.startswith(".") for part in rel.parts):
            continue  # files at the top level are not in a class; hidden files are ignored
        suffix = path.suffix.lower()
        if suffix == SIDECAR_SUFFIX:
            if not any(path.with_suffix(s).exists() for s in _sibling_suffixes(path)):
                problems.append(f"{rel.as_posix()}: sidecar without an image; ignored")
            continue
        item_id = rel.as_posix()
        if suffix not in IMAGE_SUFFIXES:
            problems.append(f"{item_id}: unsupported file type {suffix or '(none)'!r}; skipped")
            continue
        if path.stat().st_size == 0:
            problems.append(f"{item_id}: empty image file (0 bytes); skipped")
            continue
        fields, problem = read_sidecar(path.with_suffix(SIDECAR_SUFFIX))
        if problem:
            problems.append(f"{item_id}: {problem}")
        fine = rel.parts[1] if len(rel.parts) > 2 else None
        items.append(
            Item(item_id, str(path), label=rel.parts[0], fine_label=fine, source=name, **fields)
        )
    return Dataset(name, items, problems)


def _sibling_suffixes(sidecar: Path) -> list[str]:
    names = {p.suffix for p in sidecar.parent.glob(sidecar.stem + ".*")}
    return [s for s in names if s.lower() in IMAGE_SUFFIXES]


def read_sidecar(path: Path) -> tuple[dict, str]:
    """Text fields from a JSON sidecar, and a problem ("" when fine).

    A missing or broken sidecar gives empty fields and a problem that says the item was kept.
    """
    if not path.exists():
        return _empty(), f"no sidecar {path.name}; kept with empty text"
    text, problem = decode_text(path.read_bytes())
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        return _empty(), f"malformed sidecar {path.name} ({err}); kept with empty text"
    if not isinstance(data, dict):
        kind = type(data).__name__
        return _empty(), f"sidecar {path.name} holds a {kind}, not an object; kept with empty text"
    fields = text_fields(data)
    if problem:
        problem = f"sidecar {path.name} {problem}"
    return fields, problem


def text_fields(data: dict) -> dict:
    """``title``, ``description`` and ``tags`` of a metadata object, cleaned."""
    return {
        "title": clean_text(data.get("title")),
        "description": clean_text(data.get("description")),
        "tags": split_tags(data.get("tags")),
    }


def _empty() -> dict:
    return {"title": "", "description": "", "tags": ()}
