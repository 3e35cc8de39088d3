"""docs/ARCHITECTURE.md names every module under ``src/pictext``: each module's file name
appears in the bullet of its package (``- **`pkg/`**: ...``), a top-level module anywhere in
the page. A module added without a line there fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "pictext"
DOC = ROOT / "docs" / "ARCHITECTURE.md"


def package_sections(text: str) -> dict[str, str]:
    """Package name -> the text of its bullet in "The packages"."""
    found = {}
    parts = re.split(r"^- \*\*`([a-z_]+)(?:/|\.py)`\*\*", text, flags=re.M)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        found[name] = body.split("\n## ")[0]
    return found


def missing_modules(package: Path, text: str) -> list[str]:
    """Modules of ``package`` whose file name its package's bullet does not name."""
    sections = package_sections(text)
    missing = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if rel.name in ("__init__.py", "__main__.py"):
            continue
        if len(rel.parts) == 1:
            if f"`{rel.name}`" not in text and f"`{rel.stem}`" not in text:
                missing.append(str(rel))
            continue
        section = sections.get(rel.parts[0], "")
        inner = "/".join(rel.parts[1:])
        if not re.search(rf"(?<![\w/]){re.escape(inner)}\b|`{re.escape(rel.name)}`", section):
            missing.append(str(rel))
    return missing


def test_every_module_is_named_in_the_architecture_page() -> None:
    assert missing_modules(PACKAGE, DOC.read_text(encoding="utf-8")) == []


def test_the_check_finds_a_missing_module(tmp_path: Path) -> None:
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "known.py").write_text("")
    (tmp_path / "core" / "unknown.py").write_text("")
    (tmp_path / "top.py").write_text("")
    doc = "- **`core/`**: `known.py` (a thing)\n"
    assert missing_modules(tmp_path, doc) == ["core/unknown.py", "top.py"]
