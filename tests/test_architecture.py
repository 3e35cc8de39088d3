"""The layout holds: no import cycles, and no import from a lower layer into a higher one.

Layers, lowest first (docs/ARCHITECTURE.md): ``core`` -> ``data`` -> ``encoders`` -> ``store``
-> the tasks ``classify`` / ``rank`` / ``caption`` -> ``audit`` (composes tasks) -> ``bundle``
(``pictext.load``) -> the front ends ``service`` / ``cli`` / ``report``. A package may import
its own layer and the layers below it; the tasks do not import each other, so a change to one
task stays in its folder.
Every import counts, also those inside functions and under ``TYPE_CHECKING``: they are
dependencies all the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

LAYERS: dict[str, int] = {
    "core": 0,
    "data": 1,
    "encoders": 2,
    "store": 3,
    "classify": 4,
    "rank": 4,
    "caption": 4,
    "audit": 5,
    "bundle": 6,
    "service": 7,
    "cli": 7,
    "report": 7,
}
# Packages of one layer that may not import each other (independent tasks).
SIBLINGS_APART = {"classify", "rank", "caption"}


def module_files(src: Path, top: str = "pictext") -> dict[str, Path]:
    """Dotted module name -> file, for every module under ``src/top``."""
    out = {}
    for path in sorted((src / top).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest known module that ``name`` (a module or a module.attribute) names."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_edges(modules: dict[str, Path], top: str = "pictext") -> dict[str, set[str]]:
    """Module -> the project modules it imports (anywhere in the file)."""
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                names = [f"{base}.{a.name}" for a in node.names]
            for name in names:
                if not name.startswith(top + ".") or name == f"{top}.__version__":
                    continue
                target = _resolve(name, modules)
                if target and target != mod:
                    edges[mod].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _package(mod: str) -> str | None:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else None  # None: the package face ``pictext``


def layer_violations(edges: dict[str, set[str]]) -> list[str]:
    """``a -> b`` for each import that runs up a layer, across tasks, or to an unknown package."""
    bad = []
    for src, targets in sorted(edges.items()):
        a = _package(src)
        if a is None:
            continue  # the package face may re-export from anywhere
        if a not in LAYERS:
            bad.append(f"{src}: package {a!r} has no layer (add it to LAYERS and the docs)")
            continue
        for dst in sorted(targets):
            b = _package(dst)
            if b is None:
                bad.append(f"{src} -> {dst} (imports the package face)")
            elif b not in LAYERS:
                continue  # reported on its own side
            elif LAYERS[b] > LAYERS[a]:
                bad.append(f"{src} -> {dst} (layer {LAYERS[a]} imports layer {LAYERS[b]})")
            elif a != b and a in SIBLINGS_APART and b in SIBLINGS_APART:
                bad.append(f"{src} -> {dst} (one task imports another)")
    return bad


@pytest.fixture(scope="module")
def edges() -> dict[str, set[str]]:
    return import_edges(module_files(SRC))


def test_the_package_has_no_import_cycle(edges: dict[str, set[str]]) -> None:
    assert cycles(edges) == []


def test_no_import_runs_up_a_layer_or_across_tasks(edges: dict[str, set[str]]) -> None:
    assert layer_violations(edges) == []


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in (SRC / "pictext").iterdir() if p.is_dir() and p.name != "static"}
    packages |= {p.stem for p in (SRC / "pictext").glob("*.py") if p.stem != "__init__"}
    packages.discard("__pycache__")
    assert packages == set(LAYERS)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "pictext" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checks_catch_a_cycle_an_upward_import_and_a_cross_task_import(
    tmp_path: Path,
) -> None:
    src = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "core/__init__.py": "",
            "core/a.py": "def f():\n    from pictext.store.x import y\n",  # up: core -> store
            "store/__init__.py": "",
            "store/x.py": "from pictext.core import a\ny = 1\n",
            "rank/__init__.py": "",
            "rank/p.py": "from .q import z\n",
            "rank/q.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from pictext.rank.p import w\nz = 1\n",
            "caption/__init__.py": "",
            "caption/c.py": "import pictext.rank.q\n",  # across tasks
        },
    )
    edges = import_edges(module_files(src))
    assert edges["pictext.rank.p"] == {"pictext.rank.q"}  # a relative import is followed
    found = cycles(edges)
    assert ["pictext.rank.p", "pictext.rank.q"] in found
    assert ["pictext.core.a", "pictext.store.x"] in found
    bad = layer_violations(edges)
    assert "pictext.core.a -> pictext.store.x (layer 0 imports layer 3)" in bad
    assert "pictext.caption.c -> pictext.rank.q (one task imports another)" in bad
    assert not any(b.startswith("pictext.store.x") for b in bad)  # downward is fine
