"""Aggregate Table-3 runs over seeds and write them as Markdown, JSON and a Rich table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pictext.classify.table3 import CONDITIONS, Table3Result
from pictext.core.atomic import atomic_write_text

METRICS: tuple[str, ...] = ("top1", "top5", "novel_top1", "novel_top5")


def metric_names(records: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    """:data:`METRICS` and the ``<set>_top1``/``<set>_top5`` scores of the predefined sets
    (e.g. ``webvision_val_top1``) the records hold, in first-seen order."""
    extra = [k for r in records for k in r if k.endswith(("_top1", "_top5"))]
    return (*METRICS, *(k for k in dict.fromkeys(extra) if k not in METRICS))


def aggregate(
    records: Sequence[dict[str, Any]], keys: Sequence[str], metrics: Sequence[str]
) -> list[dict[str, Any]]:
    """Mean and std over seeds of ``metrics`` per distinct ``keys`` value, first-seen order."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    out = []
    for key, rs in groups.items():
        row = dict(zip(keys, key, strict=True))
        row["kind"] = rs[0].get("kind")
        row["n_seeds"] = len(rs)
        for m in metrics:
            vals = [100 * r[m] for r in rs if m in r and r[m] == r[m]]
            if vals:
                row[m] = float(np.mean(vals))
                row[m + "_std"] = float(np.std(vals))
        out.append(row)
    return out


# the rows the saved ensemble is compared with: each candidate alone, and the anchors
CANDIDATE_KINDS = (
    "image",
    "text",
    "fusion",
    "fusion-head",
    "anchor-logreg",
    "anchor-tuned",
    "anchor-average",
)


def summary(result: Table3Result) -> dict[str, Any]:
    """The aggregated table, the missing-input table and the fusion gains (top-1 points)."""
    table = aggregate(result.scores, ["row"], metric_names(result.scores))
    robust = aggregate(result.robustness, ["row", "condition"], ["top1", "top5"])
    single = [r for r in table if r["kind"] in ("image", "text")]
    fusion = [r for r in table if r["kind"] == "fusion"]
    gains: dict[str, float] = {}
    if single and fusion:
        best_fusion = max(fusion, key=lambda r: r["top1"])
        gains["best_fusion"] = best_fusion["row"]
        gains["vs_best_single"] = best_fusion["top1"] - max(r["top1"] for r in single)
        for kind in ("anchor-logreg", "anchor-tuned", "anchor-average"):
            rows = [r for r in table if r["kind"] == kind]
            if rows:
                gains[f"vs_best_{kind}"] = best_fusion["top1"] - max(r["top1"] for r in rows)
        # what routing adds: the same fusion row without its routes ("fusion head alone")
        alone = best_fusion["row"].replace("fusion ", "fusion head alone ", 1)
        alone_row = next((r for r in table if r["row"] == alone), None)
        if alone_row is not None:
            gains["vs_fusion_head_alone"] = best_fusion["top1"] - alone_row["top1"]
    ensembles = [r for r in table if r["kind"] == "ensemble"]
    candidates = [r for r in table if r["kind"] in CANDIDATE_KINDS]
    if ensembles and candidates:
        ens = max(ensembles, key=lambda r: r["top1"])
        best = max(candidates, key=lambda r: r["top1"])
        gains["ensemble"] = ens["row"]
        gains["best_candidate"] = best["row"]
        gains["ensemble_vs_best_candidate"] = ens["top1"] - best["top1"]
        gains["best_candidate_std"] = best.get("top1_std", 0.0)
        diffs = _paired(result.scores, ens["row"], best["row"])
        gains["ensemble_vs_best_candidate_paired_std"] = float(np.std(diffs)) if diffs else 0.0
    return {
        "dataset": result.dataset,
        "sizes": result.sizes,
        "table": table,
        "robustness": robust,
        "gains": gains,
    }


def _paired(records: Sequence[dict[str, Any]], a: str, b: str) -> list[float]:
    """Per seed: top-1 of row ``a`` minus row ``b`` (points), seeds that have both."""
    by = {(r["row"], r["seed"]): 100 * r["top1"] for r in records}
    return [v - by[(b, s)] for (row, s), v in by.items() if row == a and (b, s) in by]


def ensemble_line(s: dict[str, Any]) -> str:
    """The summary line comparing the saved ensemble with the best candidate ("" if none)."""
    g = s["gains"]
    if "ensemble" not in g:
        return ""
    return (
        f"{g['ensemble'][0].upper()}{g['ensemble'][1:]} top-1 gain: "
        f"{g['ensemble_vs_best_candidate']:+.1f} "
        f"vs the best candidate ({g['best_candidate']}, std over seeds "
        f"{g['best_candidate_std']:.1f}; paired difference std "
        f"{g['ensemble_vs_best_candidate_paired_std']:.1f})"
    )


def _cell(row: dict[str, Any], m: str) -> str:
    return f"{row[m]:.1f} ± {row[m + '_std']:.1f}" if m in row else "–"


def _columns(s: dict[str, Any]) -> list[str]:
    """The metrics of the table with a value in some row (top-1 and top-5 always); the
    novel columns are left out when they repeat top-1 and top-5 (every test item novel)."""
    names = metric_names(s["table"])
    keep = [m for m in names if m in METRICS[:2] or any(m in r for r in s["table"])]
    if _novel_repeats(s):
        keep = [m for m in keep if not m.startswith("novel_")]
    return keep


def _novel_repeats(s: dict[str, Any]) -> bool:
    """Whether the novel columns hold the same figures as top-1 and top-5 in every row."""
    rows = s["table"]
    return bool(rows) and all(
        r.get(f"novel_{m}") is not None and abs(r[f"novel_{m}"] - r[m]) < 1e-9
        for r in rows
        for m in ("top1", "top5")
        if m in r
    )


def _rows(s: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows to show: a "fusion head alone" row that repeats its fusion row's figures
    (no item was routed) is folded into that row."""
    by_name = {r["row"]: r for r in s["table"]}
    out = []
    for r in s["table"]:
        twin = by_name.get(r["row"].replace("fusion head alone ", "fusion ", 1))
        if r["row"].startswith("fusion head alone ") and twin is not None and _same(r, twin):
            continue
        out.append(r)
    return out


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(abs(a.get(m, 0.0) - b.get(m, 0.0)) < 1e-9 for m in METRICS)


def sizes_text(sizes: dict[str, int]) -> str:
    """``{"train": 600, "val": 100}`` -> ``train 600, val 100``."""
    return ", ".join(f"{k} {v}" for k, v in sizes.items())


def table_caption(s: dict[str, Any]) -> str:
    """One line: what Table 3 shows and which row is best."""
    rows = _rows(s)
    best = max(rows, key=lambda r: r.get("top1", float("-inf")), default=None)
    text = "Test accuracy (%, mean ± std over seeds) of each model; higher is better"
    if best is not None:
        text += f"; best top-1: {best['row']} ({best['top1']:.1f})"
    if len(rows) < len(s["table"]):
        text += "; fusion head alone = fusion (no item routed)"
    if _novel_repeats(s):
        text += "; every test item is novel, so novel columns are not repeated"
    return text + "."


def _label(metric: str) -> str:
    """``novel_top1`` -> ``novel top-1``."""
    return metric.replace("_top", " top").replace("top1", "top-1").replace("top5", "top-5")


def table_markdown(s: dict[str, Any]) -> str:
    """Table 3 as Markdown (mean ± std over seeds, percent)."""
    ms = _columns(s)
    cols = [_label(m) for m in ms]
    lines = [
        table_caption(s),
        "",
        f"| model | {' | '.join(cols)} |",
        "|---" * (len(cols) + 1) + "|",
    ]
    rows = _rows(s)
    best = max(rows, key=lambda r: r.get("top1", float("-inf")), default=None)
    for r in rows:
        cells = [_cell(r, m) for m in ms]
        name = f"**{r['row']}** (best)" if r is best else r["row"]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    g = s["gains"]
    if "best_fusion" in g:
        lines.append("")
        lines.append(
            f"Best fusion ({g['best_fusion']}) top-1 gain: "
            f"{g['vs_best_single']:+.1f} vs best single input"
            + "".join(
                f", {v:+.1f} vs best {k[8:]}"
                for k, v in g.items()
                if k.startswith("vs_best_anchor")
            )
            + (
                f", {g['vs_fusion_head_alone']:+.1f} vs its fusion head alone (no routes)"
                if "vs_fusion_head_alone" in g
                else ""
            )
        )
    if ensemble_line(s):
        lines += ["", ensemble_line(s)]
    return "\n".join(lines) + "\n"


def robustness_markdown(s: dict[str, Any]) -> str:
    """The missing-input table (top-1 %, mean ± std) with the single-input references."""
    conds = list(CONDITIONS)
    by_row: dict[str, dict[str, dict[str, Any]]] = {}
    for r in s["robustness"]:
        by_row.setdefault(r["row"], {})[r["condition"]] = r
    lines = [f"| fusion model | {' | '.join(conds)} |", "|---" * (len(conds) + 1) + "|"]
    for row, cells in by_row.items():
        vals = [_cell(cells[c], "top1") if c in cells else "–" for c in conds]
        lines.append(f"| {row} | {' | '.join(vals)} |")
    refs = [r for r in s["table"] if r["kind"] in ("image", "text")]
    if refs:
        lines += [
            "",
            "References (top-1): " + ", ".join(f"{r['row']} {_cell(r, 'top1')}" for r in refs),
        ]
    return "\n".join(lines) + "\n"


def write_outputs(result: Table3Result, out_dir: str | Path) -> dict[str, Path]:
    """Write ``table3.json`` (raw + summary), ``table3.md``, ``robustness.md`` and the
    split of each seed (``split-seed<N>.json``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    s = summary(result)
    raw = {
        "summary": s,
        "config": result.config,
        "scores": result.scores,
        "robustness": result.robustness,
        "histories": result.histories,
        "classes": result.classes,
        "predictions": result.predictions,
        "data": result.data,
    }
    files = {
        "json": _write(out / "table3.json", json.dumps(raw, indent=2)),
        "table": _write(
            out / "table3.md",
            f"# Table 3: {result.dataset}\n\nsizes: {sizes_text(s['sizes'])}\n\n"
            + table_markdown(s),
        ),
        "robustness": _write(
            out / "robustness.md",
            f"# Missing inputs: {result.dataset}\n\n" + robustness_markdown(s),
        ),
    }
    if result.splits:
        for seed, split in zip(result.config["seeds"], result.splits, strict=True):
            files[f"split-seed{seed}"] = split.save(out / f"split-seed{seed}.json")
    return files


def write_plots(result: Table3Result, out_dir: str | Path) -> list[Path]:
    """Learning curves (first seed) and the best fusion row's most-confused pairs, as PNG."""
    from pictext.classify.plot_confusion import plot_confused_pairs
    from pictext.core.curves import plot_learning_curves

    out, s = Path(out_dir), summary(result)
    seed = result.config["seeds"][0]
    hist = {k.rsplit("/", 1)[0]: v for k, v in result.histories.items() if k.endswith(f"/{seed}")}
    paths = [
        plot_learning_curves(hist, out / "learning_curves.png", f"{result.dataset}, seed {seed}")
    ]
    best = s["gains"].get("best_fusion")
    if best and best in result.predictions:
        pred = result.predictions[best]
        paths.append(
            plot_confused_pairs(
                np.array(pred["y_true"]), np.array(pred["y_pred"]), result.classes,
                out / "confused_pairs.png", title=f"{result.dataset}: {best}, seed {seed}",
            )
        )  # fmt: skip
    return paths


def rich_table(s: dict[str, Any]) -> Any:
    """Table 3 as a ``rich.table.Table`` for the terminal."""
    from rich.table import Table

    t = Table(title=f"Table 3: {s['dataset']} ({sizes_text(s['sizes'])})")
    t.caption = table_caption(s)
    ms = _columns(s)
    t.add_column("model")
    for m in ms:
        t.add_column(_label(m), justify="right")
    rows = _rows(s)
    best = max(rows, key=lambda r: r.get("top1", float("-inf")), default=None)
    for r in rows:
        name = f"{r['row']} (best)" if r is best else r["row"]
        t.add_row(name, *(_cell(r, m) for m in ms), style="bold" if r is best else None)
    line = ensemble_line(s)
    if line:
        t.caption = f"{t.caption} {line}" if t.caption else line
    return t


def _write(path: Path, text: str) -> Path:
    atomic_write_text(path, text)
    return path
