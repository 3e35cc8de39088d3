"""Errors raised while reading items."""

from __future__ import annotations

from pictext.core.errors import BudgetError, InputError, NotFoundError, StateError


class ItemError(InputError, ValueError):
    """An item that cannot be used, with the item and the problem named.

    Readers and the embedding store catch it per item, report it and go on.
    """

    def __init__(self, item_id: str, problem: str) -> None:
        super().__init__(f"{item_id}: {problem}", item=item_id)
        self.item_id = item_id
        self.problem = problem


class DatasetNotFoundError(NotFoundError, FileNotFoundError):
    """A dataset name or path that cannot be resolved, with what to install or pass."""


class UnknownDatasetError(DatasetNotFoundError):
    """A name that is neither a packaged dataset nor an existing path: a usage mistake
    (exit status 2, as an unknown encoder or label), with the closest names suggested."""

    exit_code = 2


class ImageDecodeError(ItemError):
    """An image that does not decode, with the kind of problem in ``reason``.

    Reasons: ``not_an_image`` (no known format), ``unsupported_format`` (a format the
    caller does not accept), ``too_large`` (over a pixel, size or rendering budget:
    :class:`ImageTooLargeError`), ``corrupt`` (truncated or broken data, zero size, an SVG
    that does not render) and ``unavailable`` (the renderer failed for a reason outside the
    data: :class:`ImageUnavailableError`).
    """

    def __init__(self, item_id: str, problem: str, reason: str) -> None:
        super().__init__(item_id, problem)
        self.reason = reason


class ImageTooLargeError(ImageDecodeError, BudgetError):
    """An image over a budget (pixels, bytes, what its SVG would draw), refused before the
    work; the message names the budget."""

    def __init__(self, item_id: str, problem: str) -> None:
        super().__init__(item_id, problem, "too_large")


class ImageUnavailableError(ImageDecodeError, StateError):
    """An image that could not be decoded now (memory pressure, a renderer killed from
    outside); another try may work, so the failure is never cached."""

    status = StateError.status
    code = StateError.code

    def __init__(self, item_id: str, problem: str) -> None:
        super().__init__(item_id, problem, "unavailable")
