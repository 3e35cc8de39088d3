"""The demo's report: every table and picture a run wrote, on one page (Markdown and HTML)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from pictext.core.atomic import atomic_write_text

# Sections in pipeline order: (folder under the run, heading).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("table", "Classification: fusion vs single inputs vs anchors (test split, mean ± std)"),
    ("classifier", "One fusion classifier: learning curve, embedding maps, confusions"),
    ("rank", "Ranking head vs raw embedding: metrics, retrieval grid, map"),
    ("captioner", "Captioner: the default (best on validation) vs the report's merge model"),
)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows of one dict each as a Markdown table (floats to 4 digits)."""
    if not rows:
        return ""
    cols = list(rows[0])
    cell = lambda v: f"{v:.4f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def _json_tables(base: Path) -> list[str]:
    """Tables kept as JSON by the ranking and caption runs."""
    tables = []
    rank = base / "report.json"
    if rank.is_file():
        tables.append(markdown_table(json.loads(rank.read_text(encoding="utf-8"))["table"]))
    bleu = base / "bleu.json"
    if bleu.is_file():
        from pictext.caption.tables import (
            CAPTION_NOTE,
            format_caption_table,
            format_consensus_grid,
        )

        record = json.loads(bleu.read_text(encoding="utf-8"))
        tables.append(format_caption_table(record["rows"]) + "\n\n" + CAPTION_NOTE)
        if record.get("consensus_grid"):
            grid = format_consensus_grid(record["consensus_grid"])
            tables.append("Consensus captioner, k and temperature on validation:\n\n" + grid)
    return tables


def _section(run: Path, folder: str) -> tuple[list[str], list[Path]]:
    base = run / folder
    # The main table before its robustness companion; their headings nest under the section.
    files = sorted(base.glob("*.md"), key=lambda p: (not p.name.startswith("table"), p.name))
    tables = [p.read_text(encoding="utf-8").replace("\n# ", "\n### ") for p in files]
    tables = ["##" + t if t.startswith("# ") else t for t in tables]
    tables += _json_tables(base)
    pictures = sorted(base.rglob("*.png"))
    return tables, pictures


def write_report(run: Path) -> Path:
    """Write ``report.md`` and ``report.html`` into ``run``; return the HTML path."""
    md = [f"# pictext demo report: {run}", ""]
    body = [f"<h1>pictext demo report</h1><p>{html.escape(str(run))}</p>"]
    for folder, heading in SECTIONS:
        tables, pictures = _section(run, folder)
        if not tables and not pictures:
            continue
        md += [f"## {heading}", ""]
        body.append(f"<h2>{html.escape(heading)}</h2>")
        for table in tables:
            md += [table.strip(), ""]
            body.append(f"<pre>{html.escape(table.strip())}</pre>")
        for pic in pictures:
            rel = pic.relative_to(run).as_posix()
            md += [f"![{rel}]({rel})", ""]
            body.append(
                f'<figure><img src="{html.escape(rel)}" style="max-width:100%">'
                f"<figcaption>{html.escape(rel)}</figcaption></figure>"
            )
    atomic_write_text(run / "report.md", "\n".join(md) + "\n")
    page = (
        '<!doctype html><html><head><meta charset="utf-8"><title>pictext report</title>'
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "pre{background:#f6f6f6;padding:1em;overflow:auto}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    target = run / "report.html"
    atomic_write_text(target, page)
    return target
