"""Embedding speed and int8 parity, measured in one run, printed as one table.

    .venv/bin/python bench/embed.py                          # speed + parity (tuxpaint)
    .venv/bin/python bench/embed.py --table3 tuxpaint,openclipart --seeds 0,1,2
    .venv/bin/python bench/embed.py --full openclipart       # + full CLI run: time, RSS
    .venv/bin/python bench/embed.py --fp32 efficientnet-lite2 --int8 efficientnet-lite2-int8

Rows: the model alone (fp32 vs int8, measured before and after the rest, averaged); the
store's embed path end to end on the PNGs of a dataset and on a JPEG copy of it; the thread
split (decoding threads x ONNX Runtime threads); two eager-torch peers (a DataLoader with
workers, one image at a time); mean cosine int8 vs fp32 on real images the calibration did
not see; Table 3 top-1 with fp32 and int8 image features (label words stripped). Ratios are
taken within the run, so machine noise hits both sides alike.
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

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))

from embed_models import ort_ceiling, text_rate
from embed_peers import dataloader_peer, one_by_one_peer
from pictext.data import load_dataset
from pictext.data.errors import ItemError
from pictext.data.images import load_image
from pictext.encoders import create_encoder
from pictext.encoders.quantize import pick_images
from pictext.store import EmbedReport, embed_dataset


def end_to_end(ds: object, enc: object, batch: int, workers: int = 2) -> tuple[float, int]:
    """images/s of the store's embed path (hash + decode + resize + ORT) into a fresh cache."""
    with tempfile.TemporaryDirectory() as tmp:
        report = EmbedReport()
        embed_dataset(
            ds,
            enc,
            None,
            cache_dir=tmp,
            progress=False,
            batch_size=batch,
            workers=workers,
            report=report,
        )
    return report.images_per_second, report.images_computed


def jpeg_copy(ds: object, folder: Path, quality: int = 90) -> object:
    """The dataset's images as JPEG files (alpha flattened on white), one folder per class."""
    for i, it in enumerate(ds.items):
        out = folder / (it.label or "none") / f"{i:05d}-{Path(it.image).stem}.jpg"
        out.parent.mkdir(parents=True, exist_ok=True)
        load_image(it).save(out, quality=quality)
    return load_dataset(str(folder))


def parity(fp32: object, int8: object, n: int) -> tuple[float, float, float, int]:
    """Cosine int8 vs fp32 on ``n`` packaged images outside the calibration and check sets.

    Returns mean, 1st percentile, minimum and the number of images.
    """
    calibrate, held = pick_images()
    seen = {it.id for it in (*calibrate, *held)}
    pool = [it for name in ("tuxpaint", "openclipart") for it in load_dataset(name).items]
    pool = sorted((it for it in pool if it.id not in seen), key=lambda it: it.id)
    # evenly spaced; a few more than n, since some SVGs do not render
    picks = np.linspace(0, len(pool) - 1, min(n + n // 50, len(pool))).astype(int)
    items = [pool[i] for i in picks]
    a, b = [], []
    for lo in range(0, len(items), 64):
        images = []
        for it in items[lo : lo + 64]:
            try:
                images.append(load_image(it, size=fp32.image_size))
            except ItemError:  # an SVG that does not render: no image to compare
                continue
        a.append(fp32.encode(images))
        b.append(int8.encode(images))
    a, b = np.concatenate(a), np.concatenate(b)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return float(cos.mean()), float(np.percentile(cos, 1)), float(cos.min()), len(a)


def table3_rows(dataset: str, fp32: str, int8: str, seeds: tuple[int, ...]) -> list[tuple]:
    """Mean test top-1 (points) per row kind for fp32 vs int8 image features, and the gap."""
    from pictext.classify.runs import evaluate_dataset, load_labelled
    from pictext.classify.table3 import Table3Config

    ds = load_labelled(dataset, strip_label_words=True)
    cfg = Table3Config(
        image_encoders=(fp32, int8), text_encoders=("use",), seeds=seeds, anchors=False
    )
    result = evaluate_dataset(ds, cfg, novel=False)
    rows = []
    for kind in ("image", "fusion"):
        top1 = {
            ie: np.array(
                [
                    100 * s["top1"]
                    for s in result.scores
                    if s["kind"] == kind and s["image_encoder"] == ie
                ]
            )
            for ie in (fp32, int8)
        }
        gap = top1[int8] - top1[fp32]  # paired: same split and head seed
        rows.append((kind, top1[fp32].mean(), top1[int8].mean(), gap.mean(), gap.std()))
    return rows


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


def _splits(text: str) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in s.split("x")) for s in text.split(",") if s]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="tuxpaint", help="PNG collection for speed rows")
    parser.add_argument("--fp32", default="efficientnet-lite0")
    parser.add_argument("--int8", default="efficientnet-lite0-int8")
    parser.add_argument("--limit", type=int, default=640, help="images for the speed rows")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument(
        "--peer", type=int, default=160, help="images for the torch peers (0: none)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="interleaved end-to-end rounds")
    parser.add_argument("--splits", default="1x2,2x2,2x1,3x2", help="decode x ORT threads")
    parser.add_argument("--parity", type=int, default=1000, help="images for the cosine")
    parser.add_argument("--table3", default="", help="datasets for Table 3 top-1 (comma list)")
    parser.add_argument("--seeds", default="0,1,2", help="Table 3 seeds")
    parser.add_argument("--full", default="", help="dataset for the full CLI run")
    args = parser.parse_args()

    fp32, int8 = create_encoder(args.fp32), create_encoder(args.int8)
    for enc in (fp32, int8):
        enc.prepare()  # export, quantization and session start are not part of any rate
    ds = load_dataset(args.dataset)
    raster = [i for i, it in enumerate(ds.items) if Path(it.image).suffix.lower() == ".png"]
    ds = ds.subset(raster[: args.limit])  # PNG files only: the peers cannot read SVG
    paths = [it.image for it in ds.items[: args.peer]]
    rows: list[tuple[str, str, str, str]] = []
    fmt = "{:.1f} img/s".format

    n = args.limit // 2
    ceil_before = [ort_ceiling(e, n=n, batch=args.batch) for e in (fp32, int8)]
    e2e = {}
    one_call = create_encoder(args.int8, parts=1)  # each batch in one ORT call, as before
    one_call.prepare()
    main_rows = [("int8", int8), ("int8, batch in one ORT call", one_call), ("fp32", fp32)]
    end_to_end(ds, int8, args.batch)  # warm-up: file pages and sessions, not measured
    runs: dict[str, list[float]] = {name: [] for name, _ in main_rows}
    for r in range(args.rounds):  # interleaved, order reversed every other round
        for name, enc in main_rows if r % 2 == 0 else main_rows[::-1]:
            rate, count = end_to_end(ds, enc, args.batch)
            runs[name].append(rate)
    for name, rates in runs.items():
        e2e[name] = (float(np.mean(rates)), count)
    with tempfile.TemporaryDirectory() as tmp:
        jpeg = jpeg_copy(ds, Path(tmp))
        e2e["int8 JPEG"] = end_to_end(jpeg, int8, args.batch)
        e2e["fp32 JPEG"] = end_to_end(jpeg, fp32, args.batch)
    split_rates = {}
    for workers, threads in _splits(args.splits):
        enc = create_encoder(args.int8, threads=threads)
        enc.prepare()
        split_rates[(workers, threads)] = end_to_end(ds, enc, args.batch, workers)[0]
    peer_loader = dataloader_peer(fp32, paths, batch=args.batch, workers=2) if paths else 0.0
    peer_single = one_by_one_peer(fp32, paths[: max(1, args.peer // 4)]) if paths else 0.0
    ceil_after = [ort_ceiling(e, n=n, batch=args.batch) for e in (fp32, int8)]
    c32, c8 = ((a + b) / 2 for a, b in zip(ceil_before, ceil_after, strict=True))
    best_peer = max(peer_loader, peer_single)

    rows.append((f"fp32 ORT model only, batch {args.batch}", fmt(c32), "1.00", "ceiling"))
    rows.append((f"int8 ORT model only, batch {args.batch}", fmt(c8), f"{c8 / c32:.2f}", "vs fp32"))
    for name, (rate, count) in e2e.items():
        kind = "JPEG copy" if "JPEG" in name else "PNG"
        note = f"{count} {args.dataset} {kind}"
        note += f"; {rate / best_peer:.1f}x best eager peer" if best_peer else ""
        rows.append((f"pictext embed {name}", fmt(rate), f"{rate / c32:.2f}", note))
    for (workers, threads), rate in split_rates.items():
        rows.append(
            (
                f"int8 embed, {workers} decode x {threads} ORT threads",
                fmt(rate),
                f"{rate / c32:.2f}",
                "thread split",
            )
        )
    if paths:
        rows.append(
            (
                "torch DataLoader peer (2 workers)",
                fmt(peer_loader),
                f"{peer_loader / c32:.2f}",
                f"{len(paths)} files, batch {args.batch}, inference_mode, channels_last",
            )
        )
        rows.append(
            (
                "torch one image at a time",
                fmt(peer_single),
                f"{peer_single / c32:.2f}",
                f"{max(1, args.peer // 4)} files: decode + preprocess + eager",
            )
        )
    if args.parity:
        mean, p1, low, count = parity(fp32, int8, args.parity)
        rows.append(
            (
                "cosine int8 vs fp32",
                f"{mean:.4f}",
                "",
                f"{count} real images not calibrated on; 1st pct {p1:.4f}, min {low:.4f}",
            )
        )
    if args.table3:
        _show(rows)  # the speed rows now: Table 3 takes a while
    seeds = tuple(int(s) for s in args.seeds.split(","))
    for name in filter(None, args.table3.split(",")):
        for kind, a, b, gap, sd in table3_rows(name, args.fp32, args.int8, seeds):
            rows.append(
                (
                    f"Table 3 top-1 {name} {kind}",
                    f"{a:.1f} -> {b:.1f}",
                    "",
                    f"int8 - fp32 {gap:+.2f} ± {sd:.2f} pts, {len(seeds)} seeds, labels stripped",
                )
            )
    sentences = sorted({it.text for it in ds.items if it.text})
    for name in ("use", "minilm"):
        rate = text_rate(create_encoder(name), sentences)
        rows.append((f"text {name}", f"{rate:.0f} sentences/s", "", f"{len(sentences)} texts"))
    if args.full:
        with tempfile.TemporaryDirectory() as cache:
            first, rss = cli_run(args.full, cache)
            second, _ = cli_run(args.full, cache)
        rows.append(
            (
                f"pictext embed {args.full}, empty cache",
                f"{first:.1f} s",
                "",
                f"peak RSS {rss:.2f} GiB",
            )
        )
        rows.append(
            (
                f"pictext embed {args.full}, again",
                f"{second:.1f} s",
                "",
                f"{100 * second / first:.1f}% of the first",
            )
        )

    _show(rows)


def _show(rows: list[tuple[str, str, str, str]]) -> None:
    table = Table(title=f"pictext embed benchmark ({os.cpu_count()} cores)")
    for col in ("what", "value", "vs fp32 ceiling", "note"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
