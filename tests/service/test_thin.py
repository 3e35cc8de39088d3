"""The service is a thin front end: it parses requests, calls the library and formats.

Read with ``ast``, every module of ``src/pictext/service/`` must not import numerical or
model libraries, call an encoder, run a model or write search / top-k code of its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pictext.service

SERVICE = Path(pictext.service.__file__).parent
FORBIDDEN_IMPORTS = ("numpy", "torch", "onnxruntime", "faiss", "sklearn", "scipy", "heapq")
# Low-level search and selection of the library: the service asks for answers, not for these.
FORBIDDEN_LIBRARY = ("pictext.rank.ann", "pictext.encoders.base")
# Encoders, heads and raw index search: model and search work belongs to the library.
FORBIDDEN_METHODS = (
    "encode",
    "encode_batch",
    "predict",
    "predict_proba",
    "transform",
    "fit",
    "search",
    "embed",
)
# What a hand-written nearest-neighbour or top-k search is made of.
FORBIDDEN_NAMES = (
    "argsort",
    "argpartition",
    "argmax",
    "argmin",
    "top_k_inner",
    "unit_rows",
    "linalg",
    "einsum",
    "nlargest",
    "nsmallest",
    "cosine",
)


def problems(source: str) -> list[str]:
    """What makes ``source`` more than a thin front end, one line per finding."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mods = [node.module or ""]
            if (node.module or "") == "pictext.rank.diversity":
                mods += [f"pictext.rank.diversity.{a.name}" for a in node.names if a.name.islower()]
        else:
            mods = []
        for mod in mods:
            root = mod.split(".")[0]
            if root in FORBIDDEN_IMPORTS or mod.startswith(FORBIDDEN_LIBRARY):
                found.append(f"line {line}: imports {mod}")
            if mod.startswith("pictext.rank.diversity."):
                found.append(f"line {line}: imports the selector {mod}")
        called = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        if called and node.func.attr in FORBIDDEN_METHODS:
            found.append(f"line {line}: calls .{node.func.attr}()")
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_NAMES:
            found.append(f"line {line}: uses .{node.attr}")
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            found.append(f"line {line}: uses {node.id}")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            found.append(f"line {line}: matrix product (@)")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            ranked = node.func.id in ("sorted", "min", "max") and any(
                k.arg == "key" for k in node.keywords
            )
            if ranked:
                found.append(f"line {line}: ranks with {node.func.id}(key=...)")
    return found


@pytest.mark.parametrize("path", sorted(SERVICE.glob("*.py")), ids=lambda p: p.name)
def test_service_module_is_thin(path: Path) -> None:
    assert problems(path.read_text(encoding="utf-8")) == []


def test_the_check_finds_what_it_forbids() -> None:
    fat = """
import numpy as np
from pictext.rank.ann import top_k_inner
from pictext.rank.diversity import SELECTORS, select

def search(index, encoder, image, k):
    vec = encoder.encode([image])
    scores = index.vectors @ vec[0]
    rows = np.argsort(-scores)[:k]
    best = sorted(range(len(scores)), key=lambda i: -scores[i])[:k]
    return index.head.transform(vec), rows, best
"""
    found = "\n".join(problems(fat))
    for what in (
        "imports numpy",
        "imports pictext.rank.ann",
        "selector pictext.rank.diversity.select",
        "calls .encode()",
        "matrix product",
        "uses .argsort",
        "ranks with sorted",
        "calls .transform()",
    ):
        assert what in found, what
    assert "SELECTORS" not in found  # constants of the library may be read
    assert problems("from pictext.rank.queries import search_items\n") == []


def test_the_service_modules_are_all_checked() -> None:
    names = {p.name for p in SERVICE.glob("*.py")}
    assert {"backend.py", "routes.py", "uploads.py", "catalog.py", "app.py"} <= names
    assert "maps.py" not in names  # the collection map is the library's
