"""Service benchmark: requests/s and latency of ``POST /tag`` under concurrent load, and the
share of each request spent in the models (from the ``Server-Timing`` header: ``queue``
waiting for a slot, ``decode`` of the upload, ``model`` in encoders and heads, ``total``;
"work" is total minus queue).

    python bench/serve.py MODEL_DIR                           # server started here, on loopback
    python bench/serve.py MODEL_DIR --clients 8 --requests 400 --duration 60
    python bench/serve.py --url http://127.0.0.1:8000         # a running `pictext serve`

Loopback only: any other host is refused. The run is bounded: it stops after ``--requests``
requests or ``--duration`` seconds, whichever comes first. By default every request sends a
different image (one pixel changed, so the service's upload caches never hit: full decode +
model cost); ``--same`` sends one image over and over (the cached path).

Images: ``--image FILE``, else the bundle's first collection images, else a synthetic one.
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Sample:
    latency_s: float  # client-side, request sent to response read
    status: int  # HTTP status
    phases: dict[str, float]  # Server-Timing phases, milliseconds


def parse_server_timing(value: str) -> dict[str, float]:
    """``"model;dur=12.5, total;dur=20"`` -> ``{"model": 12.5, "total": 20.0}``."""
    out: dict[str, float] = {}
    for part in value.split(","):
        name, _, rest = part.strip().partition(";")
        if rest.startswith("dur="):
            out[name] = float(rest[4:])
    return out


def _png(img: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")  # type: ignore[attr-defined]
    return buf.getvalue()


def base_images(model_dir: Path | None, image: Path | None, n: int) -> list[object]:
    """RGB images to send: a given file, the collection's first images, or a synthetic one."""
    from PIL import Image

    from pictext.data.images import load_image
    from pictext.data.item import Item

    if image is not None:
        return [load_image(Item(str(image), str(image)))]
    if model_dir is not None:
        from pictext.bundle.layout import find_bundle

        bundle = find_bundle(model_dir)
        if bundle.dataset:
            from pictext.data import load_dataset

            items = [it for it in load_dataset(bundle.dataset).items if it.has_image()][:n]
            return [load_image(it, size=256) for it in items]
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8))]


def payloads(images: list[object], count: int, same: bool) -> list[bytes]:
    """``count`` PNG files; distinct bytes per request unless ``same``."""
    if same:
        return [_png(images[0])] * count
    out = []
    for i in range(count):
        arr = np.array(images[i % len(images)].convert("RGB"))  # type: ignore[attr-defined]
        arr[0, 0] = [(i // 65536) % 256, (i // 256) % 256, i % 256]  # a different file each time
        from PIL import Image

        out.append(_png(Image.fromarray(arr)))
    return out


@contextmanager
def local_server(model_dir: Path, concurrency: int, threads: int) -> Iterator[str]:
    """``pictext serve`` in a child process on 127.0.0.1 and a free port (its own GIL, like a
    real deployment: client threads here do not slow the server down)."""
    import subprocess

    import httpx

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "import sys; from pictext.cli.serve import serve; "
        "serve(__import__('pathlib').Path(sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]), "
        "dataset=None, concurrency=int(sys.argv[3]), threads=int(sys.argv[4]), max_upload_mb=10.0, "
        "map_method='tsne', log_level='warning')"
    )
    args = [sys.executable, "-c", code, str(model_dir), str(port), str(concurrency), str(threads)]
    proc = subprocess.Popen(args)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with status {proc.returncode}")
            try:
                if httpx.get(url + "/info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start within 300 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def load(
    url: str, bodies: list[bytes], clients: int, duration_s: float
) -> tuple[list[Sample], float]:
    """Send the bodies from ``clients`` threads until all are sent or time is up."""
    import httpx

    samples: list[Sample] = []
    lock = threading.Lock()
    nxt = iter(range(len(bodies)))
    deadline = time.perf_counter() + duration_s

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=60.0) as http:
            while time.perf_counter() < deadline:
                with lock:
                    i = next(nxt, None)
                if i is None:
                    return
                files = {"image": (f"bench{i}.png", bodies[i], "image/png")}
                start = time.perf_counter()
                r = http.post("/tag", files=files, data={"k": "5"})
                took = time.perf_counter() - start
                phases = parse_server_timing(r.headers.get("server-timing", ""))
                with lock:
                    samples.append(Sample(took, r.status_code, phases))

    start = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(clients)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return samples, time.perf_counter() - start


def summarise(samples: list[Sample], wall_s: float) -> dict[str, float]:
    ok = [s for s in samples if s.status == 200]
    lat = np.array([s.latency_s * 1000 for s in ok]) if ok else np.zeros(1)

    def mean(phase: str) -> float:
        return statistics.fmean(s.phases.get(phase, 0.0) for s in ok) if ok else 0.0

    total = sum(s.phases.get("total", 0.0) for s in ok)
    model = sum(s.phases.get("model", 0.0) for s in ok)
    queue = sum(s.phases.get("queue", 0.0) for s in ok)
    return {
        "requests": len(samples),
        "ok": len(ok),
        "errors": len(samples) - len(ok),
        "wall_s": round(wall_s, 2),
        "requests_per_s": round(len(ok) / wall_s, 2) if wall_s else 0.0,
        "p50_ms": round(float(np.percentile(lat, 50)), 1),
        "p90_ms": round(float(np.percentile(lat, 90)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1),
        "server_total_ms": round(mean("total"), 1),
        "queue_ms": round(mean("queue"), 1),
        "decode_ms": round(mean("decode"), 1),
        "model_ms": round(mean("model"), 1),
        "model_share_of_server_time": round(model / total, 3) if total else 0.0,
        "model_share_of_work": round(model / (total - queue), 3) if total > queue else 0.0,
        "model_share_of_latency": round(model / float(lat.sum()), 3) if ok else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("model_dir", nargs="?", type=Path, help="bundle to serve here")
    p.add_argument("--url", help="a running server on loopback instead")
    p.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    p.add_argument("--requests", type=int, default=200, help="most requests sent")
    p.add_argument("--duration", type=float, default=60.0, help="most seconds of load")
    p.add_argument("--warmup", type=int, default=4, help="requests before timing starts")
    p.add_argument("--concurrency", type=int, default=2, help="server slots (local server)")
    p.add_argument("--threads", type=int, default=1, help="threads per model call (local server)")
    p.add_argument("--image", type=Path, help="image file to send")
    p.add_argument("--same", action="store_true", help="send the same bytes every time")
    p.add_argument("--out", type=Path, help="write the summary as JSON")
    args = p.parse_args(argv)
    if (args.model_dir is None) == (args.url is None):
        p.error("give MODEL_DIR or --url")
    if args.url and urlparse(args.url).hostname not in LOOPBACK:
        p.error(f"{args.url}: only loopback servers may be loaded ({', '.join(LOOPBACK)})")
    images = base_images(args.model_dir, args.image, 64)
    bodies = payloads(images, args.requests + args.warmup, args.same)
    with (local_server(args.model_dir, args.concurrency, args.threads) if args.url is None
          else _given(args.url)) as url:  # fmt: skip
        load(url, bodies[: args.warmup], 1, args.duration)
        samples, wall = load(url, bodies[args.warmup :], args.clients, args.duration)
    summary = {
        "clients": args.clients,
        "same_image": args.same,
        **(
            {"server_concurrency": args.concurrency, "threads": args.threads}
            if args.url is None
            else {}
        ),
        **summarise(samples, wall),
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.write_text(
            json.dumps({**summary, "samples": [asdict(s) for s in samples]}, indent=1)
        )
    return 0 if summary["errors"] == 0 else 1


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url.rstrip("/")


if __name__ == "__main__":
    sys.exit(main())
