"""Caption quality (chosen on validation, scored on test) and decoding speed.

    .venv/bin/python bench/caption.py quality                      # tuxpaint + openclipart
    .venv/bin/python bench/caption.py quality --archs consensus --seeds 0,1,2,3,4
    .venv/bin/python bench/caption.py fields --archs consensus,merge  # does more text help?
    .venv/bin/python bench/caption.py speed --models runs/captions/tuxpaint/models

``quality`` runs :func:`pictext.caption.runs.run_captions` on the cached lite0 embeddings of
each dataset and prints the table: every captioner type and the baselines on the test
images, the default (best on validation) marked, with the consensus captioner's validation
grid and the targets of issue 10 (default >= nearest caption on BLEU-1 and cosine, under 2%
degenerate) checked. ``fields`` fits the types twice, on the reference captions alone and
with the other fields added (title, description, tags), and prints the validation scores
(validation only: it decides a default). ``speed`` decodes the first ``--images`` cached
embeddings with every saved captioner under ``--models`` (one sub-folder each, as
``pictext caption-eval`` writes them), in batches and one at a time, and prints captions/s.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from pictext.caption import Decoding, load_captioner
from pictext.caption.runs import CaptionRunConfig, run_captions
from pictext.caption.tables import format_caption_table, format_consensus_grid
from pictext.data import load_dataset
from pictext.store import embed_dataset


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _features(name: str):
    ds = load_dataset(name)
    return ds, embed_dataset(ds, "efficientnet-lite0", None, progress=False)  # cached: reads


def quality(args: argparse.Namespace) -> None:
    """The test table per dataset and seed, the default chosen on validation, the targets."""
    summary = Table(title="default captioner minus nearest caption, on test (x 100)")
    for col in ("dataset", "seed", "default", "BLEU-1", "cosine", "degenerate", "targets met"):
        summary.add_column(col)
    for name in _csv(args.datasets):
        ds, feats = _features(name)
        for seed in map(int, _csv(args.seeds)):
            cfg = CaptionRunConfig(
                archs=_csv(args.archs),
                extra_fields=_csv(args.extra_fields),
                seed=seed,
                epochs=args.epochs,
                threads=args.threads,
            )
            t0 = time.perf_counter()
            result = run_captions(ds, feats, cfg, log=print)
            print(f"\n## {name} (seed {seed}, {time.perf_counter() - t0:.0f} s)\n")
            print(format_caption_table(result["rows"]))
            print("\nconsensus captioner on validation:\n")
            print(format_consensus_grid(result["consensus_grid"]))
            default = next(r for r in result["rows"] if r["default"])
            near = next(r for r in result["rows"] if r["model"] == "nearest caption")
            met = (
                default["bleu1"] >= near["bleu1"]
                and default["cosine"] >= near["cosine"]
                and default["degenerate"] < 0.02
            )
            summary.add_row(
                name,
                str(seed),
                result["default"],
                f"{100 * (default['bleu1'] - near['bleu1']):+.1f}",
                f"{100 * (default['cosine'] - near['cosine']):+.1f}",
                f"{100 * default['degenerate']:.1f}%",
                "yes" if met else "NO",
            )
    Console().print(summary)


def fields(args: argparse.Namespace) -> None:
    """Validation score of each type fitted without and with the other text fields."""
    table = Table(title="validation score (mean of BLEU-1 and cosine, x 100) by training text")
    for col in ("dataset", "system", "reference only", f"+ {args.extra_fields}", "change"):
        table.add_column(col)
    for name in _csv(args.datasets):
        ds, feats = _features(name)
        scores = []
        for extra in ((), _csv(args.extra_fields)):
            cfg = CaptionRunConfig(
                archs=_csv(args.archs),
                extra_fields=extra,
                seed=int(args.seed),
                epochs=args.epochs,
                threads=args.threads,
            )
            result = run_captions(ds, feats, cfg, log=print)
            scores.append({r["arch"]: r["val"] for r in result["rows"] if "arch" in r})
        for arch in scores[0]:
            a, b = (100 * (s[arch]["bleu1"] + s[arch]["cosine"]) / 2 for s in scores)
            table.add_row(name, arch, f"{a:.1f}", f"{b:.1f}", f"{b - a:+.1f}")
    Console().print(table)


def captions_per_second(
    model: object, x: np.ndarray, decoding: Decoding, batch: int, repeats: int
) -> tuple[float, float]:
    """Best captions/s over ``repeats`` runs, and the mean caption length in words."""
    best, words = 0.0, 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        captions = []
        for lo in range(0, len(x), batch):
            captions += model.predict(x[lo : lo + batch], decoding=decoding)  # type: ignore[attr-defined]
        best = max(best, len(x) / (time.perf_counter() - t0))
        words = float(np.mean([len(c.split()) for c in captions]))
    return best, words


def speed(args: argparse.Namespace) -> None:
    """Captions/s of every saved captioner under ``--models``."""
    import torch

    torch.set_num_threads(args.threads)
    dirs = sorted(p for p in args.models.iterdir() if (p / "config.json").is_file())
    if not dirs:
        raise SystemExit(f"{args.models}: no saved captioner (a folder with config.json)")
    _, feats = _features(args.dataset)
    x = feats.image[feats.image_mask][: args.images]
    table = Table(
        title=f"caption decoding on {args.dataset}, {len(x)} images, {args.threads} thread(s)"
    )
    for col in (
        "captioner",
        "decoding",
        f"captions/s (batch {args.batch})",
        "captions/s (batch 1)",
        "mean words",
    ):
        table.add_column(col)
    for d in dirs:
        model = load_captioner(d)
        beams = (1,) if model.config.arch == "consensus" else _csv(args.beams)
        for beam in map(int, beams):
            decoding = Decoding(beam_size=beam)
            rate, words = captions_per_second(model, x, decoding, args.batch, args.repeats)
            single, _ = captions_per_second(model, x[:32], decoding, 1, 1)
            name = "-" if model.config.arch == "consensus" else decoding.name
            table.add_row(d.name, name, f"{rate:.0f}", f"{single:.0f}", f"{words:.1f}")
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode in ("quality", "fields"):
        p = sub.add_parser(mode)
        p.add_argument("--datasets", default="tuxpaint,openclipart")
        p.add_argument("--archs", default="consensus,merge,transformer,retrieval")
        p.add_argument(
            "--extra-fields", default="" if mode == "quality" else "title,description,tags"
        )
        p.add_argument("--seeds" if mode == "quality" else "--seed", default="0")
        p.add_argument("--epochs", type=int, default=40)
        p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p = sub.add_parser("speed")
    p.add_argument("--models", type=Path, required=True, help="folder of saved captioners")
    p.add_argument("--dataset", default="tuxpaint")
    p.add_argument("--images", type=int, default=256, help="images decoded per run")
    p.add_argument("--beams", default="1,3,5", help="comma-separated beam widths")
    p.add_argument("--batch", type=int, default=64, help="images per decoder call")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    {"quality": quality, "fields": fields, "speed": speed}[args.mode](args)


if __name__ == "__main__":
    main()
