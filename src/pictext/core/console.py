"""Console output a person reads: progress and tables that suit a terminal and a log file.

On a terminal, progress is a tqdm bar and a table is a Rich table whose cells wrap rather
than cut. Written to a file or a pipe (``pictext demo > log``), progress becomes one plain
line every few seconds and a table becomes Markdown, so the log holds no carriage return
and no name cut with an ellipsis. Each table carries a one-line caption saying what it
shows and which value is best.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

PLAIN_INTERVAL_S = 5.0  # seconds between two plain progress lines


def interactive(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (default stdout) is a terminal."""
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class PlainProgress:
    """Progress as a plain line every ``interval`` seconds and one at the end.

    It has the part of tqdm's interface pictext uses: iteration, ``update``,
    ``set_postfix`` and ``close``.
    """

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        *,
        total: int | None = None,
        desc: str = "",
        unit: str = "item",
        stream: IO[str] | None = None,
        interval: float = PLAIN_INTERVAL_S,
    ) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total, self.desc, self.unit = total, desc, unit
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.n = 0
        self.postfix = ""
        self.start = self.last = time.perf_counter()
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        assert self.iterable is not None, "PlainProgress built without an iterable"
        for x in self.iterable:
            yield x
            self.update(1)
        self.close()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more done; print a line when ``interval`` has passed."""
        self.n += n
        now = time.perf_counter()
        if now - self.last >= self.interval:
            self.last = now
            self._print(now)

    def set_postfix(self, **values: Any) -> None:
        """Values shown after the count (e.g. the loss), as tqdm's ``set_postfix``."""
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        """Print the final line (once)."""
        if not self.closed:
            self.closed = True
            self._print(time.perf_counter(), final=True)

    def line(self, now: float, final: bool = False) -> str:
        """The text of one progress line."""
        secs = now - self.start
        rate = self.n / secs if secs > 0 else 0.0
        count = f"{self.n}/{self.total}" if self.total else str(self.n)
        parts = [f"{self.desc}: {count} {self.unit}s" if self.desc else f"{count} {self.unit}s"]
        if self.total and not final:
            parts.append(f"{100 * self.n / self.total:.0f}%")
        if rate >= 1 or rate == 0:
            parts.append(f"{rate:.1f} {self.unit}s/s")
        else:
            parts.append(f"{1 / rate:.1f} s/{self.unit}")
        if final:
            parts.append(f"done in {secs:.1f} s")
        elif self.total and rate > 0:
            parts.append(f"about {(self.total - self.n) / rate:.0f} s left")
        if self.postfix:
            parts.append(self.postfix)
        return ", ".join(parts)

    def _print(self, now: float, final: bool = False) -> None:
        print(self.line(now, final), file=self.stream, flush=True)


class _Silent:
    """Progress turned off: iterates and ignores the rest."""

    def __init__(self, iterable: Iterable[Any] | None) -> None:
        self.iterable = iterable

    def __iter__(self) -> Iterator[Any]:
        return iter(self.iterable or ())

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **values: Any) -> None:
        pass

    def close(self) -> None:
        pass


def progress(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "item",
    enabled: bool = True,
    leave: bool = True,
    stream: IO[str] | None = None,
) -> Any:
    """A progress display: a tqdm bar on a terminal, plain lines otherwise, or nothing.

    Args:
        iterable: what to iterate over (optional; else call ``update``).
        total: the number of steps (default: ``len(iterable)`` when it has one).
        desc: what is counted, shown first.
        unit: the name of one step.
        enabled: False shows nothing.
        leave: keep the bar on screen when done (terminal only).
        stream: where to write (default stderr, as tqdm).
    """
    if not enabled:
        return _Silent(iterable)
    stream = stream if stream is not None else sys.stderr
    if interactive(stream):
        from tqdm.auto import tqdm

        return tqdm(
            iterable, total=total, desc=desc, unit=unit, file=stream, leave=leave, smoothing=0.1
        )
    return PlainProgress(iterable, total=total, desc=desc, unit=unit, stream=stream)


def note(message: str, enabled: bool = True, stream: IO[str] | None = None) -> None:
    """One line of progress (a step of a long job) on stderr, when ``enabled``."""
    if enabled:
        print(message, file=stream if stream is not None else sys.stderr, flush=True)


def _plain(cell: Any) -> str:
    """A table cell's text (a str, or a Rich ``Text``)."""
    return cell.plain if hasattr(cell, "plain") else str(cell)


def table_markdown(table: Any) -> str:
    """A Rich table as Markdown: title and caption as text lines, every cell in full."""
    cols = table.columns
    header = [_plain(c.header) for c in cols]
    rows = list(zip(*(c._cells for c in cols), strict=True)) if cols else []
    lines = []
    if table.title:
        lines.append(_plain(table.title))
    if table.caption:
        lines.append(_plain(table.caption))
    if lines:
        lines.append("")
    if not table.show_header:  # a key-value table: one "key: value" line per row
        lines += [f"- {_plain(r[0])}: {' '.join(_plain(x) for x in r[1:])}" for r in rows]
        return "\n".join(lines) + "\n"
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---:" if c.justify == "right" else "---" for c in cols) + "|")
    for r in rows:
        lines.append("| " + " | ".join(_plain(x).replace("|", "\\|") for x in r) + " |")
    return "\n".join(lines) + "\n"


def print_table(table: Any, caption: str | None = None, stream: IO[str] | None = None) -> None:
    """Print a Rich table: on a terminal with wrapped (never cut) cells, else as Markdown.

    Args:
        table: a ``rich.table.Table``.
        caption: one line saying what the table shows and what is best (set as its caption).
        stream: where to print (default stdout).
    """
    stream = stream if stream is not None else sys.stdout
    if caption:
        table.caption = caption
    if interactive(stream):
        from rich.console import Console

        for c in table.columns:
            c.overflow = "fold"
            c.no_wrap = False
        table.caption_justify = "left"
        Console(file=stream).print(table)
    else:
        print(table_markdown(table), file=stream, flush=True)
