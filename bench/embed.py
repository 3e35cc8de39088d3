"""Embedding throughput, cache speed-up and memory, measured in one run.

    .venv/bin/python bench/embed.py                     # tuxpaint images + text rates
    .venv/bin/python bench/embed.py --full openclipart  # + full run: time, peak RSS, re-run

Prints a table. Ratios are taken within one run, so machine noise hits both sides alike.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))

from embed_models import eager_torch_one_by_one, ort_ceiling, text_rate
from pictext.data import load_dataset
from pictext.data.images import load_image
from pictext.encoders import create_encoder
from pictext.store import EmbedReport, embed_dataset


def end_to_end(dataset: str, encoder: str, limit: int, batch: int) -> tuple[float, int]:
    """images/s of the store's embed path (hash + decode + resize + ORT) into a fresh cache."""
    ds = load_dataset(dataset)
    ds = ds.subset(range(min(limit, len(ds))))
    enc = create_encoder(encoder)
    enc.prepare()  # the ONNX export and session start are not part of the steady rate
    with tempfile.TemporaryDirectory() as tmp:
        report = EmbedReport()
        embed_dataset(ds, enc, None, cache_dir=tmp, progress=False, batch_size=batch, report=report)
    return report.images_per_second, report.images_computed


def cli_run(dataset: str, cache: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (GiB) of one `pictext embed DATASET` in a child process."""
    env = {**os.environ, "PICTEXT_CACHE": cache}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pictext.cli", "embed", dataset, "--no-progress"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="tuxpaint")
    parser.add_argument("--encoder", default="efficientnet-lite0")
    parser.add_argument("--limit", type=int, default=640, help="images for the throughput rows")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--eager", type=int, default=40, help="images for eager torch")
    parser.add_argument("--full", default="", help="dataset for the full run (time, RSS, re-run)")
    args = parser.parse_args()

    console = Console()
    enc = create_encoder(args.encoder)
    table = Table(title=f"pictext embed benchmark ({os.cpu_count()} cores)")
    for col in ("what", "rate", "vs ORT ceiling", "note"):
        table.add_column(col)

    ceiling = ort_ceiling(enc, n=args.limit // 2, batch=args.batch)
    e2e, n = end_to_end(args.dataset, args.encoder, args.limit, args.batch)
    images = [
        load_image(it, size=enc.image_size) for it in load_dataset(args.dataset).items[: args.eager]
    ]
    eager = eager_torch_one_by_one(enc, images=images)
    table.add_row(
        f"ORT model only, batch {args.batch}", f"{ceiling:.1f} img/s", "1.00", "preprocessed input"
    )
    table.add_row(
        f"pictext embed end to end ({args.dataset})",
        f"{e2e:.1f} img/s",
        f"{e2e / ceiling:.2f}",
        f"{n} real images: hash + decode + resize + ORT; {e2e / eager:.1f}x eager torch",
    )
    table.add_row(
        "eager torch, one image at a time",
        f"{eager:.1f} img/s",
        f"{eager / ceiling:.2f}",
        f"{len(images)} decoded images: resize + normalise + torch",
    )

    ds = load_dataset(args.dataset)
    sentences = sorted({it.text for it in ds.items if it.text})
    for name in ("use", "minilm"):
        rate = text_rate(create_encoder(name), sentences)
        table.add_row(f"text {name}", f"{rate:.0f} sentences/s", "", f"{len(sentences)} texts")

    if args.full:
        with tempfile.TemporaryDirectory() as cache:
            first, rss = cli_run(args.full, cache)
            second, _ = cli_run(args.full, cache)
        fresh = f"pictext embed {args.full}, empty cache (SVGs rasterised too)"
        table.add_row(fresh, f"{first:.1f} s", "", f"peak RSS {rss:.2f} GiB")
        again = f"{100 * second / first:.1f}% of the first"
        table.add_row(f"pictext embed {args.full}, again", f"{second:.1f} s", "", again)
    console.print(table)


if __name__ == "__main__":
    main()
