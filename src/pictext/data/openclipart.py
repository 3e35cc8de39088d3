"""Open Clip Art Library SVGs (Debian ``openclipart-svg``), with their RDF text.

``/usr/share/openclipart/svg/<class>/[<fine>/...]/<name>.svg``: label = top-level folder,
fine_label = the leaf folder (None for files directly in the class folder). Symlinked
copies are read once (by real path, first path in sorted order wins). Title, description
and tags come from the RDF ``<cc:Work>``. The icon-theme and generated-shape folders
``computer``, ``shapes`` and ``special`` are left out by default.
"""

from __future__ import annotations

import os
from pathlib import Path

from pictext.data.dataset import Dataset
from pictext.data.item import Item
from pictext.data.packages import data_path
from pictext.data.svg.meta import parse_svg_text, read_head

PACKAGE = "openclipart-svg"
SVG_ROOT = Path("/usr/share/openclipart/svg")
EXCLUDED = ("computer", "shapes", "special")  # icon themes and generated shapes


def read_openclipart(
    *, exclude: tuple[str, ...] = EXCLUDED, include_all: bool = False, root: Path | None = None
) -> Dataset:
    """The openclipart dataset (about 3,650 SVGs in 19 classes with the default exclusions).

    Args:
        exclude: top-level folders to leave out.
        include_all: keep every folder (overrides ``exclude``).
        root: the ``svg`` folder; default the Debian package's (installed if missing).
    """
    root = root or data_path(PACKAGE, SVG_ROOT)
    skip = () if include_all else tuple(exclude)
    items: list[Item] = []
    problems: list[str] = []
    seen: set[str] = set()
    for path in _svg_paths(root):
        rel = path.relative_to(root)
        if rel.parts[0] in skip or len(rel.parts) < 2:
            continue
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        item_id = rel.as_posix()
        try:
            if os.path.getsize(real) == 0:
                problems.append(f"{item_id}: empty SVG file (0 bytes); skipped")
                continue
            text = parse_svg_text(read_head(Path(real)))
        except OSError as err:
            problems.append(f"{item_id}: cannot read: {err}; skipped")
            continue
        if text.problem:
            problems.append(f"{item_id}: {text.problem}")
        fine = rel.parts[-2] if len(rel.parts) > 2 else None
        items.append(
            Item(
                item_id,
                real,
                title=text.title,
                description=text.description,
                tags=text.tags,
                label=rel.parts[0],
                fine_label=fine,
                source="openclipart",
            )
        )
    return Dataset("openclipart", items, problems)


def _svg_paths(root: Path) -> list[Path]:
    paths = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        paths += [Path(folder) / f for f in files if f.lower().endswith(".svg")]
    return sorted(paths)
