"""Command prefixes that make the file system refuse, for tests that must see a real refusal.

Permission bits do not stop root, so as root the prefixes use what the kernel offers: a
read-only bind mount in a private mount namespace (``unshare -m``), or a child without the
capabilities that override permission bits (``setpriv``). Where neither works, the helpers
return None and the test is skipped with the reason.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

_READ_ONLY = 'mount --bind -o ro "$0" "$0" && exec "$@"'
_NO_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


@functools.cache
def _works(*cmd: str) -> bool:
    try:
        return subprocess.run(list(cmd), capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def read_only_prefix(folder: Path) -> list[str] | None:
    """A prefix under which ``folder`` (and all below it) cannot be written; None if none."""
    if os.geteuid() != 0:
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o555)
        return []
    if shutil.which("unshare") is None:
        return None
    probe = tempfile.mkdtemp()
    try:
        if not _works("unshare", "-m", "sh", "-c", _READ_ONLY, probe, "true"):
            return None
    finally:
        os.rmdir(probe)
    return ["unshare", "-m", "sh", "-c", _READ_ONLY, str(folder)]


def permissions_prefix() -> list[str] | None:
    """A prefix under which permission bits are enforced (mode 000 cannot be read)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None or not _works(*_NO_OVERRIDE, "true"):
        return None
    return list(_NO_OVERRIDE)
