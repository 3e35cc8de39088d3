"""The command line is a thin front end: parse, call one job or :func:`pictext.load`, print.

Read with ``ast``, no module of ``src/pictext/cli/`` imports another command module (only
the shared non-command helpers ``errors`` and ``show``), and none holds model, search or
training code: the checks of the service's thin test (numerical libraries, encoders, heads,
hand-written top-k), plus no direct training or index building.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

import pictext.cli


def _service_checks():
    """The service's thin test, read from its file (the test folders are not packages)."""
    path = Path(__file__).resolve().parents[1] / "service" / "test_thin.py"
    spec = importlib.util.spec_from_file_location("service_thin", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.problems


service_problems = _service_checks()

CLI = Path(pictext.cli.__file__).parent
# Not command modules: what every command may share (error boundary, printing).
SHARED = {"pictext.cli.errors", "pictext.cli.show"}
# Model building and index building belong to the job functions of the library.
FORBIDDEN_CALLS = ("fit", "train_fusion", "run_captions", "build", "save_index")


def cli_problems(source: str, module: str) -> list[str]:
    """What makes a CLI module more than a thin front end, one line per finding."""
    found = service_problems(source)
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            names = [f"{mod}.{a.name}" for a in node.names] if mod == "pictext.cli" else [mod]
            for name in names:
                if name.startswith("pictext.cli.") and name not in SHARED and name != module:
                    found.append(f"line {line}: imports the command module {name}")
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("pictext.cli.") and a.name not in SHARED:
                    found.append(f"line {line}: imports the command module {a.name}")
        call = isinstance(node, ast.Call)
        name = ""
        if call and isinstance(node.func, ast.Attribute):
            name = node.func.attr
        elif call and isinstance(node.func, ast.Name):
            name = node.func.id
        if name in FORBIDDEN_CALLS:
            found.append(f"line {line}: calls {name}()")
    return found


def _modules() -> list[Path]:
    return sorted(p for p in CLI.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_cli_module_is_thin(path: Path) -> None:
    module = f"pictext.cli.{path.stem}"
    assert cli_problems(path.read_text(encoding="utf-8"), module) == []


def test_the_check_finds_what_it_forbids() -> None:
    fat = """
import numpy as np
from pictext.cli import caption
from pictext.cli.rank import similar
from pictext.cli.show import show_answer

def train(ds, feats, cfg):
    model = Head().fit(feats, ds.labels)
    ix = SearchIndex.build(feats)
    return np.argsort(model.predict(feats))
"""
    found = "\n".join(cli_problems(fat, "pictext.cli.demo"))
    for what in (
        "imports numpy",
        "command module pictext.cli.caption",
        "command module pictext.cli.rank",
        "calls fit()",
        "calls build()",
        "uses .argsort",
        "calls .predict()",
    ):
        assert what in found, what
    assert "pictext.cli.show" not in found  # the shared printing may be imported


def test_every_command_module_is_checked() -> None:
    names = {p.name for p in _modules()}
    assert {"classify.py", "rank.py", "caption.py", "demo.py", "audit.py"} <= names
    assert "models.py" not in names  # bundle and part loading live in pictext.bundle
