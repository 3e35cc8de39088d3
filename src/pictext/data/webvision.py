"""The WebVision layout as distributed (WebVision 1.0 and 2.0).

::

    root/info/synsets.txt                 line i: "n01440764 tench, Tinca tinca" (class i)
    root/info/train_filelist_google.txt   "google/q0001/000000.jpg 0"  (path, class index)
    root/info/train_filelist_flickr.txt   "flickr/q0001/000000.jpg 0"
    root/info/train_meta_list_google.txt  "google/q0001.json 1"  (optional; line-aligned with
    root/info/train_meta_list_flickr.txt   the filelist: meta file and 1-based index in it)
    root/google/q0001.json                [{"id": ..., "title": ..., "description": ...}, ...]
    root/flickr/q0001.json                [{"id": ..., "title": ..., "description": ...,
                                            "tags": [...] or "tag tag"}, ...]
    root/google/q0001/000000.jpg ...

The per-query JSON files are looked up at the path the meta list gives, relative to
``root``, then under ``root/meta/`` and ``root/<source>_json/`` (layouts seen in the wild).
Without a meta list, the n-th filelist line of query ``q0001`` takes entry n of
``q0001.json`` — the order the meta lists follow.

Labels: ``label`` is the synset's first name (made unique with the WordNet id when two
synsets share it, as ImageNet's two "crane"s do); ``fine_label`` is the query (``q0001``);
``source`` is ``webvision/google`` or ``webvision/flickr``.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from pictext.data.dataset import Dataset
from pictext.data.errors import DatasetNotFoundError
from pictext.data.folder import text_fields
from pictext.data.item import Item
from pictext.data.text import decode_text, split_tags

SOURCES = ("google", "flickr")


def is_webvision(root: Path) -> bool:
    """True when the folder has a WebVision ``info/`` file list."""
    return any((root / "info" / f"train_filelist_{s}.txt").is_file() for s in SOURCES)


def read_webvision(
    root: str | Path,
    *,
    sources: tuple[str, ...] = SOURCES,
    name: str = "webvision",
    check_files: bool = True,
) -> Dataset:
    """Read WebVision training images with their per-query metadata.

    Args:
        root: the folder holding ``info/``, ``google/`` and ``flickr/``.
        sources: which crawls to read.
        name: dataset name.
        check_files: skip (and report) items whose image file is missing or empty; turn off
            for 2.4M-image trees on slow storage.
    """
    root = Path(root)
    if not is_webvision(root):
        raise DatasetNotFoundError(f"{root}: no info/train_filelist_{{google,flickr}}.txt")
    classes = read_synsets(root / "info" / "synsets.txt")
    items: list[Item] = []
    problems: list[str] = []
    for source in sources:
        filelist = root / "info" / f"train_filelist_{source}.txt"
        if filelist.is_file():
            reader = _SourceReader(root, source, classes, name, problems, check_files)
            items += reader.read(filelist)
    return Dataset(name, items, problems, class_names=_class_order(classes))


def read_synsets(path: Path) -> list[tuple[str, str]]:
    """(label, WordNet id) per class index from ``synsets.txt``; labels made unique."""
    text, _ = decode_text(path.read_bytes())
    rows = [line.split(None, 1) for line in text.splitlines() if line.strip()]
    firsts = [(r[1].split(",")[0].strip() if len(r) > 1 else r[0]) for r in rows]
    counts = {n: firsts.count(n) for n in firsts}
    return [
        (f"{first} ({r[0]})" if counts[first] > 1 else first, r[0])
        for first, r in zip(firsts, rows, strict=True)
    ]


def _class_order(classes: list[tuple[str, str]]) -> list[str]:
    return [label for label, _ in classes]


class _SourceReader:
    """Reads one crawl (google or flickr); caches one query's JSON at a time."""

    def __init__(
        self,
        root: Path,
        source: str,
        classes: list[tuple[str, str]],
        name: str,
        problems: list[str],
        check_files: bool,
    ) -> None:
        self.root, self.source, self.classes = root, source, classes
        self.name, self.problems, self.check_files = name, problems, check_files
        self._meta_path: str | None = None
        self._meta: list | None = None

    def read(self, filelist: Path) -> list[Item]:
        lines = filelist.read_text(encoding="utf-8").splitlines()
        meta_list = self.root / "info" / f"train_meta_list_{self.source}.txt"
        refs = self._meta_refs(lines, meta_list)
        items = []
        for lineno, (line, ref) in enumerate(zip(lines, refs, strict=True), start=1):
            item = self._item(line, ref, f"{filelist.name}:{lineno}")
            if item is not None:
                items.append(item)
        return items

    def _meta_refs(self, lines: list[str], meta_list: Path) -> list[tuple[str, int] | None]:
        if meta_list.is_file():
            refs = [_parse_ref(r) for r in meta_list.read_text(encoding="utf-8").splitlines()]
            if len(refs) == len(lines):
                return refs
            self.problems.append(
                f"{meta_list.name}: {len(refs)} lines for {len(lines)} images; "
                "matching metadata by query order instead"
            )
        counters: dict[str, int] = {}
        refs = []
        for line in lines:
            parts = line.split()
            query = PurePosixPath(parts[0]).parent if parts else PurePosixPath()
            key = str(query)
            counters[key] = counters.get(key, 0) + 1
            refs.append((f"{key}.json", counters[key]) if parts else None)
        return refs

    def _item(self, line: str, ref: tuple[str, int] | None, where: str) -> Item | None:
        parts = line.split()
        if not parts:
            return None
        rel = parts[0]
        if len(parts) < 2 or not parts[1].lstrip("-").isdigit():
            self.problems.append(f"{rel}: {where}: no class index; skipped")
            return None
        index = int(parts[1])
        if not 0 <= index < len(self.classes):
            self.problems.append(f"{rel}: class index {index} not in synsets.txt; skipped")
            return None
        path = self.root / rel
        if self.check_files and (not path.is_file() or path.stat().st_size == 0):
            what = "image file not found" if not path.is_file() else "empty image file (0 bytes)"
            self.problems.append(f"{rel}: {what}; skipped")
            return None
        fields = self._fields(rel, ref)
        query = PurePosixPath(rel).parent.name or None
        return Item(
            rel,
            str(path),
            label=self.classes[index][0],
            fine_label=query,
            source=f"{self.name}/{self.source}",
            **fields,
        )

    def _fields(self, rel: str, ref: tuple[str, int] | None) -> dict:
        empty = {"title": "", "description": "", "tags": ()}
        if ref is None:
            return empty
        meta = self._load_meta(rel, ref[0])
        if meta is None:
            return empty
        if not 1 <= ref[1] <= len(meta) or not isinstance(meta[ref[1] - 1], dict):
            self.problems.append(f"{rel}: no metadata entry {ref[1]} in {ref[0]}; empty text")
            return empty
        entry = meta[ref[1] - 1]
        fields = text_fields(entry)
        fields["tags"] = split_tags(entry.get("tags"), whitespace=True)
        return fields

    def _load_meta(self, rel: str, meta_rel: str) -> list | None:
        if meta_rel != self._meta_path:
            self._meta_path, self._meta = meta_rel, self._read_meta(rel, meta_rel)
        return self._meta

    def _read_meta(self, rel: str, meta_rel: str) -> list | None:
        found = _find_meta(self.root, meta_rel, self.source)
        if found is None:
            self.problems.append(f"{rel}: metadata file {meta_rel} not found; empty text")
            return None
        text, problem = decode_text(found.read_bytes())
        if problem:
            self.problems.append(f"{meta_rel}: {problem}")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            self.problems.append(f"{meta_rel}: malformed JSON ({err}); its items get empty text")
            return None
        if not isinstance(data, list):
            self.problems.append(f"{meta_rel}: not a JSON list; its items get empty text")
            return None
        return data


def _parse_ref(line: str) -> tuple[str, int] | None:
    parts = line.split()
    if len(parts) >= 2 and parts[1].isdigit():
        return parts[0], int(parts[1])
    return None


def _find_meta(root: Path, meta_rel: str, source: str) -> Path | None:
    rel = PurePosixPath(meta_rel)
    candidates = [root / rel, root / "meta" / rel]
    if rel.parts and rel.parts[0] == source:
        candidates.append(root / f"{source}_json" / PurePosixPath(*rel.parts[1:]))
        candidates.append(root / "meta" / PurePosixPath(*rel.parts[1:]))
    return next((c for c in candidates if c.is_file()), None)
