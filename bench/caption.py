"""Caption decoding speed: captions/s for greedy and beam search, per decoder.

    .venv/bin/python bench/caption.py --models runs/captions/tuxpaint/models
    .venv/bin/python bench/caption.py --models DIR --dataset openclipart --beams 1,3,5

Decodes the cached lite0 embeddings of the dataset's first ``--images`` images with every
saved captioner under ``--models`` (one sub-folder per decoder, as ``pictext caption-eval``
writes them), in batches of ``--batch`` and one image at a time. Image encoding is not
included (see bench/embed.py). The best of ``--repeats`` runs is reported.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from pictext.caption import Captioner
from pictext.data import load_dataset
from pictext.store import embed_dataset


def captions_per_second(
    model: Captioner, x: np.ndarray, beam: int, batch: int, repeats: int
) -> tuple[float, float]:
    """Best captions/s over ``repeats`` runs, and the mean caption length in words."""
    best, words = 0.0, 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        captions = []
        for lo in range(0, len(x), batch):
            captions += model.predict(x[lo : lo + batch], beam_size=beam)
        best = max(best, len(x) / (time.perf_counter() - t0))
        words = float(np.mean([len(c.split()) for c in captions]))
    return best, words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, required=True, help="folder of saved captioners")
    parser.add_argument("--dataset", default="tuxpaint")
    parser.add_argument("--images", type=int, default=256, help="images decoded per run")
    parser.add_argument("--beams", default="1,3,5", help="comma-separated beam widths")
    parser.add_argument("--batch", type=int, default=64, help="images per decoder call")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    dirs = sorted(p for p in args.models.iterdir() if (p / "config.json").is_file())
    if not dirs:
        raise SystemExit(f"{args.models}: no saved captioner (a folder with config.json)")
    ds = load_dataset(args.dataset)
    feats = embed_dataset(ds, "efficientnet-lite0", None, progress=False)  # cached: reads
    x = feats.image[feats.image_mask][: args.images]
    table = Table(
        title=f"caption decoding on {args.dataset}, {len(x)} images, {args.threads} thread(s)"
    )
    for col in (
        "decoder",
        "decoding",
        f"captions/s (batch {args.batch})",
        "captions/s (batch 1)",
        "mean words",
    ):
        table.add_column(col)
    for d in dirs:
        model = Captioner.load(d)
        for beam in (int(b) for b in args.beams.split(",")):
            rate, words = captions_per_second(model, x, beam, args.batch, args.repeats)
            single, _ = captions_per_second(model, x[:32], beam, 1, 1)
            name = "greedy" if beam == 1 else f"beam {beam}"
            table.add_row(d.name, name, f"{rate:.0f}", f"{single:.0f}", f"{words:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
