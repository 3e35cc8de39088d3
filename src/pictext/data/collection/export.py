"""Write a collection (edits applied) out as a folder with sidecars, a CSV or a JSONL manifest.

Each form is read back by :func:`pictext.data.load_dataset` to the same items:

- ``folder``: ``OUT/<label>/[<fine_label>/]<name>`` with a ``<stem>.json`` sidecar (title,
  description, tags). The folder reader names items by their path, so ids become those
  paths; labels, fine labels, text and image bytes are kept. An unlabelled item has no
  class folder: it is named and left out.
- ``csv`` / ``jsonl``: the manifest at OUT, with the images copied beside it under
  ``<OUT stem>.images/``; rows keep each item's id, label, fine label and text.

Images are copied, never moved; an item with no image file (in-memory pixels) is written
as PNG. The output is written whole or not at all (a folder is built aside and swapped in).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

from pictext.core.atomic import atomic_folder, atomic_write_text
from pictext.data.collection.errors import CollectionError
from pictext.data.dataset import Dataset
from pictext.data.item import Item

FORMATS = ("folder", "csv", "jsonl")


def _copy_image(item: Item, target: Path) -> Path:
    """Copy (or encode) the item's image to ``target`` with the source's suffix."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if item.image is not None:
        target = target.with_suffix(Path(item.image).suffix.lower() or ".png")
        shutil.copyfile(item.image, target)
        return target
    if item.pixels is None:
        raise CollectionError(f"{item.id}: no image to export", item=item.id)
    from PIL import Image

    target = target.with_suffix(".png")
    Image.fromarray(item.pixels).save(target)
    return target


def _safe(part: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in part).lstrip(".") or "_"


def export(dataset: Dataset, fmt: str, out: str | Path) -> list[str]:
    """Write ``dataset`` to ``out`` in ``fmt``; return the items left out ("id: why").

    Raises:
        CollectionError: an unknown format, or ``out`` exists already.
    """
    out = Path(out)
    if fmt not in FORMATS:
        raise CollectionError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if out.exists():
        raise CollectionError(f"{out}: already exists; name a new path", item=str(out))
    if fmt == "folder":
        return _folder(dataset, out)
    return _manifest(dataset, fmt, out)


def _folder(dataset: Dataset, out: Path) -> list[str]:
    skipped = []
    with atomic_folder(out) as tmp:
        used: set[str] = set()
        for it in dataset.items:
            if not it.label:
                skipped.append(f"{it.id}: unlabelled, no class folder to put it in; left out")
                continue
            parts = [_safe(it.label)] + ([_safe(it.fine_label)] if it.fine_label else [])
            stem = _safe(Path(it.id).stem)
            while "/".join([*parts, stem]) in used:
                stem += "_"
            used.add("/".join([*parts, stem]))
            image = _copy_image(it, tmp.joinpath(*parts, stem))
            side = {"title": it.title, "description": it.description, "tags": list(it.tags)}
            image.with_suffix(".json").write_text(json.dumps(side, ensure_ascii=False))
    return skipped


def _manifest(dataset: Dataset, fmt: str, out: Path) -> list[str]:
    out.parent.mkdir(parents=True, exist_ok=True)
    images = out.parent / f"{out.stem}.images"
    rows = []
    with atomic_folder(images) as tmp:
        for n, it in enumerate(dataset.items):
            image = _copy_image(it, tmp / f"{n:07d}_{_safe(Path(it.id).stem)}")
            rows.append(
                {
                    "id": it.id,
                    "path": f"{images.name}/{image.name}",
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
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["id", "path"])
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "tags": ";".join(r["tags"])})
        text = buf.getvalue()
    atomic_write_text(out, text)
    return []
