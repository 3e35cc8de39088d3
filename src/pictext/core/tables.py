"""Rows of one dict each as a Markdown table: what the CLI prints and the report writes."""

from __future__ import annotations

from typing import Any


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows of one dict each as a Markdown table (floats to 4 digits).

    Example:
        >>> print(markdown_table([{"a": 1, "b": 0.5}]))
        | a | b |
        |---|---|
        | 1 | 0.5000 |
    """
    if not rows:
        return ""
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def cell(v: Any) -> str:
    """A table cell: floats to 4 digits."""
    return f"{v:.4f}" if isinstance(v, float) else str(v)
