"""A folder of class folders, each image with an optional JSON sidecar.

Layout::

    root/dog/123.jpg
    root/dog/123.json     {"title": "...", "description": "...", "tags": ["...", ...]}
    root/dog/puppies/7.png   (deeper folders: fine_label = "puppies")

A sidecar is looked for as ``123.json``, then ``123.jpg.json``, then ``123`` with no
extension (the WebVision study's layout: ``train/<wnid>/<id>.jpg`` beside a JSON file named
``<id>``); when an image has more than one, the first is read and the others are named.

Sidecar schema: ``title`` and ``description`` are strings, ``tags`` is a list of strings
(or one string, split on ``;``, else ``,``, else whitespace: Flickr's ``"fish tench lake"``
is three tags); each may be missing or null. Other keys are ignored.

Decisions for bad input, each recorded in ``Dataset.problems`` as ``"id: problem"`` (those
that drop the entry end in ``"; skipped"``, see :attr:`Dataset.skipped`):

- a missing, unreadable, empty or malformed sidecar: the item is **kept** with empty text
  (its image is still useful; the missing-text rates show it);
- a sidecar field of the wrong type (a list or number for ``title``, a dict for ``tags``):
  the item is kept and **that field** is left empty;
- a sidecar that is not valid UTF-8: the item is kept, undecodable bytes are replaced;
- a missing or zero-byte image, or a file with an unsupported extension: skipped;
- a class folder that cannot be listed: named, its files skipped;
- symlinks (see ``docs/DATA.md``): one that resolves **inside** the dataset folder is
  followed (files and folders); a dangling one, a loop, and one that resolves **outside**
  the folder are named and skipped, unless ``allow_outside_root=True`` (``pictext embed
  --allow-outside-root``), which follows links to anywhere. Hidden names (``.x``) are
  ignored.

Images are not decoded here (that would cost a full decode per item); corrupt or truncated
files are reported by :func:`pictext.data.images.load_image` when used, or dropped up front
with :func:`pictext.data.images.drop_unreadable`.
"""

from __future__ import annotations

import json
from pathlib import Path

from pictext.core.defaults import MAX_SIDECAR_BYTES
from pictext.core.limits import FileTooLargeError, read_bounded
from pictext.data.dataset import SKIPPED, Dataset
from pictext.data.errors import DatasetNotFoundError
from pictext.data.item import Item
from pictext.data.text import IMAGE_SUFFIXES, clean_text, decode_text, split_tags
from pictext.data.walk import follow, walk_files

SIDECAR_SUFFIX = ".json"
KEPT = "; kept with empty text"


def read_folder(
    root: str | Path, *, name: str | None = None, allow_outside_root: bool = False
) -> Dataset:
    """Read a folder of class folders with JSON sidecars.

    Args:
        root: the folder whose sub-folders are the classes.
        name: dataset name; default the folder's name.
        allow_outside_root: follow symlinks that resolve outside ``root`` (default: named
            in the problems and skipped).

    Raises:
        DatasetNotFoundError: ``root`` is not a folder.
        ItemError: ``root`` itself cannot be listed.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(f"not a folder of class folders: {root}", item=str(root))
    name = name or root.name
    files, problems = walk_files(root, allow_outside_root=allow_outside_root)
    present = {rel for rel, _ in files}
    images = {rel for rel in present if _suffix(rel) in IMAGE_SUFFIXES}
    stems = {rel[: -len(_suffix(rel))] for rel in images}
    items: list[Item] = []
    for rel, path in files:
        if "/" not in rel:  # not in a class: named, never dropped without a word
            kind = "image" if _suffix(rel) in IMAGE_SUFFIXES else "file"
            problems.append(f"{rel}: {kind} at the top level, not in a class folder; ignored")
            continue
        if rel in stems and rel not in images:
            continue  # an extensionless sidecar: read with its image
        if _suffix(rel) == SIDECAR_SUFFIX:
            stem = rel[: -len(SIDECAR_SUFFIX)]
            if stem not in stems and stem not in images:
                problems.append(f"{rel}: sidecar without an image; ignored")
            continue
        sidecars = [s for s in _sidecar_names(rel) if s in present]
        item = _item(root, rel, path, name, allow_outside_root, problems, sidecars)
        if item is not None:
            items.append(item)
    return Dataset(name, items, problems)


def _suffix(rel: str) -> str:
    """The lower-case extension of a relative path's last part ("" when it has none)."""
    last = rel.rsplit("/", 1)[-1]
    dot = last.rfind(".")
    return last[dot:].lower() if dot > 0 else ""


def _sidecar_names(rel: str) -> list[str]:
    """Where an image's sidecar may be, in the order they are tried."""
    stem = rel[: -len(_suffix(rel))] if _suffix(rel) else rel
    return [f"{stem}{SIDECAR_SUFFIX}", f"{rel}{SIDECAR_SUFFIX}", stem]


def _item(
    root: Path,
    rel: str,
    path: Path,
    name: str,
    allow_outside: bool,
    problems: list[str],
    sidecars: list[str],
) -> Item | None:
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        problems.append(f"{rel}: unsupported file type {suffix or '(none)'!r}{SKIPPED}")
        return None
    try:
        size = path.stat().st_size
    except OSError as err:  # gone since the listing, or no permission to look
        problems.append(f"{rel}: cannot read image file ({err.strerror or err}){SKIPPED}")
        return None
    if size == 0:
        problems.append(f"{rel}: empty image file (0 bytes){SKIPPED}")
        return None
    chosen = sidecars[0] if sidecars else _sidecar_names(rel)[0]
    sidecar = path.with_name(chosen.rsplit("/", 1)[-1])
    fields, notes = read_sidecar(sidecar, root=root, allow_outside_root=allow_outside)
    notes += [f"also has sidecar {s.rsplit('/', 1)[-1]}; ignored" for s in sidecars[1:]]
    problems.extend(f"{rel}: {note}" for note in notes)
    parts = rel.split("/")
    fine = parts[1] if len(parts) > 2 else None
    return Item(rel, str(path), label=parts[0], fine_label=fine, source=name, **fields)


def read_sidecar(
    path: Path, *, root: Path | None = None, allow_outside_root: bool = False
) -> tuple[dict, list[str]]:
    """Text fields from a JSON sidecar, and its problems (empty when fine).

    Never raises for a bad sidecar: a missing, unreadable or broken one gives empty fields
    and a problem that says the item was kept; a field of the wrong type is left empty and
    named.

    Args:
        path: the sidecar file.
        root: the dataset folder, for the symlink policy (default: no check).
        allow_outside_root: read a sidecar that links outside ``root``.
    """
    if path.is_symlink() and root is not None:
        _, problem = follow(path, root.resolve(), allow_outside_root=allow_outside_root)
        if problem:
            return _empty(), [f"sidecar {path.name}: {problem}{KEPT}"]
    try:
        raw = read_bounded(path, MAX_SIDECAR_BYTES, "a sidecar")
    except FileNotFoundError:
        return _empty(), [f"no sidecar {path.name}{KEPT}"]
    except FileTooLargeError as err:  # never read: its text would be cut anyway
        return _empty(), [f"sidecar {path.name} {err.problem}{KEPT}"]
    except OSError as err:  # permission denied, a folder named like a sidecar, I/O error
        return _empty(), [f"cannot read sidecar {path.name} ({err.strerror or err}){KEPT}"]
    text, problem = decode_text(raw)
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        reason = err if isinstance(err, json.JSONDecodeError) else "nested too deeply"
        return _empty(), [f"malformed sidecar {path.name} ({reason}){KEPT}"]
    if not isinstance(data, dict):
        kind = _kind(data)
        return _empty(), [f"sidecar {path.name} holds {kind}, not an object{KEPT}"]
    fields, wrong = checked_text_fields(data)
    notes = [f"sidecar {path.name} {problem}"] if problem else []
    notes += [f"sidecar {path.name}: {w}" for w in wrong]
    return fields, notes


def checked_text_fields(data: dict) -> tuple[dict, list[str]]:
    """``title``, ``description`` and ``tags`` of a metadata object, cleaned, and a problem
    per field of the wrong type (that field is left empty).

    Example:
        >>> checked_text_fields({"title": ["a", "list"], "tags": ["x", "y"]})
        ({'title': '', 'description': '', 'tags': ('x', 'y')}, ["field 'title' is a list, \
not a string; left empty"])
    """
    fields = _empty()
    wrong: list[str] = []
    for key in ("title", "description"):
        value = data.get(key)
        if value is None or isinstance(value, str):
            fields[key] = clean_text(value)
        else:
            wrong.append(f"field {key!r} is {_kind(value)}, not a string; left empty")
    tags = data.get("tags")
    listed = isinstance(tags, list | tuple)
    if tags is None or isinstance(tags, str) or (listed and all(isinstance(t, str) for t in tags)):
        fields["tags"] = split_tags(tags, whitespace=True)
    elif listed:
        bad = next(t for t in tags if not isinstance(t, str))
        wrong.append(f"field 'tags' holds {_kind(bad)}, not only strings; left empty")
    else:
        wrong.append(f"field 'tags' is {_kind(tags)}, not a list of strings; left empty")
    return fields, wrong


def _kind(value: object) -> str:
    """A JSON value's kind, as a reader of the file would call it."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def _empty() -> dict:
    return {"title": "", "description": "", "tags": ()}
