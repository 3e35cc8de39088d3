from __future__ import annotations

from pathlib import Path

import pytest

from pictext.data import packages
from pictext.data.errors import DatasetNotFoundError


def test_installed_probe_gives_root(tmp_path: Path) -> None:
    assert packages.ensure_package("anything", tmp_path) == Path("/")


def test_previously_unpacked_package_is_found(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PICTEXT_CACHE", str(tmp_path))
    probe = Path("/usr/share/no-such-pictext-probe/data")
    (tmp_path / "debs" / "pkg" / probe.relative_to("/")).mkdir(parents=True)
    root = packages.ensure_package("pkg", probe)
    assert root == tmp_path / "debs" / "pkg"
    assert packages.data_path("pkg", probe) == root / probe.relative_to("/")


def test_clear_error_without_apt(monkeypatch) -> None:
    monkeypatch.setattr(packages.shutil, "which", lambda _name: None)
    with pytest.raises(DatasetNotFoundError, match="apt-get install some-pkg"):
        packages.ensure_package("some-pkg", "/usr/share/no-such-pictext-probe")


def test_download_and_unpack_path(monkeypatch, tmp_path: Path) -> None:
    """Not root: apt-get download + dpkg -x, simulated by a fake runner."""
    monkeypatch.setenv("PICTEXT_CACHE", str(tmp_path))
    monkeypatch.setattr(packages, "_is_root", lambda: False)
    monkeypatch.setattr(packages.shutil, "which", lambda name: f"/usr/bin/{name}")
    probe = Path("/usr/share/no-such-pictext-probe/data")
    calls = []

    def fake_run(cmd, errors, cwd=None):
        calls.append(cmd[:2])
        if cmd[:2] == ["apt-get", "download"]:
            (cwd / "pkg_1.0_all.deb").write_bytes(b"deb")
        elif cmd[0] == "dpkg":
            (Path(cmd[3]) / probe.relative_to("/")).mkdir(parents=True)
        return True

    monkeypatch.setattr(packages, "_run", fake_run)
    root = packages.ensure_package("pkg", probe)
    assert calls == [["apt-get", "download"], ["dpkg", "-x"]]
    assert (root / probe.relative_to("/")).is_dir()
