"""Rendering an SVG to PNG within budgets: checked before, bounded while it runs.

Before rendering, the output size (the declared size times the render scale) and what the
document would draw (:func:`~pictext.data.svg.budget.check_svg_budget`: embedded rasters,
pattern tiles, masks, ``<use>`` expansion) are checked against the budgets of
:mod:`pictext.core.defaults`. Then cairosvg (``unsafe=False``, always) draws in a process
of its own (:mod:`pictext.data.svg.worker`: a small worker per rendering thread forks a
child per document) with its address space (``RLIMIT_AS``) and CPU time (``RLIMIT_CPU``)
limited: what the static check cannot see is stopped there, and a failure never takes the
caller's memory or its model slot. Where processes cannot be limited so (no ``fork`` or
``resource``: Windows), cairosvg runs in this process, after the same static checks.

Failures come in three kinds: :class:`~pictext.data.svg.SvgRenderError` (the document does
not render; the same every time), :class:`~pictext.data.svg.SvgBudgetError` (over a
budget) and :class:`~pictext.data.svg.SvgUnavailableError` (memory pressure, a renderer
killed from outside: worth another try, never cached).
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pictext.core.defaults import MAX_PIXELS, SVG_RENDER_CPU_SECONDS, SVG_RENDER_MEMORY
from pictext.data.svg import (
    SvgBudgetError,
    SvgRenderError,
    SvgUnavailableError,
    prepare_svg,
)
from pictext.data.svg.budget import SvgBudget, check_svg_budget
from pictext.data.svg.worker import draw, kind_of, read_answer, write_request

__all__ = ["RenderLimits", "render_svg", "sandboxed"]

_WALL_FACTOR = 3  # wall-clock seconds allowed per CPU second (a busy machine), plus _WALL_EXTRA
_WALL_EXTRA = 5.0


@dataclass(frozen=True)
class RenderLimits:
    """What one rendering may take."""

    max_pixels: int = MAX_PIXELS  # of the output raster
    memory: int = SVG_RENDER_MEMORY  # bytes the renderer's process may add to its own start
    cpu_seconds: int = SVG_RENDER_CPU_SECONDS  # CPU time of the renderer's process
    budget: SvgBudget = field(default_factory=SvgBudget)  # elements, offscreen pixels


def render_svg(data: bytes, longest_side: int, limits: RenderLimits | None = None) -> bytes:
    """Render SVG bytes to PNG bytes whose longest side is ``longest_side`` pixels.

    Raises:
        SvgRenderError: the document is not valid SVG or cairosvg cannot draw it.
        SvgBudgetError: over a budget, found before rendering or while it ran.
        SvgUnavailableError: the renderer failed for a reason outside the document.
    """
    limits = limits or RenderLimits()
    svg, (width, height) = prepare_svg(data)
    scale = longest_side / max(width, height)
    out_w, out_h = max(1, round(width * scale)), max(1, round(height * scale))
    if out_w * out_h > limits.max_pixels:
        raise SvgBudgetError(
            f"rendering at {out_w}x{out_h} pixels is over the limit of {limits.max_pixels}"
        )
    check_svg_budget(svg, (width, height), limits.budget)
    bounded = sandboxed()
    png = _render_in_child(svg, out_w, out_h, limits) if bounded else _draw(svg, out_w, out_h)
    if not png:
        raise SvgRenderError("renderer produced no output")
    return png


def sandboxed() -> bool:
    """True where renderings run in a process of their own with memory and CPU limits."""
    try:
        import resource  # noqa: F401
    except ImportError:
        return False
    return hasattr(os, "fork") and hasattr(os, "wait4")


def _draw(svg: bytes, out_w: int, out_h: int) -> bytes:
    """cairosvg in this process (no process limits here), its failures sorted."""
    try:
        return draw(svg, out_w, out_h)
    except Exception as err:  # sorted by kind_of, which re-raises what it does not know
        kind = kind_of(err)
        if kind == "render":
            raise SvgRenderError(f"{type(err).__name__}: {err}") from None
        raise SvgUnavailableError(f"cannot render now ({type(err).__name__}: {err})") from None


# ---- the renderer's processes -------------------------------------------------------------
# The worker module is loaded from its file, not through the pictext package: the worker
# process holds only the standard library and cairosvg (about 30 MB, not pictext's imports).
_START_WORKER = (
    "import importlib.util as u, sys; s = u.spec_from_file_location('svgworker', sys.argv[1]); "
    "m = u.module_from_spec(s); s.loader.exec_module(m); sys.exit(m.main())"
)


class _Worker:
    """One :mod:`pictext.data.svg.worker` process (it forks a child per document)."""

    def __init__(self) -> None:
        worker = str(Path(__file__).with_name("worker.py"))
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _START_WORKER, worker],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,  # no Ctrl-C traceback of its own: it ends when stdin closes
            )
        except OSError as err:
            raise SvgUnavailableError(f"cannot start the SVG renderer: {err}") from None

    def render(self, svg: bytes, out_w: int, out_h: int, limits: RenderLimits) -> tuple[str, bytes]:
        wall = _WALL_FACTOR * limits.cpu_seconds + _WALL_EXTRA
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        try:
            write_request(
                self.proc.stdin, svg, out_w, out_h, limits.memory, limits.cpu_seconds, wall
            )
            got = read_answer(self.proc.stdout)
        except OSError:  # BrokenPipeError: the worker is gone
            got = None
        if got is None:
            self.close()
            raise SvgUnavailableError(
                f"the SVG renderer ended unexpectedly (status {self.proc.poll()})"
            )
        return got

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


_idle: list[_Worker] = []  # workers not rendering now; one per thread that renders at once
_idle_lock = threading.Lock()


@contextmanager
def _worker() -> Iterator[_Worker]:
    with _idle_lock:
        worker = _idle.pop() if _idle else None
    if worker is None or not worker.alive():
        worker = _Worker()
    try:
        yield worker
    except BaseException:
        worker.close()  # an interrupted exchange leaves the protocol in an unknown state
        raise
    if worker.alive():
        with _idle_lock:
            _idle.append(worker)


@atexit.register
def _close_workers() -> None:
    with _idle_lock:
        while _idle:
            _idle.pop().close()


def _render_in_child(svg: bytes, out_w: int, out_h: int, limits: RenderLimits) -> bytes:
    with _worker() as worker:
        kind, payload = worker.render(svg, out_w, out_h, limits)
    message = payload.decode("utf-8", "replace") if kind != "ok" else ""
    if kind == "ok":
        return payload
    if kind == "memory":
        raise SvgBudgetError(
            f"rendering needs more than its memory budget of {limits.memory >> 20} MiB ({message})"
        )
    if kind == "time":
        raise SvgBudgetError(
            f"rendering takes more than its time budget of {limits.cpu_seconds} CPU seconds"
        )
    if kind == "unavailable":
        raise SvgUnavailableError(message)
    raise SvgRenderError(message)
