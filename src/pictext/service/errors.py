"""Errors the service answers with: a status, a stable code and a message naming the problem."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An error a client can act on, answered as JSON ``{"error": {...}}``.

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
        super().__init__(message)
        self.status = status  # HTTP status
        self.code = code  # stable machine-readable name
        self.message = message  # what went wrong, naming the input
        self.field = field  # the request field at fault, when one is
        self.hint = hint  # how to fix it, when known

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
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
