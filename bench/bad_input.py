"""Bad-input benchmark: peak memory and CPU time of each bomb class, through the CLI and the
service, beside the budget each may use; a table with a pass/fail column.

    python bench/bad_input.py BUNDLE                      # CLI and service, this checkout
    python bench/bad_input.py BUNDLE --only cli           # or --only service
    python bench/bad_input.py BUNDLE --src /other/src     # measure another tree (e.g. main)

BUNDLE is a folder ``pictext serve`` accepts (the CLI uses its ``classifier``); copy it first
if the tree under test writes into bundles. The bombs are made here, in a temporary folder,
each a few KB to a few hundred KB: an SVG embedding a 400 Mpx ``data:`` PNG, an SVG whose
``<pattern>`` tile is 20000x20000, a 1.3 KB SVG of nested ``<use>`` (59049 paths), a 400 Mpx
PNG, and 1 MB and 3 MB descriptions (the CLI reads them from a JSONL manifest: a command
line argument cannot hold them).

Each case runs ``pictext tag`` in a child process, and ``POST /tag`` against a server
started here (``pictext serve`` in a child process, its upload caches missed). Peak memory
is the most the process tree held at once (the CLI or the server with its descendants, the
SVG renderer included): its proportional set size summed (shared pages once), sampled every
10 ms, and never below the exact peak RSS of its largest process (``wait4``; the CLI only).
CPU time is user + system of the tree, children included. A case passes when it stays
within its baseline plus its budget:

- image cases: a normal image's cost, plus ``SVG_RENDER_MEMORY`` and
  ``SVG_RENDER_CPU_SECONDS`` (what one rendering or decoding may add);
- text cases: a ``MAX_TEXT_CHARS``-long description's cost, plus 10% and 1 CPU s
  (a longer text must cost what the budget's length costs).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pictext.core import defaults

MIB = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")
NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


# ---- the bombs ------------------------------------------------------------------------------
def png_of_size(width: int, height: int) -> bytes:
    """A valid grey PNG of any size, written without holding its pixels."""
    deflate = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    body = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def make_cases(folder: Path) -> list[Case]:
    """The files of every case, written to ``folder``."""
    from PIL import Image

    normal = folder / "normal.png"
    Image.new("RGB", (256, 192), (200, 40, 40)).save(normal)
    Image.new("RGB", (256, 192), (40, 200, 40)).save(folder / "warm.png")
    b64 = base64.b64encode(png_of_size(20000, 20000)).decode()
    (folder / "data_png.svg").write_text(
        f'<svg {NS} width="100" height="100"><image width="100" height="100" '
        f'xlink:href="data:image/png;base64,{b64}"/></svg>'
    )
    (folder / "pattern.svg").write_text(
        f'<svg {NS} width="10" height="10"><defs><pattern id="p" patternUnits="userSpaceOnUse" '
        'width="20000" height="20000"><rect width="20000" height="20000" fill="red"/></pattern>'
        '</defs><rect width="10" height="10" fill="url(#p)"/></svg>'
    )
    defs = ['<path id="a0" d="M0 0L1 1L0 1z"/>']
    for level in range(1, 6):
        uses = "".join(f'<use xlink:href="#a{level - 1}"/>' for _ in range(9))
        defs.append(f'<g id="a{level}">{uses}</g>')
    (folder / "use.svg").write_text(
        f'<svg {NS} width="10" height="10"><defs>{"".join(defs)}</defs>'
        '<use xlink:href="#a5"/></svg>'
    )
    (folder / "bomb.png").write_bytes(png_of_size(20000, 20000))
    (folder / "normal.svg").write_text(
        f'<svg {NS} width="40" height="30"><rect width="30" height="20" fill="#00f"/></svg>'
    )
    # Other words in each: a cut text must not find the budget text's embedding cached.
    budget_text = "alpha " * (defaults.MAX_TEXT_CHARS // 6)
    one_mb, three_mb = "bravo " * (MIB // 6), "delta " * (3 * MIB // 6)
    return [
        Case("normal png", "image", normal),
        Case("normal svg", "image", folder / "normal.svg", baseline="normal png"),
        Case("svg data: png", "image", folder / "data_png.svg", baseline="normal png"),
        Case("svg pattern", "image", folder / "pattern.svg", baseline="normal png"),
        Case("svg use-expansion", "image", folder / "use.svg", baseline="normal png"),
        Case("raster bomb", "image", folder / "bomb.png", baseline="normal png"),
        Case("text at budget", "text", normal, text=budget_text),
        Case("text 1 MB", "text", normal, text=one_mb, baseline="text at budget"),
        Case("text 3 MB", "text", normal, text=three_mb, baseline="text at budget"),
    ]


@dataclass
class Case:
    name: str
    kind: str  # "image" or "text"
    image: Path
    text: str = ""
    baseline: str | None = None  # the case whose cost this one may exceed by its budget


@dataclass
class Cost:
    peak_mib: float
    cpu_s: float
    answer: str  # exit code or HTTP status, and the first line said


# ---- measuring a process tree ---------------------------------------------------------------
class _AddressSpaceLimit:
    """``--max-memory-gib``: keeps a tree without budgets from taking the machine down."""

    gib: float | None = None

    def apply(self) -> None:
        if self.gib is not None:
            import resource

            limit = int(self.gib * (1 << 30))
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


_LIMIT = _AddressSpaceLimit()


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:
            continue
    return out


def _pss(pids: list[int]) -> int:
    """Proportional set size of the processes together: shared pages counted once."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


def _cpu(pids: list[int]) -> float:
    """User + system seconds of the processes, their waited-for children included."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        except OSError:
            continue
    return total / TICK


@contextmanager
def sampled_peak(pid: int) -> Iterator[Callable[[], int]]:
    """The most memory the tree under ``pid`` held at once while the block ran (PSS, 10 ms)."""
    peak, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _pss(_tree(pid)))
            stop.wait(0.01)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield lambda: peak[0]
    finally:
        stop.set()
        thread.join()


# ---- the CLI --------------------------------------------------------------------------------
def run_cli(case: Case, model: Path, env: dict[str, str], folder: Path) -> Cost:
    args = [sys.executable, "-m", "pictext.cli", "tag", "--model", str(model)]
    if case.kind == "text":
        manifest = folder / f"{case.name.replace(' ', '_')}.jsonl"
        row = {"path": str(case.image), "description": case.text}
        manifest.write_text(json.dumps(row) + "\n")
        args += ["--manifest", str(manifest)]
    else:
        args.append(str(case.image))
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_LIMIT.apply
    )
    said: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda n=n, s=s: said.__setitem__(n, s.read()))
        for n, s in (("out", proc.stdout), ("err", proc.stderr))
    ]
    for reader in readers:
        reader.start()
    with sampled_peak(proc.pid) as peak:
        _, status, usage = os.wait4(proc.pid, 0)  # its usage, waited-for descendants included
    for reader in readers:
        reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = (said["err"].decode() or said["out"].decode()).strip().splitlines()
    return Cost(
        max(peak(), usage.ru_maxrss * 1024) / MIB,
        usage.ru_utime + usage.ru_stime,
        f"exit {proc.returncode}: {lines[-1][:70] if lines else ''}",
    )


# ---- the service ----------------------------------------------------------------------------
@contextmanager
def server(bundle: Path, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "import sys, pathlib; from pictext.cli.serve import serve; "
        "serve(pathlib.Path(sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]), dataset=None,"
        " concurrency=2, threads=1, max_upload_mb=10.0, map_method='pca', log_level='warning')"
    )
    args = [sys.executable, "-c", code, str(bundle), str(port)]
    proc = subprocess.Popen(args, env=env, preexec_fn=_LIMIT.apply)
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
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start within 300 s")
            time.sleep(0.2)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def post_tag(url: str, case: Case) -> tuple[int, str]:
    import httpx

    data = case.image.read_bytes()
    kind = "image/svg+xml" if case.image.suffix == ".svg" else "image/png"
    files = {"image": (case.image.name, data, kind)}
    r = httpx.post(url + "/tag", files=files, data={"description": case.text}, timeout=300)
    try:
        body = r.json()
        said = body["error"]["message"] if "error" in body else json.dumps(body)
    except (ValueError, KeyError, TypeError):
        said = r.text
    return r.status_code, said


def run_service(case: Case, url: str, pid: int) -> Cost:
    before = _cpu(_tree(pid))
    with sampled_peak(pid) as peak:
        status, said = post_tag(url, case)
        cpu = _cpu(_tree(pid)) - before
    return Cost(peak() / MIB, cpu, f"HTTP {status}: {said[:70]}")


# ---- slow uploads and slow clients ------------------------------------------------------------
SLOW_UPLOAD_BOUND_S = 2.0  # worst ordinary /tag while four hostile SVGs decode (the claim)
SLOW_CLIENT_CAP = 256  # ServiceConfig.max_connections: the open-connection cap


def hostile_svg(folder: Path) -> Path:
    """A path-heavy SVG (~1.5 MB) that renders until its CPU budget refuses it."""
    path = folder / "paths.svg"
    rng = __import__("random").Random(0)
    parts = []
    for _ in range(9000):
        pts = " ".join(f"{rng.uniform(0, 4000):.1f},{rng.uniform(0, 4000):.1f}" for _ in range(12))
        parts.append(f'<path d="M{pts} Z" fill="#{rng.randrange(1 << 24):06x}" opacity=".5"/>')
    path.write_text(f'<svg {NS} width="4000" height="4000">{"".join(parts)}</svg>')
    return path


def slow_upload_row(url: str, folder: Path, tries: int = 20) -> str:
    """Median and worst of ``tries`` ordinary text /tag requests with four hostile SVG uploads
    in flight (each refused after its CPU budget), against :data:`SLOW_UPLOAD_BOUND_S`."""
    import httpx

    svg = hostile_svg(folder)
    stop = threading.Event()

    def flood() -> None:
        while not stop.is_set():
            files = {"image": (svg.name, svg.read_bytes(), "image/svg+xml")}
            httpx.post(url + "/tag", files=files, timeout=300)

    threads = [threading.Thread(target=flood, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(2.0)  # the four uploads are decoding
    took = []
    try:
        for _ in range(tries):
            t0 = time.perf_counter()
            r = httpx.post(url + "/tag", data={"title": "a red fire truck"}, timeout=300)
            took.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
    finally:
        stop.set()
    took.sort()
    median, worst = took[len(took) // 2], took[-1]
    verdict = "pass" if worst <= SLOW_UPLOAD_BOUND_S else "FAIL"
    return (
        f"| slow uploads: 4 hostile SVGs in flight, ordinary /tag x{tries} | median "
        f"{median * 1000:.0f} ms, worst {worst * 1000:.0f} ms | bound {SLOW_UPLOAD_BOUND_S:g} s "
        f"| {verdict} |"
    )


def slow_client_row(url: str, pid: int, clients: int = 400, seconds: float = 10.0) -> str:
    """Open ``clients`` connections that send half a request line and stall; sample the
    server's open sockets over ``seconds`` and compare the peak with the cap."""
    host, port = url.removeprefix("http://").split(":")
    socks = []
    for _ in range(clients):
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(b"POST /tag HTTP/1.1\r\nHost: x\r\n")  # never finished
        socks.append(s)
    samples = []
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        fds = Path(f"/proc/{pid}/fd")
        samples.append(sum(1 for f in fds.iterdir() if "socket" in os.path.realpath(f)))
        time.sleep(0.5)
    for s in socks:
        s.close()
    peak = max(samples)
    verdict = "pass" if peak <= SLOW_CLIENT_CAP + 8 else "FAIL"  # + listening and internal
    return (
        f"| slow clients: {clients} stalled connections over {seconds:g} s | open sockets "
        f"first {samples[0]}, peak {peak}, last {samples[-1]} | cap {SLOW_CLIENT_CAP} | {verdict} |"
    )


# ---- the table ------------------------------------------------------------------------------
def allowance(case: Case) -> tuple[float, float, str]:
    """(extra MiB, extra CPU s, what the budget is) a case may add to its baseline."""
    if case.kind == "text":
        return 0.0, 1.0, f"{defaults.MAX_TEXT_CHARS} chars"
    memory = getattr(defaults, "SVG_RENDER_MEMORY", 512 * MIB) / MIB
    cpu = float(getattr(defaults, "SVG_RENDER_CPU_SECONDS", 10))
    return memory, cpu, f"+{memory:.0f} MiB, +{cpu:.0f} CPU s"


def table(title: str, cases: list[Case], costs: dict[str, Cost]) -> list[str]:
    lines = [
        f"## {title}",
        "| case | peak MiB | CPU s | budget | limit MiB / CPU s | pass | answer |",
        "|---|---:|---:|---|---|---|---|",
    ]
    for case in cases:
        cost = costs[case.name]
        if case.baseline is None:
            verdict, budget, limit = "baseline", "-", "-"
        else:
            base = costs[case.baseline]
            extra_mib, extra_cpu, budget = allowance(case)
            slack = 1.1 if case.kind == "text" else 1.0
            mib_limit = base.peak_mib * slack + extra_mib + (32 if case.kind == "text" else 0)
            cpu_limit = base.cpu_s * (1.2 if case.kind == "text" else 1.0) + extra_cpu
            ok = cost.peak_mib <= mib_limit and cost.cpu_s <= cpu_limit
            verdict, limit = ("pass" if ok else "FAIL"), f"{mib_limit:.0f} / {cpu_limit:.1f}"
        answer = cost.answer.replace("|", "/")
        lines.append(
            f"| {case.name} | {cost.peak_mib:.0f} | {cost.cpu_s:.2f} | {budget} | {limit} | "
            f"{verdict} | {answer} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("bundle", type=Path, help="a bundle folder (the CLI uses its classifier)")
    p.add_argument("--only", choices=("cli", "service"), help="run one front end")
    p.add_argument("--src", type=Path, help="the pictext source tree to measure")
    p.add_argument("--cache", type=Path, help="embedding cache of the runs (default: a temp one)")
    p.add_argument("--max-memory-gib", type=float, help="address-space limit of each child")
    args = p.parse_args(argv)
    _LIMIT.gib = args.max_memory_gib
    import pictext

    src = args.src or Path(pictext.__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="pictext-bad-input-") as tmp:
        folder = Path(tmp)
        env = dict(os.environ, PYTHONPATH=str(src))
        env["PICTEXT_CACHE"] = str(args.cache or folder / "cache")
        cases = make_cases(folder)
        lines = [f"pictext under test: {src}; address-space limit: {args.max_memory_gib} GiB"]
        if args.only in (None, "cli"):
            model = args.bundle / "classifier"
            warm = Case("warm", "image", folder / "warm.png")
            run_cli(warm, model, env, folder)  # export the encoders once, before measuring
            costs = {c.name: run_cli(c, model, env, folder) for c in cases}
            lines += table("CLI: pictext tag", cases, costs)
        if args.only in (None, "service"):
            with server(args.bundle, env) as (url, pid):
                post_tag(url, Case("warm", "image", folder / "warm.png"))  # load the models
                costs = {c.name: run_service(c, url, pid) for c in cases}
                rows = [slow_upload_row(url, folder), slow_client_row(url, pid)]
            lines += table("service: POST /tag", cases, costs)
            lines += [
                "## service: slow uploads and slow clients",
                "| row | measured | bound | pass |",
            ]
            lines += ["|---|---|---|---|", *rows]
    print("\n".join(lines))
    return 0 if not any("| FAIL |" in line for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
