"""Find (or fetch) the Debian data packages the packaged datasets come from.

Order: the installed files; else ``apt-get install`` when running as root; else
``apt-get download`` + ``dpkg -x`` into the data cache (no root needed); else an error that
says what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pictext.core.paths import cache_dir
from pictext.data.errors import DatasetNotFoundError

_APT_TIMEOUT = 900  # seconds; the largest package (tuxpaint stamps) is 161 MB


def ensure_package(deb_name: str, probe_path: str | Path) -> Path:
    """The root under which ``probe_path`` (an absolute path the package installs) exists.

    Returns ``/`` for an installed package, or the folder in the cache the package was
    unpacked into; the data is at ``root / probe_path.relative_to("/")``.

    Raises:
        DatasetNotFoundError: the package is neither installed nor installable.
    """
    probe = Path(probe_path)
    if probe.exists():
        return Path("/")
    unpacked = cache_dir("debs") / deb_name
    if (unpacked / probe.relative_to("/")).exists():
        return unpacked
    errors: list[str] = []
    has_apt = bool(shutil.which("apt-get"))
    if has_apt and _is_root() and _apt_install(deb_name, errors) and probe.exists():
        return Path("/")
    if has_apt and shutil.which("dpkg") and _download_and_unpack(deb_name, unpacked, errors):
        if (unpacked / probe.relative_to("/")).exists():
            return unpacked
        errors.append(f"{deb_name} unpacked but {probe} is not in it")
    detail = "; ".join(errors) or "apt-get/dpkg not available"
    raise DatasetNotFoundError(
        f"{probe} not found. Install the Debian package: sudo apt-get install {deb_name} ({detail})"
    )


def data_path(deb_name: str, probe_path: str | Path) -> Path:
    """``probe_path`` itself, wherever :func:`ensure_package` found or put it."""
    probe = Path(probe_path)
    root = ensure_package(deb_name, probe)
    return probe if root == Path("/") else root / probe.relative_to("/")


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _run(cmd: list[str], errors: list[str], cwd: Path | None = None) -> bool:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        result = subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=_APT_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        errors.append(f"{' '.join(cmd)}: {err}")
        return False
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["failed"]
        errors.append(f"{' '.join(cmd)}: {tail[0]}")
    return result.returncode == 0


def _apt_install(deb_name: str, errors: list[str]) -> bool:
    install = ["apt-get", "install", "-y", "--no-install-recommends", deb_name]
    if _run(install, errors):
        return True
    # The package lists may be missing or stale (fresh containers): update once and retry.
    return _run(["apt-get", "update"], errors) and _run(install, errors)


def _download_and_unpack(deb_name: str, target: Path, errors: list[str]) -> bool:
    with tempfile.TemporaryDirectory(dir=cache_dir("debs")) as tmp:
        work = Path(tmp)
        if not _run(["apt-get", "download", deb_name], errors, cwd=work):
            return False
        debs = sorted(work.glob(f"{deb_name}_*.deb"))
        if not debs:
            errors.append(f"apt-get download {deb_name}: no .deb written")
            return False
        staging = work / "root"
        if not _run(["dpkg", "-x", str(debs[0]), str(staging)], errors):
            return False
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)  # same file system: atomic, so no half-unpacked package
    return True
