"""Write a collection, its edits applied, in the formats :func:`load_dataset` reads.

- ``csv`` / ``jsonl``: a manifest at ``out`` (columns ``id, path, label, fine_label, title,
  description, tags``; CSV tags joined with ``;``) and the images beside it in
  ``<out stem>.images/<content hash><suffix>``, hard-linked when the file system allows
  (else copied), so the export reads back with no ``--allow-outside-root``. Ids are kept.
- ``folder``: ``out/<label>[/<fine label>]/<name>`` with a ``<name>.json`` sidecar holding
  title, description and tags. The folder format names items by their path, so ids become
  ``label/name``; unlabelled items have no class folder and are refused.

Ignored and removed items are left out. The user's source files are only read.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from pathlib import Path

from pictext.collection.store import Collection, CollectionItem
from pictext.core.atomic import atomic_folder, atomic_write_text
from pictext.core.errors import InputError, UsageError

FORMATS = ("csv", "jsonl", "folder")
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def export_collection(collection: Collection, fmt: str, out: str | Path) -> int:
    """Write the edited collection to ``out``; returns the number of items written.

    Raises:
        UsageError: an unknown format.
        InputError: an item without an image file, or unlabelled in a folder export.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; use {', '.join(FORMATS)}", item=fmt)
    out = Path(out)
    items = collection.items()
    for it in items:
        if not it.source_path or not Path(it.source_path).is_file():
            raise InputError(f"{it.id}: image file {it.source_path} is missing; not exported",
                             item=it.id)  # fmt: skip
    if fmt == "folder":
        _folder(items, out)
    else:
        _manifest(items, out, fmt)
    return len(items)


def _place(src: str, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _manifest(items: list[CollectionItem], out: Path, fmt: str) -> None:
    images = out.with_name(out.stem + ".images")
    rows = []
    for it in items:
        suffix = Path(it.source_path or "").suffix.lower()
        name = f"{it.content_hash or _safe(it.id)}{suffix}"
        _place(it.source_path or "", images / name)
        rows.append(
            {
                "id": it.id,
                "path": f"{images.name}/{name}",
                "label": it.label or "",
                "fine_label": it.fine_label or "",
                "title": it.title,
                "description": it.description,
                "tags": list(it.tags),
            }
        )
    if fmt == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    else:
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["id", "path"])
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "tags": ";".join(r["tags"])})
        text = buffer.getvalue()
    atomic_write_text(out, text)


def _folder(items: list[CollectionItem], out: Path) -> None:
    unlabelled = [it.id for it in items if not it.label]
    if unlabelled:
        raise InputError(
            f"{unlabelled[0]}: unlabelled ({len(unlabelled)} items in all); a folder export "
            "needs a label per item: use --format csv or jsonl",
            item=unlabelled[0],
        )
    with atomic_folder(out) as tmp:
        used: set[str] = set()
        for it in items:
            parts = [_safe(it.label or "")] + ([_safe(it.fine_label)] if it.fine_label else [])
            suffix = Path(it.source_path or "").suffix.lower()
            stem = _safe(Path(it.id).stem) or (it.content_hash or "item")[:16]
            rel = "/".join([*parts, stem])
            if rel in used:
                rel = f"{rel}-{(it.content_hash or str(len(used)))[:12]}"
            used.add(rel)
            _place(it.source_path or "", tmp / f"{rel}{suffix}")
            sidecar = {"title": it.title, "description": it.description, "tags": list(it.tags)}
            (tmp / f"{rel}.json").write_text(json.dumps(sidecar, ensure_ascii=False))


def _safe(name: str) -> str:
    """A file-name-safe form of a label or id part."""
    return _UNSAFE.sub("_", name).strip(" .")[:100]
