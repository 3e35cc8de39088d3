from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pictext.cli import app

runner = CliRunner()


def test_datasets_list_json() -> None:
    result = runner.invoke(app, ["datasets", "list", "--json"])
    assert result.exit_code == 0, result.output
    names = [d["name"] for d in json.loads(result.output)]
    assert names == ["openclipart", "tuxpaint", "fashion-mnist"]


def test_datasets_info_on_a_folder(class_folder: Path) -> None:
    result = runner.invoke(app, ["datasets", "info", str(class_folder), "--json", "--verify"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["items"] == 6  # 8 listed, truncated and bogus dropped by --verify
    assert info["per_class"] == {"cat": 4, "dog": 2}
    assert info["missing_rate"]["title"] == 4 / 6
    assert info["images"]["formats"] == {"PNG": 5, "SVG": 1}
    assert info["images"]["width"] == {"min": 16, "median": 16.0, "max": 20}
    assert info["duplicate_groups"] == 0  # every image has its own colour
    assert info["problems"] == len(info["problem_list"]) >= 8
    table = runner.invoke(app, ["datasets", "info", str(class_folder)])
    assert table.exit_code == 0
    assert "Items per class" in table.output


def test_datasets_info_unknown_name() -> None:
    result = runner.invoke(app, ["datasets", "info", "nope"])
    assert result.exit_code == 2
    assert "no dataset 'nope'" in result.output
