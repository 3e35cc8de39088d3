"""The one error family: one line, an exit code and an HTTP status per class."""

from __future__ import annotations

import pytest

from pictext.core.errors import (
    BudgetError,
    InputError,
    NotFoundError,
    PictextError,
    StateError,
    UsageError,
    one_line,
)


@pytest.mark.parametrize(
    ("cls", "exit_code", "status"),
    [
        (UsageError, 2, 422),
        (InputError, 1, 400),
        (NotFoundError, 1, 404),
        (BudgetError, 1, 413),
        (StateError, 1, 503),
    ],
)
def test_each_class_has_its_exit_code_and_status(cls, exit_code, status):
    err = cls("bad thing", item="a.png")
    assert (err.exit_code, err.status) == (exit_code, status)
    body = err.to_dict()["error"]
    assert body["status"] == status
    assert body["item"] == "a.png"
    assert body["message"] == "bad thing"


def test_one_line_flattens_and_appends_the_hint():
    err = InputError("line one\nline two", hint="run pictext embed")
    assert one_line(err) == "line one line two (run pictext embed)"


def test_one_line_names_an_unexpected_exception_by_type():
    assert one_line(ZeroDivisionError("division by zero")) == "ZeroDivisionError: division by zero"
    assert one_line(RuntimeError()) == "RuntimeError"


def test_library_errors_belong_to_the_family():
    from pictext.classify.tagging import UnknownLabelError
    from pictext.core.artifacts import ArtifactNotFoundError, EncoderMismatchError
    from pictext.data.errors import DatasetNotFoundError, ItemError
    from pictext.rank.index import UnknownItemError
    from pictext.rank.queries import QueryInputError
    from pictext.store.failures import UnreadableItemsError

    for cls in (ItemError, UnreadableItemsError, ArtifactNotFoundError, EncoderMismatchError):
        assert issubclass(cls, InputError), cls
    for cls in (UnknownLabelError, QueryInputError):
        assert issubclass(cls, UsageError), cls
    assert issubclass(DatasetNotFoundError, NotFoundError)
    assert issubclass(DatasetNotFoundError, FileNotFoundError)  # old callers still catch it
    err = UnknownItemError("item 'x' is not in this index (3 items)", item="x")
    assert isinstance(err, KeyError)
    assert str(err) == "item 'x' is not in this index (3 items)"
    assert issubclass(PictextError, Exception)
