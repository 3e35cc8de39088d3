"""Past one machine: embedding on Ray, the store, the index and the heads, in one table.

    PYTHONPATH=src .venv/bin/python bench/scale.py                  # every section
    PYTHONPATH=src .venv/bin/python bench/scale.py --only ray,store

Sections:

- ``ray``: ``embed --ray`` on a local Ray of ``--cores`` CPUs against the in-process run
  on the same cores, interleaved (in-process, Ray, Ray, in-process, ...), each into a fresh
  cache, over generated JPEGs; wall time from the call to its return, encoder loading
  included (Ray's start is not: a cluster is up before a run). Then the vectors of both
  caches compared, and a Ray run in which the busiest encoder actor is killed (``kill -9``) once
  one and a half shards are encoded: it must complete, store every item once, and encode at most one
  shard more than the items.
- ``store``: :mod:`scale_store` (a synthetic store of ``--store-rows`` rows).
- ``index``, ``head``: ``bench/scale_index.py``'s ``rows(args)``, when that file exists.

Ratios are taken within one run, paired, so machine noise hits both sides alike.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))

from pictext.core.defaults import SHARD_ROWS
from pictext.data import load_dataset
from pictext.encoders import create_encoder
from pictext.store import EmbedReport, embed_dataset
from pictext.store.embed import encoder_cache, image_keys

SECTIONS = ("ray", "store", "index", "head")


def make_images(root: Path, n: int, seed: int = 0) -> Path:
    """``n`` smooth random 320x240 JPEGs in two class folders (decoding costs as a photo's)."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
        image = Image.fromarray(small).resize((320, 240), Image.Resampling.BICUBIC)
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"{i:05d}.jpg", quality=90)
    return root


class LoggedEncoder:
    """An image encoder that appends one line per image it encodes to ``log`` (to count the
    work a killed actor lost); everything else is the wrapped encoder's."""

    def __init__(self, inner, log: Path) -> None:
        self.inner, self.log = inner, str(log)
        self.name, self.version, self.dim = inner.name, inner.version, inner.dim
        self.image_size = inner.image_size

    def prepare(self) -> None:
        self.inner.prepare()

    def pixels(self, image):
        return self.inner.pixels(image)

    def normalize_batch(self, pixels):
        return self.inner.normalize_batch(pixels)

    def encode_batch(self, batch):
        out = self.inner.encode_batch(batch)
        with open(self.log, "a") as fh:
            fh.write("x\n" * len(batch))
        return out


def _kill_a_busy_actor(log: Path, after: int, stop: threading.Event, killed: list) -> None:
    """Once ``after`` images are encoded (a first shard and part of the next), kill -9 the
    encoder actor using the most CPU: the one inside a shard."""
    import psutil

    while not stop.is_set() and (not log.exists() or len(log.read_bytes()) < 2 * after):
        time.sleep(0.05)
    actors = [
        p for p in psutil.process_iter(["pid", "cmdline"])
        if " ".join(p.info["cmdline"] or []).startswith("ray::")
        and "ShardEncoder" in " ".join(p.info["cmdline"] or [])
    ]  # fmt: skip
    for p in actors:
        p.cpu_percent(None)
    time.sleep(0.5)
    busy = max(actors, key=lambda p: p.cpu_percent(None), default=None)
    if busy is not None and not stop.is_set():
        busy.kill()
        killed.append(busy.pid)


def ray_rows(args: argparse.Namespace) -> list[dict]:
    """The ``ray`` section."""
    import ray

    from pictext.store.ray_embed import embed_dataset_ray

    out: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="pictext-scale-") as tmp:
        ds = load_dataset(str(make_images(Path(tmp) / "images", args.ray_items)))
        n = len(ds)
        ray.init(num_cpus=args.cores, include_dashboard=False, log_to_driver=False)
        try:
            seconds: dict[str, list[float]] = {"local": [], "ray": []}
            for r in range(args.ray_rounds):
                order = ("local", "ray") if r % 2 == 0 else ("ray", "local")
                for mode in order:
                    cache = Path(tmp) / f"{mode}{r}"
                    start = time.perf_counter()
                    if mode == "local":
                        enc = create_encoder(args.encoder, threads=args.cores)
                        enc.prepare()
                        embed_dataset(ds, enc, None, cache_dir=cache, progress=False,
                                      workers=args.cores)  # fmt: skip
                    else:
                        embed_dataset_ray(ds, args.encoder, None, cache_dir=cache, progress=False)
                    seconds[mode].append(time.perf_counter() - start)
            ratios = [a / b for a, b in zip(seconds["local"], seconds["ray"], strict=True)]
            local_rate = n / np.median(seconds["local"])
            ray_rate = n / np.median(seconds["ray"])
            out += [
                {"measure": f"in-process, {args.cores} cores ({n} JPEGs, {args.encoder})",
                 "value": f"{local_rate:.1f} img/s ({local_rate / args.cores:.1f} per core)"},
                {"measure": f"--ray local, {args.cores} CPUs, {args.cores} encoder actors",
                 "value": f"{ray_rate:.1f} img/s ({ray_rate / args.cores:.1f} per core)"},
                {"measure": "throughput --ray / in-process, paired rounds",
                 "value": " ".join(f"{x:.2f}" for x in ratios), "target": ">= 0.85",
                 "met": min(ratios) >= 0.85},
            ]  # fmt: skip
            start = time.perf_counter()
            again = EmbedReport()
            embed_dataset_ray(ds, args.encoder, None, cache_dir=Path(tmp) / "ray0",
                              progress=False, report=again)  # fmt: skip
            out.append({"measure": "--ray rerun, all cached (the fixed cost: plan, actors, "
                        "ONNX load, hashing)", "value": f"{time.perf_counter() - start:.1f} s, "
                        f"{again.images_computed} computed"})  # fmt: skip
            out.append(_same_vectors(ds, args, Path(tmp)))
            out += _killed_actor(ds, args, Path(tmp), embed_dataset_ray)
        finally:
            ray.shutdown()
    return [{"section": "ray", "target": "", "met": None, **r} for r in out]


def _same_vectors(ds, args, tmp: Path) -> dict:
    enc = create_encoder(args.encoder)
    keys, ok = image_keys(ds.items, EmbedReport())
    local, found_l = encoder_cache(tmp / "local0", enc).get(keys[ok])
    remote, found_r = encoder_cache(tmp / "ray0", enc).get(keys[ok])
    diff = float(np.abs(local - remote).max())
    same = bool(found_l.all() and found_r.all())
    return {"measure": f"vectors --ray vs in-process, max abs diff ({int(ok.sum())} images)",
            "value": f"{diff:g}" + ("" if same else " (some missing)"),
            "target": "0", "met": same and diff == 0.0}  # fmt: skip


def _killed_actor(ds, args, tmp: Path, embed_dataset_ray) -> list[dict]:
    enc = create_encoder(args.encoder, threads=1)
    log, cache = tmp / "encoded.log", tmp / "killed"
    stop, killed = threading.Event(), []
    after = SHARD_ROWS + SHARD_ROWS // 2
    killer = threading.Thread(target=_kill_a_busy_actor, args=(log, after, stop, killed))
    killer.start()
    try:
        embed_dataset_ray(ds, LoggedEncoder(enc, log), None, cache_dir=cache, progress=False)
        completed = True
    finally:
        stop.set()
        killer.join()
    stored = encoder_cache(cache, enc)
    unique = len(np.unique(stored.sorted_keys))
    encoded = len(log.read_text().splitlines()) if log.exists() else 0
    rerun = EmbedReport()
    embed_dataset(ds, enc, None, cache_dir=cache, progress=False, report=rerun)
    n = len(ds)
    return [
        {"measure": "an encoder actor killed mid-run: run completes, rows stored / unique",
         "value": f"{'yes' if completed and killed else 'no kill'}, {len(stored)} / {unique}",
         "target": f"yes, {n} / {n}", "met": bool(killed) and len(stored) == unique == n},
        {"measure": "images encoded in that run (lost work included)",
         "value": f"{encoded} = {n} + {encoded - n}", "target": f"<= {n} + {SHARD_ROWS}",
         "met": n <= encoded <= n + SHARD_ROWS},
        {"measure": "images a rerun computes after it", "value": str(rerun.images_computed),
         "target": "0", "met": rerun.images_computed == 0},
    ]  # fmt: skip


def _index_module():
    path = Path(__file__).with_name("scale_index.py")
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("scale_index", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections, comma-separated")
    parser.add_argument("--cores", type=int, default=2, help="cores of both embedding runs")
    parser.add_argument("--encoder", default="efficientnet-lite0")
    parser.add_argument("--ray-items", type=int, default=4096, help="JPEGs embedded per run")
    parser.add_argument("--ray-rounds", type=int, default=2, help="paired rounds")
    parser.add_argument("--store-rows", type=int, default=1_000_000)
    parser.add_argument("--store-dim", type=int, default=256)
    index = _index_module()
    if index is not None and hasattr(index, "add_arguments"):
        index.add_arguments(parser)
    args = parser.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")

    rows: list[dict] = []
    if "ray" in only:
        rows += ray_rows(args)
    if "store" in only:
        import scale_store

        rows += scale_store.rows(args)
    if {"index", "head"} & set(only):
        if index is None:
            rows.append({"section": "index/head", "measure": "bench/scale_index.py",
                         "value": "not here yet", "target": "", "met": None})  # fmt: skip
        else:
            rows += [r for r in index.rows(args) if r["section"] in only]
    print_table(rows)


def print_table(rows: list[dict]) -> None:
    table = Table(title=f"pictext at scale ({os.cpu_count()} cores on this machine)")
    for col in ("section", "measure", "value", "target", "met"):
        table.add_column(col)
    last = None
    for r in rows:
        met = {True: "yes", False: "NO", None: ""}[r.get("met")]
        if last is not None and r["section"] != last:
            table.add_section()
        table.add_row(r["section"], r["measure"], str(r["value"]), str(r.get("target", "")), met)
        last = r["section"]
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
