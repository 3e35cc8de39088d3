"""The SVG renderer's own process; it imports nothing of pictext (only the standard library
and cairosvg), so it can be run from its file.

:mod:`pictext.data.svg.render` starts one per rendering thread and sends it documents on
stdin; for each, the worker forks a child that limits its own address space
(``RLIMIT_AS``) and CPU time (``RLIMIT_CPU``), draws with cairosvg (``unsafe=False``) and
writes the result to a pipe. The worker itself stays small and single-threaded (so forking
is safe), waits at most a wall-clock bound and answers on stdout.

Messages are length-prefixed: a request is ``!IIQII`` (width, height, memory bytes, CPU
seconds, wall milliseconds) and the document's length as ``!Q`` before its bytes; an answer
is a one-byte kind and ``!Q`` length before its payload. Kinds: ``ok`` (a PNG), ``render``
(the document does not render), ``memory`` (over the memory budget), ``time`` (over the
time budget), ``unavailable`` (failed for a reason outside the document).
"""

from __future__ import annotations

import errno
import gc
import os
import select
import signal
import struct
import sys
import time
from typing import BinaryIO

__all__ = ["KINDS", "draw", "kind_of", "read_answer", "write_request"]

KINDS = ("ok", "render", "memory", "time", "unavailable")
_REQUEST = struct.Struct("!IIQII")
_WARM_UP = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="4" height="4"/>'
    b'<text y="8" font-size="4">a</text></svg>'
)
_LENGTH = struct.Struct("!Q")
# OS errors that say nothing about the document (out of memory or descriptors, permissions).
_TRANSIENT_ERRNOS = frozenset(
    {errno.ENOMEM, errno.EMFILE, errno.ENFILE, errno.EAGAIN, errno.EACCES, errno.EPERM}
)


def draw(svg: bytes, out_w: int, out_h: int) -> bytes:
    """cairosvg, safe mode, at exactly ``out_w`` x ``out_h`` pixels."""
    import cairosvg

    return cairosvg.svg2png(bytestring=svg, output_width=out_w, output_height=out_h, unsafe=False)


def kind_of(err: Exception) -> str:
    """``"memory"``, ``"unavailable"`` (outside the document) or ``"render"`` (the document's
    fault) for a failure of :func:`draw`; an exception it does not know is re-raised."""
    import cairocffi

    if isinstance(err, MemoryError):  # cairo's CAIRO_STATUS_NO_MEMORY is one too
        return "memory"
    if isinstance(err, OSError) and err.errno in _TRANSIENT_ERRNOS:
        return "memory" if err.errno == errno.ENOMEM else "unavailable"
    # cairosvg raises many unrelated types for bad documents (parse errors, ValueError on bad
    # lengths, cairo errors, recursion on self-referencing <use>, Pillow's OSError on a bad
    # embedded image); all mean "does not render".
    bad_document = (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        ZeroDivisionError,
        RecursionError,
        SyntaxError,
        OSError,
        cairocffi.CairoError,
    )
    if isinstance(err, bad_document):
        return "render"
    raise err


# ---- the protocol -----------------------------------------------------------------------
def _read_exact(stream: BinaryIO, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def write_request(
    stream: BinaryIO, svg: bytes, out_w: int, out_h: int, memory: int, cpu: int, wall_s: float
) -> None:
    """Send one document to a worker."""
    head = _REQUEST.pack(out_w, out_h, memory, cpu, int(wall_s * 1000))
    stream.write(head + _LENGTH.pack(len(svg)) + svg)
    stream.flush()


def read_answer(stream: BinaryIO) -> tuple[str, bytes] | None:
    """A worker's answer, or None when it ended without one."""
    head = _read_exact(stream, 1 + _LENGTH.size)
    if head is None:
        return None
    (size,) = _LENGTH.unpack(head[1:])
    payload = _read_exact(stream, size)
    if payload is None or head[0] >= len(KINDS):
        return None
    return KINDS[head[0]], payload


def _answer(stream: BinaryIO, kind: str, payload: bytes) -> None:
    stream.write(bytes([KINDS.index(kind)]) + _LENGTH.pack(len(payload)) + payload)
    stream.flush()


# ---- the worker -------------------------------------------------------------------------
def _child(out_fd: int, svg: bytes, out_w: int, out_h: int, memory: int, cpu: int) -> None:
    """In the forked child: limit, draw, write ``kind byte + payload``, exit. Never returns."""
    import resource

    code = 0
    try:
        try:
            with open("/proc/self/statm", "rb") as fh:  # the address space it starts with
                start = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            resource.setrlimit(resource.RLIMIT_AS, (start + memory, start + memory))
        except (OSError, ValueError):
            pass  # no /proc (macOS, where RLIMIT_AS is not enforced anyway): CPU limit only
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        try:
            kind, payload = "ok", draw(svg, out_w, out_h)
        except Exception as err:  # sorted by kind_of, which re-raises what it does not know
            kind, payload = kind_of(err), f"{type(err).__name__}: {err}".encode()
        data = bytes([KINDS.index(kind)]) + payload
        while data:
            data = data[os.write(out_fd, data) :]
    except BaseException:  # the child must end here, whatever happened
        code = 70
    finally:
        os._exit(code)


def _render(
    svg: bytes, out_w: int, out_h: int, memory: int, cpu: int, wall_s: float
) -> tuple[str, bytes]:
    """Fork a limited child for one document; its answer, or why it gave none."""
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError as err:
        os.close(read_fd)
        os.close(write_fd)
        return "unavailable", f"cannot fork the renderer: {err}".encode()
    if pid == 0:
        os.close(read_fd)
        _child(write_fd, svg, out_w, out_h, memory, cpu)
    os.close(write_fd)
    chunks, deadline, timed_out = [], time.monotonic() + wall_s, False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_fd], [], [], left)[0]:
                timed_out = True
                os.kill(pid, signal.SIGKILL)
                break
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        _, status, usage = os.wait4(pid, 0)
    data = b"".join(chunks)
    if data and not timed_out and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return KINDS[data[0]], data[1:]
    used = usage.ru_utime + usage.ru_stime
    if timed_out or (os.WIFSIGNALED(status) and used >= cpu - 0.5):  # SIGXCPU, then SIGKILL
        return "time", f"over {cpu} CPU seconds or {wall_s:.0f} s of wall time".encode()
    return "unavailable", f"the renderer ended with status {status}".encode()


def main() -> int:
    """Serve documents from stdin until it closes."""
    requests = sys.stdin.buffer
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # nothing printed by a library can corrupt the answers
    # Loaded and warmed once here (cairo, Pillow, fontconfig's font list): every forked
    # child starts with them ready instead of paying for them per document.
    draw(_WARM_UP, 8, 8)
    gc.freeze()  # a child's collections then leave the shared pages alone (no copy-on-write)

    while True:
        head = _read_exact(requests, _REQUEST.size + _LENGTH.size)
        if head is None:
            return 0
        out_w, out_h, memory, cpu, wall_ms = _REQUEST.unpack(head[: _REQUEST.size])
        (size,) = _LENGTH.unpack(head[_REQUEST.size :])
        svg = _read_exact(requests, size)
        if svg is None:
            return 0
        kind, payload = _render(svg, out_w, out_h, memory, cpu, wall_ms / 1000)
        _answer(answers, kind, payload)


if __name__ == "__main__":
    sys.exit(main())
