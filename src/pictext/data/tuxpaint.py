"""Tux Paint stamps (Debian ``tuxpaint-stamps-default``) with their English description.

``/usr/share/tuxpaint/stamps/<class>/[<fine>/...]/<name>.{png,svg}`` + ``<name>.txt``.

- ``description`` = the first line of ``<name>.txt`` (English; the ``xx.utf8=`` lines after
  it are translations and are ignored);
- ``title`` = the file stem with ``_`` as spaces (``Candy_cane_photo_1`` -> "Candy cane
  photo 1"): it is what the stamp's author named it, nothing more;
- no tags; label = top-level folder; fine_label = second-level folder (None at top level);
- ``*_mirror`` images (pre-flipped copies) are skipped; a stamp shipped as both PNG and SVG
  is read once, as PNG; a stamp without ``.txt`` is skipped and reported; sounds
  (``.ogg``/``.wav``) and ``.dat`` files are ignored.
"""

from __future__ import annotations

import os
from pathlib import Path

from pictext.core.defaults import MAX_SIDECAR_BYTES
from pictext.core.limits import FileTooLargeError, read_bounded
from pictext.data.dataset import Dataset
from pictext.data.item import Item
from pictext.data.packages import data_path
from pictext.data.text import clean_text, decode_text

PACKAGE = "tuxpaint-stamps-default"
STAMPS_ROOT = Path("/usr/share/tuxpaint/stamps")
_PREFERENCE = (".png", ".svg")  # first wins when a stamp has both


def read_tuxpaint(*, root: Path | None = None) -> Dataset:
    """The tuxpaint dataset (about 950 stamps in 16 classes).

    Args:
        root: the ``stamps`` folder; default the Debian package's (installed if missing).
    """
    root = root or data_path(PACKAGE, STAMPS_ROOT)
    items: list[Item] = []
    problems: list[str] = []
    for stem, path in _stamps(root):
        rel = path.relative_to(root)
        item_id = rel.with_suffix("").as_posix()
        if len(rel.parts) < 2:
            continue
        description, problem = _description(stem.with_suffix(".txt"))
        if problem:
            problems.append(f"{item_id}: {problem}")
            if not description:
                continue
        fine = rel.parts[1] if len(rel.parts) > 2 else None
        title = clean_text(stem.name.replace("_", " "))
        items.append(
            Item(
                item_id,
                str(path),
                title=title,
                description=description,
                label=rel.parts[0],
                fine_label=fine,
                source="tuxpaint",
            )
        )
    return Dataset("tuxpaint", items, problems)


def _stamps(root: Path) -> list[tuple[Path, Path]]:
    """(stem, image path) per stamp, mirrors dropped, PNG preferred over SVG; sorted."""
    chosen: dict[Path, Path] = {}
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            path = Path(folder) / name
            suffix = path.suffix.lower()
            if suffix not in _PREFERENCE or "_mirror" in path.stem:
                continue
            stem = path.with_suffix("")
            current = chosen.get(stem)
            if current is None or _PREFERENCE.index(suffix) < _PREFERENCE.index(
                current.suffix.lower()
            ):
                chosen[stem] = path
    return sorted(chosen.items())


def _description(txt: Path) -> tuple[str, str]:
    """First (English) line of a stamp's .txt, and a problem ("" when fine)."""
    try:
        data = read_bounded(txt, MAX_SIDECAR_BYTES, "a description file")
    except FileNotFoundError:
        return "", f"no description file {txt.name}; skipped"
    except FileTooLargeError as err:
        return "", f"description file {txt.name} {err.problem}; skipped"
    text, problem = decode_text(data)
    first = clean_text(text.splitlines()[0] if text.strip() else "")
    if not first:
        return "", f"empty description file {txt.name}; skipped"
    return first, f"{txt.name} {problem}" if problem else ""
