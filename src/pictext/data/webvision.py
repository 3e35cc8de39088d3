"""The WebVision layout as distributed (WebVision 1.0 and 2.0).

::

    root/info/synsets.txt                 line i: "n01440764 tench, Tinca tinca" (class i)
    root/info/train_filelist_google.txt   "google/q0001/<id>.jpg 0"   (path, class index)
    root/info/train_filelist_flickr.txt   "flickr/q0001/<id>.jpg 0"
    root/info/train_meta_list_google.txt  "google/q0001.json 1"  (optional; line-aligned with
    root/info/train_meta_list_flickr.txt   the file list: JSON file, 1-based record)
    root/info/queries_google.txt          "1 tench"   (1.0: query index, query text;
    root/info/queries_flickr.txt           2.0: one info/queries.txt for both crawls)
    root/info/val_filelist.txt            "val000001.jpg 0"  (the human-checked validation set)
    root/google/q0001.json                [{"id": "<id>", "title": ..., "description": ...}]
    root/flickr/q0001.json                [{"id": ..., "title": ..., "tags": [...] or "a b"}]
    root/google/q0001/<id>.jpg ...        (2.0: five-digit query folders, q00001)
    root/val_images_256/val000001.jpg     (2.0: val_images_resized/)

Where things are looked for:

- **images** at the file list's path under ``image_root=`` when given, else under the root,
  else under ``root/train_images_256/`` (how several loaders unpack 2.0). The choice is made
  once, on the first lines of the file lists; files are **not** checked one by one (a 16M
  image tree would cost 16M ``stat`` calls before any work): a missing image is a per-item
  failure when it is decoded (``image file not found``), as for every reader. Pass
  ``check_files=True`` to drop missing and empty files up front on a small tree.
- **metadata** (the per-query JSON files): see :mod:`pictext.data.webvision_meta`; the link
  is the record's ``id`` = the image's file stem, checked against the meta list when there is
  one. ``meta_root=`` names the folder holding ``google/`` and ``flickr/`` JSON files.
- **validation images** under ``val_images_256/``, ``val_images_resized/``, ``val_images/``
  or ``val/`` (of the root, or of ``image_root``).

What an item gets: ``id`` is the file list's path (``val/<name>`` for validation images),
``label`` the synset's first name (made unique with the WordNet id when two synsets share it,
as ImageNet's two "crane"s do), ``fine_label`` the query's text (``q0001`` when no queries
file is found; with ``query_tag=True`` the text is also the item's first tag), ``source``
``webvision/google``, ``webvision/flickr`` or ``webvision/val``. The dataset's
``label_words`` hold each class's synonyms (the rest of its ``synsets.txt`` line) and the
text of every query of it, so that ``strip_label_words`` removes them too: WebVision's titles
were retrieved by those queries. The validation items are the predefined set
``webvision_val`` (:attr:`Dataset.predefined`): a random split leaves them out and the
evaluation reports on them as a side of their own.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from pictext.core.defaults import MAX_MANIFEST_BYTES
from pictext.core.errors import InputError
from pictext.core.limits import FileTooLargeError, read_bounded
from pictext.data.dataset import SKIPPED, Dataset
from pictext.data.errors import DatasetNotFoundError
from pictext.data.item import Item
from pictext.data.text import decode_text
from pictext.data.webvision_meta import MetaLinker, empty_fields, read_meta_list

SOURCES = ("google", "flickr")
TRAIN_IMAGE_FOLDERS = ("", "train_images_256")  # under the root, tried in order
VAL_IMAGE_FOLDERS = ("val_images_256", "val_images_resized", "val_images", "val")
VAL = "webvision_val"  # the name of the predefined validation set
_PROBE = 8  # file-list lines checked to choose where images are
_QUERY = re.compile(r"q(\d+)")


@dataclass(frozen=True)
class Synset:
    """One class of ``synsets.txt``."""

    label: str  # its first name, made unique
    wnid: str  # WordNet id
    names: tuple[str, ...]  # every name on its line (synonyms), first one included


def is_webvision(root: Path) -> bool:
    """True when the folder has a WebVision ``info/`` file list."""
    return any((root / "info" / f"train_filelist_{s}.txt").is_file() for s in SOURCES)


def read_webvision(
    root: str | Path,
    *,
    sources: tuple[str, ...] = SOURCES,
    name: str = "webvision",
    image_root: str | Path | None = None,
    meta_root: str | Path | None = None,
    val: bool = True,
    query_tag: bool = False,
    check_files: bool = False,
) -> Dataset:
    """Read WebVision training images with their per-query metadata, and its validation set.

    Args:
        root: the folder holding ``info/`` (and usually ``google/`` and ``flickr/``).
        sources: which crawls to read.
        name: dataset name.
        image_root: the folder the file lists' paths are relative to (default: the root,
            else ``root/train_images_256``).
        meta_root: the folder holding the per-query JSON files (default: searched).
        val: also read ``info/val_filelist.txt`` as the predefined set ``webvision_val``.
        query_tag: also give each training item its query's text as its first tag.
        check_files: ``stat`` every image and skip (and report) missing or empty ones;
            default off: missing images fail, named, when they are decoded.

    Raises:
        DatasetNotFoundError: no file list, or no ``info/synsets.txt``.
        InputError: an ``info/`` file that is there cannot be read.
    """
    root = Path(root)
    if not is_webvision(root):
        raise DatasetNotFoundError(
            f"{root}: no info/train_filelist_{{google,flickr}}.txt", item=str(root)
        )
    synsets = read_synset_file(root / "info" / "synsets.txt")
    problems: list[str] = []
    lists = {s: _lines(root / "info" / f"train_filelist_{s}.txt", keep_blank=True) for s in sources}
    lists = {s: lines for s, lines in lists.items() if lines is not None}
    bases = (
        [Path(image_root)]
        if image_root is not None
        else [_sub(root, f) for f in TRAIN_IMAGE_FOLDERS]
    )
    image_base = _choose_base(bases, [_first_paths(lines) for lines in lists.values()], problems)
    opts = _Options(name, image_base, None if meta_root is None else Path(meta_root), query_tag,
                    check_files)  # fmt: skip
    items: list[Item] = []
    queries_seen: dict[str, set[str]] = {}
    for source, lines in lists.items():
        reader = _SourceReader(root, source, synsets, opts, problems)
        items += reader.read(lines)
        for label, text in reader.query_labels:
            queries_seen.setdefault(label, set()).add(text)
    predefined: dict[str, tuple[str, ...]] = {}
    if val:
        val_items = _read_val(root, image_root, synsets, opts, problems)
        if val_items:
            items += val_items
            predefined[VAL] = tuple(it.id for it in val_items)
    label_words = {
        s.label: tuple(dict.fromkeys([*s.names[1:], *sorted(queries_seen.get(s.label, ()))]))
        for s in synsets
    }
    return Dataset(
        name,
        items,
        problems,
        class_names=[s.label for s in synsets],
        label_words={k: v for k, v in label_words.items() if v},
        predefined=predefined,
    )


def read_synset_file(path: Path) -> list[Synset]:
    """The classes of ``synsets.txt``, in class-index order; labels made unique.

    Raises:
        DatasetNotFoundError: the file is missing or unreadable.
    """
    lines = _lines(path)
    if lines is None:
        raise DatasetNotFoundError(f"{path}: no WebVision synsets.txt", item=str(path))
    rows = [line.split(None, 1) for line in lines]
    names = [
        tuple(n.strip() for n in r[1].split(",") if n.strip()) if len(r) > 1 else (r[0],)
        for r in rows
    ]
    firsts = [n[0] if n else r[0] for n, r in zip(names, rows, strict=True)]
    counts = {n: firsts.count(n) for n in firsts}
    return [
        Synset(f"{first} ({r[0]})" if counts[first] > 1 else first, r[0], n or (first,))
        for first, r, n in zip(firsts, rows, names, strict=True)
    ]


def read_queries(info: Path, source: str) -> dict[int, str]:
    """Query index -> query text, from ``queries_<source>.txt`` (1.0) or ``queries.txt``.

    A line is ``"<index> <text>"``; a line without a leading index takes its line number.
    Empty when neither file is there.
    """
    for path in (info / f"queries_{source}.txt", info / "queries.txt"):
        lines = _lines(path)
        if lines is not None:
            out: dict[int, str] = {}
            for number, line in enumerate(lines, start=1):
                head, _, rest = line.partition(" ")
                if head.isdigit() and rest.strip():
                    out[int(head)] = " ".join(rest.split())
                else:
                    out[number] = " ".join(line.split())
            return out
    return {}


@dataclass(frozen=True)
class _Options:
    name: str
    image_base: Path
    meta_root: Path | None
    query_tag: bool
    check_files: bool


class _SourceReader:
    """Reads one crawl (google or flickr)."""

    def __init__(
        self, root: Path, source: str, synsets: list[Synset], opts: _Options, problems: list[str]
    ) -> None:
        self.root, self.source, self.synsets, self.opts = root, source, synsets, opts
        self.problems = problems
        self.queries = read_queries(root / "info", source)
        self.meta = MetaLinker(root, source, opts.meta_root, problems)
        self.query_labels: set[tuple[str, str]] = set()  # (class label, query text) seen
        self.base = str(opts.image_base)

    def read(self, lines: list[str]) -> list[Item]:
        list_name = f"train_meta_list_{self.source}.txt"
        refs = read_meta_list(self.root / "info" / list_name, len(lines), self.problems)
        items = []
        for lineno, line in enumerate(lines):
            ref = refs[lineno] if refs is not None else None
            where = f"train_filelist_{self.source}.txt:{lineno + 1}"
            item = self._item(line, ref, where, list_name)
            if item is not None:
                items.append(item)
        return items

    def _item(self, line: str, ref, where: str, list_name: str) -> Item | None:
        parsed = _parse_line(line, len(self.synsets), where, self.problems)
        if parsed is None:
            return None
        rel, index = parsed
        path = os.path.join(self.base, rel)  # plain strings: pathlib costs more per item
        if self.opts.check_files and not _usable(rel, Path(path), self.problems):
            return None
        fields, notes = self.meta.fields(rel, ref, list_name)
        self.problems.extend(f"{rel}: {n}" for n in notes)
        label = self.synsets[index].label
        parent = rel.rpartition("/")[0]
        query = parent.rpartition("/")[2] or None
        text = self._query_text(query)
        if text is not None:
            self.query_labels.add((label, text))
            if self.opts.query_tag:
                fields["tags"] = (text, *(t for t in fields["tags"] if t != text))
        return Item(
            rel,
            path,
            label=label,
            fine_label=text or query,
            source=f"{self.opts.name}/{self.source}",
            **fields,
        )

    def _query_text(self, folder: str | None) -> str | None:
        match = _QUERY.fullmatch(folder or "")
        return self.queries.get(int(match.group(1))) if match else None


def _read_val(
    root: Path,
    image_root: str | Path | None,
    synsets: list[Synset],
    opts: _Options,
    problems: list[str],
) -> list[Item]:
    lines = _lines(root / "info" / "val_filelist.txt")
    if not lines:
        return []
    parents = [root] + ([Path(image_root)] if image_root is not None else [])
    bases = [p / f for p in parents for f in VAL_IMAGE_FOLDERS]
    base = _choose_base(bases, [_first_paths(lines)], problems)
    items = []
    for lineno, line in enumerate(lines, start=1):
        parsed = _parse_line(line, len(synsets), f"val_filelist.txt:{lineno}", problems)
        if parsed is None:
            continue
        rel, index = parsed
        item_id, path = f"val/{rel}", base / rel
        if opts.check_files and not _usable(item_id, path, problems):
            continue
        items.append(
            Item(
                item_id,
                str(path),
                label=synsets[index].label,
                source=f"{opts.name}/val",
                **empty_fields(),
            )
        )
    return items


def _parse_line(line: str, n_classes: int, where: str, problems: list[str]):
    """(path, class index) of a file-list line, or None (reported) when it has none."""
    parts = line.split()
    if not parts:
        return None
    rel = parts[0]
    if len(parts) < 2 or not parts[1].lstrip("-").isdigit():
        problems.append(f"{rel}: {where}: no class index{SKIPPED}")
        return None
    index = int(parts[1])
    if not 0 <= index < n_classes:
        problems.append(f"{rel}: class index {index} not in synsets.txt{SKIPPED}")
        return None
    return rel, index


def _usable(item_id: str, path: Path, problems: list[str]) -> bool:
    try:
        size = path.stat().st_size
    except OSError:
        problems.append(f"{item_id}: image file not found{SKIPPED}")
        return False
    if size == 0:
        problems.append(f"{item_id}: empty image file (0 bytes){SKIPPED}")
        return False
    return True


def _first_paths(lines: list[str]) -> list[str]:
    """The paths of the first few non-blank file-list lines."""
    return [line.split()[0] for line in islice((ln for ln in lines if ln.strip()), _PROBE)]


def _choose_base(bases: list[Path], probes: list[list[str]], problems: list[str]) -> Path:
    """The first folder under which one of the probed file-list paths exists (a few
    ``stat`` calls per folder, whatever the size of the tree)."""
    probe = [rel for paths in probes for rel in paths]
    for base in bases:
        if any((base / rel).is_file() for rel in probe):
            return base
    if probe:
        tried = ", ".join(str(b) for b in bases)
        problems.append(
            f"{probe[0]}: none of the first {len(probe)} images found under {tried}; "
            f"reading paths under {bases[0]} (pass image_root=)"
        )
    return bases[0]


def _sub(root: Path, folder: str) -> Path:
    return root / folder if folder else root


def _lines(path: Path, *, keep_blank: bool = False) -> list[str] | None:
    """The lines of a text file (blank ones dropped unless ``keep_blank``; trailing ones
    always), or None when it is not there.

    Raises:
        InputError: it is there but cannot be read.
    """
    try:
        data = read_bounded(path, MAX_MANIFEST_BYTES, "a list file")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except FileTooLargeError as err:
        raise InputError(str(err), item=str(path)) from None
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})", item=str(path)) from None
    lines = decode_text(data)[0].splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines if keep_blank else [line for line in lines if line.strip()]
