"""``POST /browse`` and the audit in a bundle: filters, sorts, pages, item flags."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_toys import audited_bundle
from service_toys import toy_config, toy_factory

pytest.importorskip("cleanlab")
pytest.importorskip("imagehash")


@pytest.fixture(scope="module")
def audited_root(toy_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("audited")
    audited_bundle(toy_root, root)
    return root


@pytest.fixture(scope="module")
def audited(audited_root: Path, toy_root: Path) -> Iterator:
    from fastapi.testclient import TestClient

    from pictext.service.app import create_app

    app = create_app(
        audited_root / "bundle", toy_config(), encoder_factory=toy_factory,
        cache_dir=toy_root / "cache",
    )  # fmt: skip
    with TestClient(app) as c:
        yield c


def test_pages_and_filters(audited) -> None:
    everything = audited.post("/browse", data={"per_page": 10}).json()
    assert everything["total"] == 24
    assert len(everything["items"]) == 10
    last = audited.post("/browse", data={"per_page": 10, "page": 2}).json()["items"]
    assert len(last) == 4
    red = audited.post("/browse", data={"label": "red"}).json()
    assert red["total"] == 8
    assert {it["label"] for it in red["items"]} == {"red"}
    assert audited.post("/browse", data={"has_text": "no"}).json()["total"] == 0
    two = ["red/red0.png", "blue/blue3.png"]
    chosen = audited.post("/browse", data={"ids": two}).json()
    assert sorted(it["id"] for it in chosen["items"]) == sorted(two)


@pytest.mark.parametrize("sort", ["uniqueness", "error"])
def test_audit_sorts_highest_first(audited, sort: str) -> None:
    items = audited.post("/browse", data={"sort": sort, "per_page": 24}).json()["items"]
    scores = [it["sort_score"] for it in items]
    assert all(s is not None for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert "uniqueness" in items[0]["flags"]


def test_similarity_sort_puts_the_query_class_first(audited) -> None:
    items = audited.post("/browse", data={"sort": "similarity", "q": "a blue picture"}).json()
    first = items["items"][:4]
    assert [it["sort_score"] for it in first] == sorted(it["sort_score"] for it in first)
    assert audited.post("/browse", data={"sort": "similarity"}).status_code == 422


def test_item_and_info_carry_the_audit(audited) -> None:
    info = audited.get("/info").json()
    assert info["parts"]["audit"] is True
    assert info["facets"]["labels"] == {"blue": 8, "green": 8, "red": 8}
    assert info["audit"]["items"] == 24
    flags = audited.get("/items/red/red0.png").json()["audit"]
    assert set(flags) >= {"uniqueness", "error_score", "suspected_error", "duplicates"}


def test_sorting_by_error_without_an_audit_says_how_to_make_one(client) -> None:
    r = client.post("/browse", data={"sort": "error"})
    assert r.status_code == 422
    assert "pictext audit" in r.json()["error"]["message"]
    assert client.post("/browse", data={"sort": "nope"}).status_code == 422
    assert client.get("/info").json()["parts"]["audit"] is False
