"""How the commands print answers: shared by the command modules and ``pictext demo``.

Formatting only: every answer comes from :class:`pictext.bundle.model.Model` or a job.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from pictext.audit import AuditResult
    from pictext.rank.queries import QueryAnswer


def tag_line(
    item_id: str,
    top: Sequence[tuple[str, float]],
    as_json: bool = False,
    ignored: Sequence[str] = (),
) -> str:
    """``id: label p, label p, ...`` (or one JSON object); ``ignored``: inputs the item had
    that the classifier never learnt from, so it was not fed them (said on the line)."""
    if as_json:
        answer = {"id": item_id, "top": [[lab, round(p, 4)] for lab, p in top]}
        return json.dumps(answer | ({"ignored": list(ignored)} if ignored else {}))
    return f"{item_id}: " + ", ".join(f"{lab} {p:.2f}" for lab, p in top) + ignored_note(ignored)


def ignored_note(ignored: Sequence[str]) -> str:
    """The note on a line whose item had inputs the model was not trained with."""
    if not ignored:
        return ""
    return f"  (ignored: {', '.join(ignored)}: the model was trained without them)"


def epoch_line(row: dict[str, Any]) -> str:
    """One epoch of a ranking head: loss and validation triplet accuracy (head and raw)."""
    return (
        f"epoch {row['epoch']:3d}  loss {row['loss']:.4f}  "
        f"val triplet acc {row['val_triplet_acc']:.4f} (raw {row['raw_val_triplet_acc']:.4f})"
    )


def verdict_line(v: Any, as_json: bool = False, ignored: Sequence[str] = ()) -> str:
    """A verdict on a claimed label: agree or not, with confidence and the top labels
    (``ignored`` as in :func:`tag_line`)."""
    if as_json:
        return json.dumps(v.to_dict() | ({"ignored": list(ignored)} if ignored else {}))
    word = "AGREE" if v.agree else "DISAGREE"
    top = ", ".join(f"{lab} {p:.2f}" for lab, p in v.top)
    line = f"{v.item_id}: {word} with {v.claimed!r} (p={v.confidence:.2f}); top-5: {top}"
    return line + ignored_note(ignored)


def show_answer(answer: QueryAnswer, title: str, as_json: bool) -> None:
    """Print an answer: which index, how the query was read, what d means, then the hits."""
    if as_json:
        typer.echo(json.dumps(answer.to_dict()))
        return
    index = answer.index
    where = index["path"] or "an index built in memory"
    typer.echo(
        f"index: {where} ({index['items']} items, {index['space']} space, {index['metric']})"
    )
    if answer.kind == "history":
        typer.echo(f"history: {answer.query} ({answer.how})")
    else:
        typer.echo(f"query: {answer.query!r} read as {answer.how}")
    if answer.ignored:
        typer.echo(
            f"note: {', '.join(answer.ignored)} not used: this index's space reads images only "
            "(a joint index reads text too: pictext rank train --joint)"
        )
    typer.echo(answer.distance)
    typer.echo(title)
    if not answer.hits:
        typer.echo("  no results")
    for i, h in enumerate(answer.hits, 1):
        parts = "".join(f"  {n}={c:.2f}" for n, c in (h.parts or {}).items())
        line = f"{i:3d}  {h.id:40s}  {h.label or '-':20s}  d={h.distance:.4f}{parts}  {h.title}"
        typer.echo(line.rstrip())
    if any(h.parts for h in answer.hits):
        typer.echo("image= / text=: cosine of the query's image alone / text alone to each item")


def print_table(rows: list[dict]) -> None:
    """Rows of one dict each, as a Markdown table."""
    from pictext.core.tables import markdown_table

    typer.echo(markdown_table(rows))


def print_audit(result: AuditResult, dataset: str, out: Path, show: int) -> None:
    """An audit's summary: suspected label errors (the first ``show``), duplicates, time."""
    summary = result.summary() | {"saved": str(out)}
    typer.echo(f"{summary['items']} items of {dataset}; saved in {out}")
    if result.issues is not None:
        typer.echo(
            f"suspected label errors: {summary['suspected_errors']} "
            f"of {summary['checked']} checked "
            f"(out-of-fold accuracy {100 * (summary['oof_accuracy'] or 0):.1f}%)"
        )
        for row in result.suspects(show):
            f = result.flags(row)
            typer.echo(
                f"  {result.ids[row]}  given {result.labels[row]!r}, "
                f"predicted {f['predicted']!r} (p={f['predicted_p']:.2f})"
            )
    for kind, d in summary["duplicates"].items():
        typer.echo(
            f"duplicates by {kind}: {d['groups']} groups, "
            f"{d['label_conflicts']} with label conflicts"
        )
    secs = ", ".join(f"{k} {v:.1f}s" for k, v in summary["seconds"].items())
    typer.echo(f"time: {secs}")
    if summary.get("methods"):
        typer.echo("methods: " + ", ".join(f"{k} {v}" for k, v in summary["methods"].items()))
