"""The demo's report: every table and picture a run wrote, on one page (Markdown and HTML)."""

from __future__ import annotations

import html
from pathlib import Path

from pictext.store.cache import atomic_write_text

# Sections in pipeline order: (folder under the run, heading).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("table", "Classification: fusion vs single inputs vs anchors (test split, mean ± std)"),
    ("classifier", "One fusion classifier: learning curve, embedding maps, confusions"),
    ("rank", "Ranking head vs raw embedding: metrics, retrieval grid, map"),
    ("captioner", "Captioner: BLEU and examples"),
)


def _section(run: Path, folder: str) -> tuple[list[str], list[Path]]:
    base = run / folder
    tables = [p.read_text(encoding="utf-8") for p in sorted(base.glob("*.md"))]
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
