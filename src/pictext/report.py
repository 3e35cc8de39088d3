"""The demo's report: one page, read top to bottom, of every table and picture a run wrote.

``report.html`` has real HTML tables, a caption under every figure saying what it shows, a
line for every term it uses, and (when the run holds an audit) the collection's worst
offenders as thumbnails. ``report.md`` carries the same tables for reading in a terminal.
"""

from __future__ import annotations

import ast
import html
import json
import re
from pathlib import Path
from typing import Any

from pictext.core.atomic import atomic_write_text
from pictext.core.tables import cell as _cell
from pictext.core.tables import markdown_table

# Sections in pipeline order: (folder under the run, heading, what the section answers).
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("table", "Classification: does fusing image and text beat either alone?",
     "Test-split accuracy of the image-only, text-only and fusion classifiers and of three "
     "simple anchors, mean ± standard deviation over seeds."),
    ("classifier", "One fusion classifier, trained and calibrated",
     "The classifier `pictext demo` keeps in the bundle: how it trained and what its "
     "representations look like."),
    ("rank", "Similar images: raw embeddings vs the trained ranking head",
     "How well each space puts items of the same class nearer than items of other classes."),
    ("captioner", "Captions",
     "BLEU and cosine of the generated captions against the reference captions."),
)  # fmt: skip

# What each figure shows, by file name (a figure not listed is captioned by its name).
FIGURES: dict[str, str] = {
    "learning_curve.png": "Training loss and validation top-1 accuracy per epoch of the fusion "
    "classifier; training stops when validation accuracy stops improving and keeps the best epoch.",
    "learning_curves.png": "Validation accuracy per epoch of every model in the table above, one "
    "line per model and seed.",
    "raw_text.png": "Held-out items of the 10 largest classes placed by their raw text "
    "embeddings (a 2-D projection), coloured by class (the same colour per class in the three "
    "maps): how much the text alone separates the classes.",
    "tuned_text.png": "The same items after the classifier's text tuning layer: same-class points "
    "should sit closer together than in the raw map.",
    "fusion.png": "The same items in the fused representation the classifier reads (image and "
    "text together).",
    "confusion_matrix.png": "The test confusion matrix: each row is a true class, divided by "
    "its size, so the diagonal is each class's recall and the darkest off-diagonal cells are "
    "the classes mixed up.",
    "reliability.png": "Reliability diagram on the test split: accuracy against the "
    "confidence of the top class, per confidence bin, before and after temperature "
    "calibration; the closer to the diagonal, the more a confidence can be trusted.",
    "confused_pairs.png": "The pairs of classes the classifier mixes up most often on the test "
    "split.",
    "retrieval_grid.png": "Query images (first column) and their nearest collection items, in the "
    "raw embedding space and in the ranking head's space.",
    "examples.png": "Held-out test images, the captioner's best and worst: under each image the "
    "default captioner's caption, the report's merge model's and the nearest training caption, "
    "next to the reference caption.",
    "ranking_map.png": "The collection in the ranking head's space (a 2-D projection), coloured "
    "by class.",
}

# One line per term used on the page.
TERMS: tuple[tuple[str, str], ...] = (
    ("top-1 / top-5", "share of test items whose true class is the model's first guess / among "
     "its five first guesses, in percent."),
    ("novel", "the same accuracy on items held out as new (for sets that have them)."),
    ("image-only, text-only, fusion", "the same classifier head reading only the image "
     "embedding, only the text embeddings (title, description, tags), or both."),
    ("anchors", "simple baselines that fusion must beat to be worth it: logistic regression "
     "on the concatenated embeddings (LogReg concat), a logistic regression over every "
     "field's embedding plus the missing-input flags with C tuned on validation (tuned "
     "linear, all fields, the strongest), and the average of the image-only and text-only "
     "probabilities (average probs)."),
    ("missing inputs", "fusion accuracy when an input is removed at test time (no image, no "
     "title, ...): how gracefully it degrades."),
    ("ECE", "expected calibration error: how far the predicted confidence is from the "
     "observed accuracy (0 is perfect)."),
    ("raw, head, raw-unit", "the embedding space searched: the encoders' vectors, the trained "
     "ranking head's space, or the raw vectors scaled to unit length."),
    ("triplet_acc", "share of (query, same-class item, other-class item) triplets where the "
     "same-class item is nearer; fine_triplet_acc does the same within a class, by fine label."),
    ("score@30", "correctly minus wrongly ordered triplets among those whose items are within "
     "the query's 30 nearest; score@30_subset is how many triplets that is, score@30_norm their "
     "ratio (from -1 to 1)."),
    ("mAP, P@k", "mean average precision of same-class items in each query's ranking, and "
     "the share of same-class items among the first k."),
    ("BLEU-1..4", "overlap of 1- to 4-word sequences between a generated caption and its "
     "reference (sacrebleu corpus BLEU), x 100."),
    ("distinct, copied", "share of different captions among those generated; share identical "
     "to a caption seen in training."),
    ("suspected label error", "an item whose given label a model trained without it doubts "
     "(confident learning, cleanlab); error score = 1 - the probability of the given label."),
    ("duplicates", "items with the same file bytes, the same perceptual hash (pHash: the same "
     "picture once decoded) or nearly the same image embedding; a label conflict is a group "
     "whose items carry different labels."),
    ("uniqueness", "mean cosine distance of an item to its 5 nearest items: high for outliers."),
)  # fmt: skip

STYLE = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 color:#1d2330;max-width:1040px;margin:2em auto;padding:0 1em}
h1{font-size:1.7rem;margin-bottom:.2em} h2{margin-top:2.2em;border-bottom:2px solid #e3e6eb}
h3{margin-top:1.6em;font-size:1.05rem} .lead{color:#4b5563} .muted{color:#6b7280}
table{border-collapse:collapse;margin:.6em 0 .3em;font-variant-numeric:tabular-nums;
 display:block;max-width:100%;overflow-x:auto} td,th{overflow-wrap:anywhere}
.run{display:grid;grid-template-columns:minmax(8rem,12rem) 1fr;gap:.2em 1em;font-size:.93rem;
 border:1px solid #e3e6eb;border-radius:8px;padding:.8em 1em} .run dt{font-weight:600}
.metrics{font-size:1.05rem;background:#eef6ff;border-radius:8px;padding:.6em 1em}
th,td{border:1px solid #d9dde3;padding:.3em .6em;text-align:right}
th{background:#f1f3f6} td:first-child,th:first-child{text-align:left}
caption{caption-side:bottom;text-align:left;color:#4b5563;font-size:.9rem;padding-top:.3em}
figure{margin:1.2em 0} figure img{max-width:100%;border:1px solid #e3e6eb;border-radius:6px}
figcaption{color:#4b5563;font-size:.92rem;margin-top:.3em}
dl.terms{display:grid;grid-template-columns:minmax(9rem,14rem) 1fr;gap:.25em 1em;
 background:#f7f8fa;padding:1em;border-radius:8px;font-size:.93rem} dt{font-weight:600}
dd{margin:0} nav ol{columns:2} .offenders{display:grid;gap:.7em;
 grid-template-columns:repeat(auto-fill,minmax(150px,1fr))}
.offenders figure{margin:0;font-size:.8rem} .offenders img{width:100%;aspect-ratio:1;
 object-fit:contain;background:#fafbfc} .offenders .muted{word-break:break-all}
"""


def html_table(rows: list[dict[str, Any]], caption: str = "") -> str:
    """Rows of one dict each as an HTML table with an optional caption."""
    if not rows:
        return ""
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{_inline(_cell(r.get(c, '')))}</td>" for c in cols) + "</tr>"
        for r in rows
    )
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def markdown_to_html(text: str) -> str:
    """The small Markdown the runs write (headings, pipe tables, paragraphs) as HTML.

    A ``# Title`` becomes an ``<h3>`` (sections own the bigger headings); a line such as
    ``sizes: {'train': 569, ...}`` becomes a sentence.
    """
    out: list[str] = []
    lines = text.strip().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                block.append(lines[i].strip())
                i += 1
            out.append(_pipe_table(block))
            continue
        if line.startswith("#"):
            out.append(f"<h3>{html.escape(line.lstrip('#').strip())}</h3>")
        elif line:
            out.append(f"<p>{_inline(_readable(line))}</p>")
        i += 1
    return "\n".join(out)


def _inline(text: str) -> str:
    """Escaped text with Markdown's ``**bold**`` as ``<b>``."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))


def _pipe_table(block: list[str]) -> str:
    split = lambda ln: [c.strip() for c in ln.strip("|").split("|")]  # noqa: E731
    cols = split(block[0])
    rows = [split(b) for b in block[1:] if not re.fullmatch(r"\|?[\s:|-]+\|?", b)]
    return html_table([dict(zip(cols, r, strict=False)) for r in rows])


def _readable(line: str) -> str:
    """``name: {python dict}`` as ``Name: k v, k v``; other lines unchanged."""
    m = re.fullmatch(r"(\w[\w ]*):\s*(\{.*\})", line)
    if not m:
        return line
    try:
        d = ast.literal_eval(m.group(2))
    except (ValueError, SyntaxError):
        return line
    if not isinstance(d, dict):
        return line
    name = "Items per split" if m.group(1) == "sizes" else m.group(1).capitalize()
    return f"{name}: " + ", ".join(f"{k} {v}" for k, v in d.items()) + "."


def _json_tables(base: Path) -> list[tuple[str, str]]:
    """``(markdown, html)`` of the tables kept as JSON by the ranking and caption runs."""
    tables = []
    rank = base / "report.json"
    if rank.is_file():
        rows = json.loads(rank.read_text(encoding="utf-8"))["table"]
        note = "Test queries; each row is one embedding space (see the terms above)."
        tables.append((markdown_table(rows), html_table(rows, note)))
    bleu = base / "bleu.json"
    if bleu.is_file():
        from pictext.caption.tables import CAPTION_NOTE, format_caption_table

        record = json.loads(bleu.read_text(encoding="utf-8"))
        md = format_caption_table(record["rows"]) + "\n\n" + CAPTION_NOTE
        tables.append((md, markdown_to_html(md)))
    return tables


def _section(run: Path, folder: str) -> tuple[list[tuple[str, str]], list[Path]]:
    base = run / folder
    # The main table before its robustness companion.
    files = sorted(base.glob("*.md"), key=lambda p: (not p.name.startswith("table"), p.name))
    tables = [(p.read_text(encoding="utf-8"), "") for p in files]
    tables = [(md, markdown_to_html(md)) for md, _ in tables] + _json_tables(base)
    pictures = sorted(p for p in base.rglob("*.png") if "report_files" not in p.parts)
    return tables, pictures


def _figure(run: Path, pic: Path) -> tuple[str, str]:
    rel = pic.relative_to(run).as_posix()
    caption = FIGURES.get(pic.name, pic.stem.replace("_", " "))
    md = f"![{caption}]({rel})\n\n*{caption}*"
    return md, (
        f'<figure><img src="{html.escape(rel)}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def write_report(run: Path) -> Path:
    """Write ``report.md`` and ``report.html`` into ``run``; return the HTML path."""
    md = [f"# pictext report: {run}", ""]
    body = [
        "<h1>pictext report</h1>",
        f'<p class="lead">What one run of <code>pictext demo</code> measured, in the order the '
        f"pipeline runs: classification, similar images, captions and the collection audit. "
        f"Run folder: <code>{html.escape(str(run))}</code>.</p>",
        run_summary(run),
    ]
    sections: list[tuple[str, str, list[str], list[str]]] = []
    for folder, heading, lead in SECTIONS:
        tables, pictures = _section(run, folder)
        if not tables and not pictures:
            continue
        figs = [_figure(run, p) for p in pictures]
        if folder == "classifier":
            tables = classifier_metrics(run) + tables
        sections.append((
            heading, lead,
            [t[0] for t in tables] + [f[0] for f in figs],
            [t[1] for t in tables] + [f[1] for f in figs],
        ))  # fmt: skip
    audit = audit_section(run)
    if audit is not None:
        sections.append(audit)
    body.append('<nav><b>On this page</b><ol><li><a href="#terms">Terms</a></li>')
    body += [f'<li><a href="#s{i}">{html.escape(h)}</a></li>' for i, (h, *_) in enumerate(sections)]
    body.append("</ol></nav>")
    body.append('<h2 id="terms">Terms used on this page</h2><dl class="terms">')
    body += [f"<dt>{html.escape(t)}</dt><dd>{html.escape(d)}</dd>" for t, d in TERMS]
    body.append("</dl>")
    for i, (heading, lead, md_parts, html_parts) in enumerate(sections):
        md += [f"## {heading}", "", lead, ""] + [p.strip() + "\n" for p in md_parts]
        body.append(
            f'<h2 id="s{i}">{html.escape(heading)}</h2><p class="lead">{html.escape(lead)}</p>'
        )
        body += html_parts
    md += ["## Terms", ""] + [f"- **{t}**: {d}" for t, d in TERMS]
    atomic_write_text(run / "report.md", "\n".join(md) + "\n")
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>pictext report</title><style>{STYLE}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    target = run / "report.html"
    atomic_write_text(target, page)
    return target


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def run_summary(run: Path) -> str:
    """The run at a glance: pictext version, date, dataset and the configuration used."""
    from datetime import UTC, datetime

    from pictext import __version__

    bundle = _load_json(run / "bundle.json")
    metrics = _load_json(run / "classifier" / "metrics.json")
    table = _load_json(run / "table" / "table3.json")
    rows: list[tuple[str, str]] = [
        ("pictext", __version__),
        ("report written", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]
    dataset = bundle.get("dataset") or table.get("summary", {}).get("dataset")
    if dataset:
        sizes = metrics.get("sizes") or table.get("summary", {}).get("sizes") or {}
        data = metrics.get("data") or {}
        n_classes = data.get("classes") or len(table.get("classes", []))
        parts = [str(dataset)]
        if n_classes:
            parts.append(f"{n_classes} classes")
        if sizes:
            parts.append("items per split: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
        rows.append(("dataset", "; ".join(parts)))
    cfg = metrics.get("config") or {}
    if cfg:
        keep = ("inputs", "optimizer", "lr", "epochs", "patience", "seed")
        shown = ", ".join(f"{k} {_flat(cfg[k])}" for k in keep if k in cfg)
        split = metrics.get("split") or {}
        if split:
            shown += f"; split holdout {split.get('holdout')}, seed {split.get('seed')}"
        rows.append(("classifier config", shown))
    tcfg = table.get("config") or {}
    if tcfg:
        keep = ("image_encoders", "text_encoders", "seeds", "holdout")
        shown = ", ".join(f"{k} {_flat(tcfg[k])}" for k in keep if k in tcfg)
        rows.append(("table config", shown))
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows)
    return f'<dl class="run">{items}</dl>'


def _flat(v: Any) -> str:
    return ", ".join(map(str, v)) if isinstance(v, list | tuple) else str(v)


def classifier_metrics(run: Path) -> list[tuple[str, str]]:
    """``(markdown, html)`` of the kept classifier's test scores and its ECE before and after
    calibration (from ``classifier/metrics.json``)."""
    m = _load_json(run / "classifier" / "metrics.json")
    test = m.get("test") or {}
    if "top1" not in test:
        return []
    text = f"Test: top-1 {test['top1']:.1f}%, top-5 {test.get('top5', float('nan')):.1f}%"
    if "ece" in test:
        text += f"; ECE {test['ece']:.1f}% after calibration"
        if "ece_uncalibrated" in test:
            text += f" ({test['ece_uncalibrated']:.1f}% before)"
    text += "."
    return [(text, f'<p class="metrics">{html.escape(text)}</p>')]


# ---- the audit ----------------------------------------------------------------------------
OFFENDERS = 12  # thumbnails per list of the audit section


def audit_section(run: Path) -> tuple[str, str, list[str], list[str]] | None:
    """The audit's section: counts, and thumbnails of the most suspect labels, the label
    conflicts and the most unique items; None when ``run/audit`` holds no audit."""
    from pictext.audit import AuditResult
    from pictext.core.artifacts import AUDIT, kind_of

    if kind_of(run / "audit") is not AUDIT:
        return None
    audit = AuditResult.load(run / "audit")
    s = audit.summary()
    counts = [{"check": "items", "found": s["items"]}]
    if "suspected_errors" in s:
        counts.append({"check": "suspected label errors", "found": s["suspected_errors"]})
    for kind, d in s["duplicates"].items():
        counts.append({"check": f"duplicate groups by {kind}", "found": d["groups"]})
        counts.append({"check": "  of which with label conflicts", "found": d["label_conflicts"]})
    secs = ", ".join(f"{k} {v:.1f} s" for k, v in s["seconds"].items())
    md = [markdown_table(counts), f"Time: {secs}."]
    parts = [html_table(counts, f"What the audit found; time per step: {secs}.")]
    items = _audit_items(audit)
    lists = [
        ("Most suspect labels", "Given label → what the out-of-fold model says, with its "
         "error score (1 - probability of the given label).", _suspects(audit)),
        ("Duplicates with different labels", "One item of each conflicting group, with the "
         "labels of the group.", _conflicts(audit)),
        ("Most unique items", "Highest uniqueness: the items least like any other (outliers, "
         "or rare kinds of picture).", _unique(audit)),
    ]  # fmt: skip
    for title, note, rows in lists:
        if not rows:
            continue
        md.append(f"### {title}\n\n{note}\n\n" + "\n".join(f"- {i}: {t}" for i, t in rows))
        cells = []
        for n, (item_id, text) in enumerate(rows):
            rel = _thumbnail(run, items.get(item_id), f"{title[:12]}-{n}")
            img = f'<img src="{html.escape(rel)}" alt="">' if rel else ""
            cells.append(
                f"<figure>{img}<figcaption><b>{html.escape(text)}</b><br>"
                f'<span class="muted">{html.escape(item_id)}</span></figcaption></figure>'
            )
        parts.append(
            f"<h3>{html.escape(title)}</h3><p>{html.escape(note)}</p>"
            f'<div class="offenders">{"".join(cells)}</div>'
        )
    lead = (
        f"pictext audit of {audit.dataset}: labels that a model trained without the item "
        "doubts, the same picture filed under different labels, and the outliers."
    )
    return "Collection audit: suspect labels, duplicates, outliers", lead, md, parts


def _audit_items(audit: Any) -> dict[str, Any]:
    from pictext.data import load_dataset
    from pictext.data.errors import DatasetNotFoundError

    try:
        return {it.id: it for it in load_dataset(audit.dataset).items}
    except DatasetNotFoundError:
        return {}


def _suspects(audit: Any) -> list[tuple[str, str]]:
    out = []
    for r in audit.suspects(OFFENDERS):
        f = audit.flags(r)
        out.append((audit.ids[r], f"{audit.labels[r]} → {f['predicted']} ({f['error_score']:.2f})"))
    return out


def _conflicts(audit: Any) -> list[tuple[str, str]]:
    out = []
    for kind in ("bytes", "phash", "embedding"):
        g = audit.duplicates.get(kind)
        if g is None:
            continue
        for rows in g.groups():
            labels = sorted({str(audit.labels[r]) for r in rows})
            if len(labels) > 1 and all(audit.ids[rows[0]] != i for i, _ in out):
                out.append(
                    (audit.ids[rows[0]], f"{kind}: {len(rows)} items, " + " / ".join(labels))
                )
            if len(out) >= OFFENDERS:
                return out
    return out


def _unique(audit: Any) -> list[tuple[str, str]]:
    import numpy as np

    u = np.nan_to_num(audit.uniqueness, nan=-1.0)
    top = np.argsort(-u, kind="stable")[:OFFENDERS]
    return [(audit.ids[r], f"{audit.labels[r]} · {u[r]:.3f}") for r in top if u[r] >= 0]


def _thumbnail(run: Path, item: Any, name: str) -> str:
    """A 160 px PNG of the item under ``run/report_files``; its path relative to ``run``."""
    from pictext.data.errors import ItemError
    from pictext.data.images import load_image

    if item is None:
        return ""
    try:
        img = load_image(item, size=160)
    except ItemError:
        return ""
    img.thumbnail((160, 160))
    folder = run / "report_files"
    folder.mkdir(exist_ok=True)
    file = folder / (re.sub(r"[^A-Za-z0-9_-]+", "-", name) + ".png")
    img.save(file)
    return file.relative_to(run).as_posix()
