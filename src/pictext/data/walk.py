"""Listing a dataset folder so that nothing vanishes without a word.

:func:`walk_files` lists every file under a folder, in a stable order, and names what it
cannot list or follow: a folder it may not read, a dangling symlink, a symlink loop, a
symlink that leads out of the folder. The policy for symlinks (``docs/DATA.md``): one that
resolves inside the dataset folder is followed, files and folders alike; one that resolves
outside is refused unless ``allow_outside_root=True``; dangling links and loops are named.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from pictext.data.dataset import SKIPPED
from pictext.data.errors import ItemError

OUTSIDE_HINT = "--allow-outside-root (allow_outside_root=True) reads it"


def follow(path: Path, real_root: Path, *, allow_outside_root: bool) -> tuple[Path | None, str]:
    """Where the symlink ``path`` leads, and a problem ("" when it may be followed)."""
    try:
        target = Path(os.path.realpath(path, strict=True))
    except FileNotFoundError:
        return None, f"dangling symlink (to {_link_text(path)})"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return None, "symlink loop"
        return None, f"cannot follow symlink ({err.strerror or err})"
    except RuntimeError:  # some Pythons report a loop this way
        return None, "symlink loop"
    if not allow_outside_root and not target.is_relative_to(real_root):
        return (
            None,
            f"symlink to {target}, outside the dataset folder; not followed ({OUTSIDE_HINT})",
        )
    return target, ""


def walk_files(
    root: Path, *, allow_outside_root: bool = False
) -> tuple[list[tuple[str, Path]], list[str]]:
    """Every file under ``root`` as ``(relative id, path)``, sorted, and the problems met.

    Hidden names (starting with ``.``) are ignored. Each problem reads ``"id: problem;
    skipped"``, the id being the path relative to ``root`` (a folder's ends in ``/``).

    Raises:
        ItemError: ``root`` itself cannot be listed.
    """
    real_root = Path(os.path.realpath(root))
    files: list[tuple[tuple[str, ...], Path]] = []
    problems: list[str] = []
    try:
        top = _entries(root)
    except OSError as err:
        raise ItemError(
            str(root), f"cannot read the dataset folder ({err.strerror or err})"
        ) from err
    stack = [((), top, frozenset({real_root}))]
    while stack:
        rel, entries, chain = stack.pop()
        for entry in entries:
            parts = (*rel, entry.name)
            rid = "/".join(parts)
            path = Path(entry.path)
            is_link = entry.is_symlink()
            target: Path | None = None
            if is_link:
                target, problem = follow(path, real_root, allow_outside_root=allow_outside_root)
                if problem:
                    problems.append(f"{rid}: {problem}{SKIPPED}")
                    continue
            try:
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError as err:
                problems.append(f"{rid}: cannot look at it ({err.strerror or err}){SKIPPED}")
                continue
            if is_dir:
                real = target if is_link else Path(os.path.realpath(path))
                if real in chain:
                    problems.append(f"{rid}/: symlink loop (leads back to a folder above){SKIPPED}")
                    continue
                try:
                    inner = _entries(path)
                except OSError as err:
                    reason = err.strerror or err
                    problems.append(f"{rid}/: cannot read folder ({reason}), files unseen{SKIPPED}")
                    continue
                stack.append((parts, inner, chain | {real}))
            elif is_file:
                files.append((parts, path))
            else:
                problems.append(f"{rid}: not a regular file{SKIPPED}")
    files.sort(key=lambda f: f[0])
    problems.sort()
    return [("/".join(parts), path) for parts, path in files], problems


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as it:
        return sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)


def _link_text(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"
