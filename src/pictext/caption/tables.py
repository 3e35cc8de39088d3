"""The caption tables as Markdown: systems on test (chosen on validation), the consensus grid."""

from __future__ import annotations

from typing import Any

from pictext.caption.registry import LABELS

CAPTION_NOTE = (
    "Test images, x 100 except cosine. 'val score' (mean of BLEU-1 and cosine on the "
    "validation images) is what picks the default captioner (marked) and the consensus k; "
    "test figures pick nothing. BLEU: sacrebleu corpus BLEU of cleaned captions against one "
    "short reference; cosine: mean sentence-encoder cosine of caption and reference; "
    "degenerate: captions with a word right after itself, a word pair said twice or a wrong "
    "'a'/'an'. 'new captions': test images whose reference never occurs in training; "
    "'copied': captions identical to a training caption."
)


def format_caption_table(rows: list[dict[str, Any]]) -> str:
    """The rows of :func:`pictext.caption.runs.run_captions` as a Markdown table."""
    head = (
        "| system | decoding | val score | BLEU-1 | BLEU-2 | BLEU-3 | BLEU-4 | cosine | "
        "degenerate | BLEU-1 / BLEU-2 new captions | distinct | copied | words | captions/s |"
    )
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        name = LABELS.get(r["model"], r["model"])
        if r.get("default"):
            name = f"**{name} (default)**"
        novel = (
            f"{100 * r['bleu1_novel']:.1f} / {100 * r['bleu2_novel']:.1f}"
            if "bleu1_novel" in r
            else "-"
        )
        rate = f"{r['captions_per_s']:.0f}" if r.get("captions_per_s") else "-"
        lines.append(
            f"| {name} | {r['decoding']} | {100 * r['val_score']:.1f} | "
            + " | ".join(f"{100 * r[f'bleu{n}']:.1f}" for n in range(1, 5))
            + f" | {r['cosine']:.3f} | {100 * r['degenerate']:.1f}% | {novel} | "
            f"{100 * r['distinct']:.0f}% | {100 * r['copied']:.0f}% | {r['mean_words']:.1f} | "
            f"{rate} |"
        )
    return "\n".join(lines)


def format_consensus_grid(grid: list[dict[str, Any]]) -> str:
    """Validation score of each consensus ``k`` and temperature (the best in bold)."""
    if not grid:
        return ""
    best = max(grid, key=lambda g: g["val_score"])
    lines = ["| k | temperature | val BLEU-1 | val cosine | val score |", "|---|---|---|---|---|"]
    for g in grid:
        cells = [
            str(g["k"]),
            f"{g['temperature']:g}" if g["k"] > 1 else "-",
            f"{100 * g['bleu1']:.1f}",
            f"{g['cosine']:.3f}",
            f"{100 * g['val_score']:.1f}",
        ]
        if g is best:
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
