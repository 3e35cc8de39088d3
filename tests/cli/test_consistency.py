"""One CLI: help on every option, one spelling per option, --version, names suggested,
missing options named, one exit code per kind of mistake, hints that overwrite nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from pictext.cli import app, main
from pictext.core.artifacts import CLASSIFIER, INDEX, read_config
from pictext.core.names import did_you_mean

runner = CliRunner()


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    subs = getattr(cmd, "commands", None)
    if subs is None:
        yield path, cmd
        return
    for name, sub in subs.items():
        yield from _commands(sub, (*path, name))


def _options() -> list[tuple[str, Any]]:
    root = typer.main.get_command(app)
    return [
        (" ".join(path), p)
        for path, cmd in _commands(root)
        for p in cmd.params
        if type(p).__name__.endswith("Option")
    ]


def test_every_option_of_every_command_has_help() -> None:
    missing = [f"{cmd} {p.opts[0]}" for cmd, p in _options() if not p.hidden and not p.help]
    assert missing == []


def test_no_rest_markup_or_bool_placeholder_in_help() -> None:
    root = typer.main.get_command(app)
    bad = []
    for path, cmd in _commands(root):
        texts = [cmd.help or ""] + [p.help or "" for p in cmd.params if hasattr(p, "help")]
        bad += [" ".join(path) for t in texts if re.search(r"``|:\w+:`|<bool>", t)]
    assert bad == []


def test_one_spelling_per_option_name() -> None:
    spellings: dict[str, set[tuple[str, ...]]] = {}
    for _, p in _options():
        spellings.setdefault(p.name, set()).add(tuple(sorted(p.opts)))
    assert {k: v for k, v in spellings.items() if len(v) > 1} == {}
    assert spellings["k"] == {("--k", "-k")}


def test_version(capsys) -> None:
    from pictext import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"pictext {__version__}"


def test_verify_without_label_names_the_missing_option(tmp_path, capsys) -> None:
    code = main(["verify", str(tmp_path / "x.png"), "--model", str(tmp_path / "m")])
    assert code == 2
    err = capsys.readouterr().err
    assert "missing option --label" in err
    assert "['']" not in err


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (["embed", "tuxpiant"], "did you mean 'tuxpaint'?"),
        (["embed", "tuxpaint", "--image-encoder", "efficientnet-lite0-int"], "efficientnet"),
    ],
)
def test_a_mistyped_name_is_suggested_and_exits_2(args, suggestion, capsys) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "did you mean" in err
    assert suggestion in err


def test_did_you_mean() -> None:
    assert did_you_mean("Animls", ["animals", "people"]) == "; did you mean 'animals'?"
    assert did_you_mean("zzz", ["animals"]) == ""


def test_a_wrong_artifact_is_not_told_to_rebuild_over_itself(tmp_path) -> None:
    index = tmp_path / "index"
    index.mkdir()
    (index / "config.json").write_text(json.dumps({"format": INDEX.name, "version": 1}))
    with pytest.raises(Exception, match="holds a") as err:
        read_config(index, CLASSIFIER)
    assert "pictext train" not in str(err.value)
    assert "rebuild" not in str(err.value)
