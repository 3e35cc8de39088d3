"""The CLI's one error boundary: one line, the right exit code, a traceback only with --debug."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _pictext(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pictext.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_a_library_error_is_one_line_and_exit_1(tmp_path):
    missing = tmp_path / "nomodel"
    res = _pictext("tag", str(tmp_path / "nothing.png"), "--model", str(missing))
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert str(missing) in lines[0]
    assert "Traceback" not in res.stderr
    assert res.stdout == ""


def test_a_usage_error_exits_2():
    res = _pictext("tag", "--no-such-option")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("where", ["front", "back"])
def test_debug_shows_the_traceback(tmp_path, where):
    cmd = ["tag", str(tmp_path / "x.png"), "--model", str(tmp_path / "m")]
    res = _pictext(*(["--debug", *cmd] if where == "front" else [*cmd, "--debug"]))
    assert res.returncode != 0
    assert "Traceback" in res.stderr


def test_an_unexpected_exception_is_one_line_naming_its_type(monkeypatch, capsys):
    from pictext import cli

    def boom(**kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "app", boom)
    assert cli.main(["anything"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: ZeroDivisionError: division by zero "
        "(this is a bug in pictext; rerun with --debug for the traceback)"
    ]
