"""Errors the service answers with: a status, a stable code and a message naming the problem.

There is one error model. The library's :class:`~pictext.core.errors.PictextError` family
carries its own status and code (an unknown label is a 422, an unreadable input a 400, a
missing file or id a 404, an input over a budget a 413), and :class:`ServiceError` is one of
that family for what only the service knows: a form field, the concurrency gate, a part the
bundle lacks. The app answers every one of them, and every other exception, through one
function (:func:`pictext.service.app.error_response`): ``{"error": {"status", "code",
"message", ...}}``, never a stack trace.
"""

from __future__ import annotations

from typing import Any

from pictext.core.errors import PictextError


class ServiceError(PictextError):
    """An error about the request, answered as JSON ``{"error": {...}}``.

    Args:
        status: the HTTP status.
        code: a stable machine-readable name.
        message: what went wrong, naming the input.
        field: the request field at fault, when one is.
        hint: how to fix it, when known.

    Example:
        >>> ServiceError(404, "unknown_item", "no item 'x'").to_dict()["error"]["code"]
        'unknown_item'
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, item=field, hint=hint)
        self.status = status  # type: ignore[misc]  # per error here, per class in the library
        self.code = code  # type: ignore[misc]
        self.message = " ".join(message.split())  # one line, whatever the library's text held
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field  # the item at fault is a request field: named as such
        if self.hint is not None:
            body["hint"] = self.hint
        return {"error": body}


def bad_request(
    message: str, *, field: str | None = None, code: str = "bad_request"
) -> ServiceError:
    """A 400 naming the field."""
    return ServiceError(400, code, message, field=field)


def unprocessable(message: str, *, field: str | None = None, code: str = "invalid") -> ServiceError:
    """A 422: well-formed but not usable (a missing or out-of-range field)."""
    return ServiceError(422, code, message, field=field)


def internal(exc: BaseException) -> ServiceError:
    """A 500 for an exception that is not a :class:`PictextError`: a bug, named by its type
    only (its message may hold server paths; the server log has the traceback)."""
    return ServiceError(
        500, "internal", f"internal error ({type(exc).__name__}); see the server log"
    )
