"""Log records on one line: control characters in names are escaped, never printed."""

from __future__ import annotations

import logging

from pictext.core.textrule import escape_controls


class OneLineFormatter(logging.Formatter):
    """A formatter whose records stay one line: the message's control characters (a file name
    holding a newline) are escaped; a traceback, when there is one, follows as usual."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


def one_line_logging(fmt: str = "%(message)s") -> None:
    """Escape control characters in every record printed by the root logger's handlers and
    by the last-resort handler (the CLI's warnings)."""
    formatter = OneLineFormatter(fmt)
    for handler in [*logging.getLogger().handlers, logging.lastResort]:
        if handler is not None:
            handler.setFormatter(formatter)
