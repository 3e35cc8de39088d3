"""The one error family: what went wrong, for which item, and how to fix it.

Every error a user can act on is a :class:`PictextError`. It carries the item at fault (a
file, an id, a field, a folder), the problem and, where known, a hint. The front ends turn
it into their own form from the same object:

- the CLI prints :func:`one_line` on stderr and exits with ``exit_code`` (2 for a usage
  error, 1 for an input that failed or a state that stops the work);
- the service answers ``{"error": {"status", "code", "message", ...}}`` with ``status``.

Anything else that escapes is a bug: the CLI prints one line naming the exception type and
how to see the traceback (``--debug``), the service answers 500 without a stack trace.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PictextError(Exception):
    """An error a user can act on.

    Args:
        message: the problem, naming the input.
        item: the item at fault (file, id, field, folder), when there is one.
        hint: what to do about it, when known.

    Example:
        >>> err = UsageError("k must be between 1 and 1000, got -1", item="-k")
        >>> (err.exit_code, err.status, one_line(err))
        (2, 422, 'k must be between 1 and 1000, got -1')
    """

    exit_code: ClassVar[int] = 1  # the CLI's exit status
    status: ClassVar[int] = 400  # the service's HTTP status
    code: ClassVar[str] = "bad_input"  # a stable machine-readable name
    item: str | None = None
    hint: str | None = None

    def __init__(self, message: str = "", *, item: str | None = None, hint: str | None = None):
        super().__init__(message)
        if item is not None:
            self.item = item
        if hint is not None:
            self.hint = hint

    def to_dict(self) -> dict[str, Any]:
        """The service's JSON body for this error."""
        body: dict[str, Any] = {"status": self.status, "code": self.code, "message": one_line(self)}
        if self.item is not None:
            body["item"] = self.item
        if self.hint is not None:
            body["hint"] = self.hint
        return {"error": body}


class UsageError(PictextError):
    """The request itself is wrong: an option out of range, an unknown name, a bad query."""

    exit_code = 2
    status = 422
    code = "usage"


class InputError(PictextError):
    """An input could not be used: a file that cannot be read, a bad manifest, a bad model."""

    code = "bad_input"


class NotFoundError(InputError):
    """A file, folder, dataset, id or model that does not exist."""

    status = 404
    code = "not_found"


class BudgetError(InputError):
    """An input over a budget (pixels, text length, k, bytes): refused before the work."""

    status = 413
    code = "over_budget"


class StateError(PictextError):
    """The environment stops the work: a read-only or full cache, a missing package."""

    status = 503
    code = "unavailable"


def one_line(err: BaseException) -> str:
    """The error as one line: its message, with the hint after it when it has one.

    Unexpected exceptions (not a :class:`PictextError`) are named by type, so the line is
    never empty and never a traceback.
    """
    text = " ".join(str(err).split())
    if isinstance(err, PictextError):
        if err.hint and err.hint not in text:
            text = f"{text} ({err.hint})" if text else err.hint
        return text or type(err).__name__
    if isinstance(err, KeyError) and text:
        text = f"missing key {text}"
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
