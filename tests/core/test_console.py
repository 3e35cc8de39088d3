"""Console output written to a file: plain progress lines, full names, Markdown tables."""

from __future__ import annotations

import io

from rich.table import Table

from pictext.classify.tables import rich_table
from pictext.core import console
from pictext.store.embed import progress_bar

LONG = "efficientnet-lite0-int8 + multilingual-minilm-l12-int8 fusion head alone"


class _File(io.StringIO):
    """A stream that is not a terminal, as a log file."""

    def isatty(self) -> bool:
        return False


def test_progress_in_a_file_is_plain_lines_without_carriage_returns(monkeypatch) -> None:
    out = _File()
    monkeypatch.setattr(console, "PLAIN_INTERVAL_S", 0.0)
    bar = console.progress(total=3, desc="images", stream=out)
    bar.interval = 0.0
    for _ in range(3):
        bar.update(1)
    bar.close()
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[0].startswith("images: 1/3 items")
    assert "left" in lines[0]
    assert lines[-1].startswith("images: 3/3 items")
    assert "done in" in lines[-1]


def test_plain_progress_prints_at_most_once_per_interval() -> None:
    out = _File()
    bar = console.PlainProgress(range(1000), desc="epochs", stream=out, interval=3600)
    assert list(bar) == list(range(1000))
    assert out.getvalue().count("\n") == 1  # only the final line


def test_embedding_progress_to_stderr_file_has_no_carriage_return(capsys) -> None:
    step = progress_bar(5, "images demo", True)
    step(5)
    step(0, done=True)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert "images demo: 5/5" in err


def test_a_table_in_a_file_is_markdown_with_full_names_and_a_caption() -> None:
    t = Table(title="Table 3: tuxpaint (train 10, test 5)")
    t.add_column("model")
    t.add_column("top-1", justify="right")
    t.add_row(LONG, "81.0 ± 1.0")
    out = _File()
    console.print_table(t, "Test accuracy; higher is better.", stream=out)
    text = out.getvalue()
    assert "…" not in text
    assert "\r" not in text
    assert f"| {LONG} | 81.0 ± 1.0 |" in text
    assert "Test accuracy; higher is better." in text
    assert "|---|---:|" in text


def test_table3_in_a_file_keeps_names_shows_caption_and_no_dict() -> None:
    row = {"kind": "fusion", "n_seeds": 1, "top1": 80.0, "top1_std": 0.0, "top5": 99.0}
    row |= {"top5_std": 0.0, "novel_top1": 80.0, "novel_top1_std": 0.0}
    row |= {"novel_top5": 99.0, "novel_top5_std": 0.0}
    fusion = {"row": f"fusion {LONG}"} | row
    alone = {"row": f"fusion head alone {LONG}"} | row | {"kind": "fusion-alone"}
    tuned = {"row": "anchor tuned linear"} | row
    tuned |= {"kind": "anchor-tuned", "top1": 81.0, "novel_top1": 81.0}
    s = {"dataset": "tuxpaint", "sizes": {"train": 10, "test": 5}, "gains": {}}
    s["table"] = [fusion, alone, tuned]
    out = _File()
    console.print_table(rich_table(s), stream=out)
    text = out.getvalue()
    assert "…" not in text
    assert "\r" not in text
    assert "{" not in text
    assert "tuxpaint (train 10, test 5)" in text
    assert "best top-1: anchor tuned linear (81.0)" in text
    assert text.count(LONG) == 1  # the fusion head alone repeats fusion: folded
    assert "novel" not in text.split("\n\n", 1)[1].split("\n")[0]  # no repeated novel columns


def test_a_table_on_a_terminal_wraps_rather_than_cuts(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")  # narrower than the name

    class _Tty(_File):
        def isatty(self) -> bool:
            return True

    t = Table(title="t")
    t.add_column("model")
    t.add_column("top-1", justify="right")
    t.add_row(LONG, "81.0")
    out = _Tty()
    console.print_table(t, "caption", stream=out)
    text = out.getvalue()
    assert "…" not in text
    assert "".join(text.split()).count("efficientnet-lite0-int8") == 1
