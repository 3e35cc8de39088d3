"""WebVision's per-query metadata: finding the JSON files and linking records to images.

Each query of a crawl has one JSON list of records (``google/q0001.json``), one record per
crawled image: ``id``, ``title``, ``description`` and, for Flickr, ``tags`` (a list in 1.0,
one space-separated string in 2.0); Google records also hold ``site``, ``page_url`` and the
like, which are not read. A record's ``id`` is its image's file stem
(``google/q0001/<id>.jpg``), and that is the link used here:

- **with a meta list** (``info/train_meta_list_<source>.txt``, line-aligned with the file
  list: ``google/q0001.json 7`` = record 7, 1-based), the row's record is read and its
  ``id`` checked against the image's stem. On a mismatch the record whose ``id`` is the stem
  is used when the JSON has one; otherwise the row's record is kept. Both are reported.
- **without one** (or one whose length differs from the file list), each JSON is indexed by
  ``id`` and every image looks its stem up. A JSON holds records whose image is not in the
  file list (images removed after the crawl), so the n-th image is *not* the n-th record.

A JSON file is found at the path the meta list gives (or ``<source>/<query>.json``) under
``meta_root=`` when given, then under the tree's root, ``meta/`` and ``metadata/``, each also
without the ``<source>/`` part, then under ``<source>_json/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pictext.core.defaults import MAX_MANIFEST_BYTES, MAX_META_BYTES
from pictext.core.limits import FileTooLargeError, read_bounded
from pictext.core.lru import LruCache
from pictext.data.folder import checked_text_fields
from pictext.data.text import decode_text

META_FOLDERS = ("", "meta", "metadata")  # under the root, where query JSON files are looked for
_OPEN_JSON = 8  # query JSON files kept parsed at once (file lists are grouped by query)

Ref = tuple[str, int]  # (meta file relative path, 1-based record number)


@dataclass
class _Records:
    """One query's JSON: its records and where each ``id`` is."""

    path: str  # as named in the meta list (or derived from the query folder)
    records: list | None  # None: missing or unreadable (already reported)
    by_id: dict[str, int] = field(default_factory=dict)  # id -> index in records


def empty_fields() -> dict:
    return {"title": "", "description": "", "tags": ()}


def read_meta_list(path: Path, n_lines: int, problems: list[str]) -> list[Ref | None] | None:
    """The rows of a meta list, or None when it is absent or does not match the file list."""
    if not path.is_file():
        return None
    try:
        data = read_bounded(path, MAX_MANIFEST_BYTES, "a meta list")
    except FileTooLargeError as err:
        problems.append(f"{path.name} {err.problem}; metadata not linked")
        return None
    text, _ = decode_text(data)
    refs = [_parse_ref(r) for r in text.splitlines()]
    while refs and refs[-1] is None and len(refs) > n_lines:
        refs.pop()  # trailing blank lines
    if len(refs) != n_lines:
        problems.append(
            f"{path.name}: {len(refs)} lines for {n_lines} images; "
            "linking metadata by record id (= image file stem) instead"
        )
        return None
    return refs


def _parse_ref(line: str) -> Ref | None:
    parts = line.split()
    if len(parts) >= 2 and parts[1].isdigit():
        return parts[0], int(parts[1])
    return None


class MetaLinker:
    """Text fields for the images of one crawl, from its per-query JSON files."""

    def __init__(
        self, root: Path, source: str, meta_root: Path | None, problems: list[str]
    ) -> None:
        self.root, self.source, self.problems = root, source, problems
        bases = [meta_root] if meta_root is not None else []
        self.bases = [*bases, *(root / f if f else root for f in META_FOLDERS)]
        self._cache: LruCache[_Records] = LruCache(_OPEN_JSON)
        self._last_hit: tuple[int, bool] | None = None  # (base index, source part dropped)

    def fields(self, rel: str, ref: Ref | None, list_name: str) -> tuple[dict, list[str]]:
        """(title, description, tags) of image ``rel`` and notes on how they were found.

        Args:
            rel: the image's path as the file list gives it (``google/q0001/<id>.jpg``).
            ref: its meta-list row, or None to link by id.
            list_name: the meta list's file name, for the notes.
        """
        parent, _, name = rel.rpartition("/")
        stem = name.rpartition(".")[0] or name
        meta_rel = ref[0] if ref is not None else f"{parent}.json"
        recs = self._records(meta_rel)
        if recs.records is None:
            return empty_fields(), [f"metadata file {meta_rel} not found or unreadable; empty text"]
        if ref is None:
            index = recs.by_id.get(stem)
            if index is None:
                return empty_fields(), [f"no record with id {stem!r} in {meta_rel}; empty text"]
            return self._checked(recs.records[index], meta_rel)
        return self._by_row(recs, ref[1], stem, list_name)

    def _by_row(self, recs: _Records, row: int, stem: str, list_name: str) -> tuple[dict, list]:
        records = recs.records or []
        if not 1 <= row <= len(records) or not isinstance(records[row - 1], dict):
            return empty_fields(), [f"no metadata record {row} in {recs.path}; empty text"]
        record = records[row - 1]
        rid = record.get("id")
        if rid is None or str(rid) == stem:
            return self._checked(record, recs.path)
        index = recs.by_id.get(stem)
        where = f"{list_name} points to record {row} of {recs.path}, whose id is {str(rid)!r}"
        if index is None:
            fields, notes = self._checked(record, recs.path)
            return fields, [f"{where}, not the image's {stem!r}; kept that record", *notes]
        fields, notes = self._checked(records[index], recs.path)
        return fields, [f"{where}; used the record with id {stem!r} instead", *notes]

    def _checked(self, record: dict, meta_rel: str) -> tuple[dict, list[str]]:
        fields, wrong = checked_text_fields(record)
        return fields, [f"{meta_rel}: {w}" for w in wrong]

    def _records(self, meta_rel: str) -> _Records:
        recs = self._cache.get(meta_rel)
        if recs is None:
            recs = self._load(meta_rel)
            self._cache.put(meta_rel, recs)
        return recs

    def _load(self, meta_rel: str) -> _Records:
        found = self._find(meta_rel)
        if found is None:
            self.problems.append(f"{meta_rel}: metadata file not found; its images get empty text")
            return _Records(meta_rel, None)
        try:
            text, problem = decode_text(read_bounded(found, MAX_META_BYTES, "a metadata file"))
        except FileTooLargeError as err:
            self.problems.append(f"{meta_rel}: {err.problem}; its images get empty text")
            return _Records(meta_rel, None)
        except OSError as err:
            self.problems.append(f"{meta_rel}: cannot read ({err.strerror or err}); empty text")
            return _Records(meta_rel, None)
        if problem:
            self.problems.append(f"{meta_rel}: {problem}")
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as err:
            self.problems.append(f"{meta_rel}: malformed JSON ({err}); its items get empty text")
            return _Records(meta_rel, None)
        if not isinstance(data, list):
            self.problems.append(f"{meta_rel}: not a JSON list; its items get empty text")
            return _Records(meta_rel, None)
        return _Records(meta_rel, data, self._index(meta_rel, data))

    def _index(self, meta_rel: str, records: list) -> dict[str, int]:
        by_id: dict[str, int] = {}
        doubles = 0
        for i, rec in enumerate(records):
            if isinstance(rec, dict) and rec.get("id") is not None:
                key = str(rec["id"])
                doubles += key in by_id
                by_id.setdefault(key, i)
        if doubles:
            self.problems.append(f"{meta_rel}: {doubles} repeated record id(s); first one used")
        return by_id

    def _find(self, meta_rel: str) -> Path | None:
        rel = PurePosixPath(meta_rel)
        tail = PurePosixPath(*rel.parts[1:]) if len(rel.parts) > 1 else rel
        candidates = [(b, False) for b in range(len(self.bases))]
        candidates += [(b, True) for b in range(len(self.bases))]
        if self._last_hit is not None:  # the layout of the previous file first
            candidates.insert(0, self._last_hit)
        for base, drop in candidates:
            path = self.bases[base] / (tail if drop else rel)
            if path.is_file():
                self._last_hit = (base, drop)
                return path
        json_dir = self.root / f"{self.source}_json" / tail
        return json_dir if json_dir.is_file() else None
