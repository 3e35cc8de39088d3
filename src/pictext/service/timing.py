"""Per-request timings (sent as a ``Server-Timing`` header) and the concurrency gate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

from pictext.service.errors import ServiceError


@dataclass
class Timing:
    """Seconds spent per phase of one request (``queue``, ``decode``, ``model``, ...).

    Example:
        >>> t = Timing()
        >>> with t.measure("model"):
        ...     pass
        >>> "model" in t.header()
        True
    """

    phases: dict[str, float] = field(default_factory=dict)  # phase -> seconds, summed

    @contextmanager
    def measure(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(phase, time.perf_counter() - start)

    def add(self, phase: str, seconds: float) -> None:
        self.phases[phase] = self.phases.get(phase, 0.0) + seconds

    def header(self, total_s: float | None = None) -> str:
        """The ``Server-Timing`` value, durations in milliseconds."""
        parts = [f"{name};dur={sec * 1000:.2f}" for name, sec in self.phases.items()]
        if total_s is not None:
            parts.append(f"total;dur={total_s * 1000:.2f}")
        return ", ".join(parts)


class Gate:
    """At most ``slots`` requests work at once; at most ``max_queue`` wait, each ``timeout_s``.

    Models are CPU-bound: running more requests at once only makes each slower, so the
    others wait here (and are refused with 503 when the queue is full or the wait too long)
    instead of piling up in the thread pool.
    """

    def __init__(self, slots: int, max_queue: int, timeout_s: float) -> None:
        self.slots = slots  # requests working at once
        self.max_queue = max_queue  # requests allowed to wait
        self.timeout_s = timeout_s  # longest wait
        self._sem: asyncio.Semaphore | None = None
        self.waiting = 0  # requests waiting now
        self.busy = 0  # requests working now

    @asynccontextmanager
    async def slot(self, timing: Timing) -> AsyncIterator[None]:
        if self._sem is None:  # created lazily: it must belong to the server's event loop
            self._sem = asyncio.Semaphore(self.slots)
        if self.waiting >= self.max_queue:
            raise ServiceError(
                503, "busy", f"server busy: {self.waiting} requests already waiting; retry later"
            )
        self.waiting += 1
        start = time.perf_counter()
        try:
            await asyncio.wait_for(self._sem.acquire(), self.timeout_s)
        except asyncio.TimeoutError:
            raise ServiceError(
                503, "busy", f"server busy: no free slot within {self.timeout_s:g} s; retry later"
            ) from None
        finally:
            self.waiting -= 1
            timing.add("queue", time.perf_counter() - start)
        self.busy += 1
        try:
            yield
        finally:
            self.busy -= 1
            self._sem.release()
