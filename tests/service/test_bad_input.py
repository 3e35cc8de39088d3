"""Every class of bad input gets one JSON error: its status, a stable code, the field at fault
and a one-line message naming the problem; never an answer, never a stack trace."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from service_toys import picture, png_bytes, png_header_only, toy_config, toy_factory

IMG = png_bytes(picture("red", seed=3))
RANDOM_BYTES = random.Random(0).randbytes(300)
DEEP = "[" * 100_000 + "]" * 100_000  # past any JSON parser's recursion limit


def _one(data: bytes = IMG, ctype: str = "image/png", name: str = "x.png") -> dict:
    return {"image": (name, data, ctype)}


def _batch(items: str) -> dict:
    return {"files": [("images", ("a.png", IMG, "image/png"))], "data": {"items": items}}


def _nested(depth: int) -> str:
    """A valid items list whose tags are nested ``depth`` levels deep."""
    return '[{"tags": ' + "[" * depth + "]" * depth + "}]"


# (case, request, status, code, field, words the message must hold)
Case = tuple[str, Callable, int, str, str | None, tuple[str, ...]]
CASES: list[Case] = [
    # ---- a missing or unknown id
    ("unknown item_id", lambda c: c.post("/similar", data={"item_id": "nope.png"}),
     404, "unknown_item", None, ("nope.png",)),
    ("unknown item_id, divergent", lambda c: c.post("/divergent", data={"item_id": "x/y.png"}),
     404, "unknown_item", None, ("x/y.png",)),
    ("unknown item", lambda c: c.get("/items/nope.png"), 404, "unknown_item", None, ("nope.png",)),
    ("unknown history id", lambda c: c.post("/recommend", data={"history": "red/nope.png"}),
     404, "unknown_item", "history", ("red/nope.png",)),
    ("no image to caption", lambda c: c.post("/caption", data={"k": "3"}),
     422, "invalid", "image", ("missing field 'image'",)),
    # ---- an upload that cannot be read
    ("random bytes as a PNG", lambda c: c.post("/tag", files=_one(RANDOM_BYTES, name="r.png")),
     400, "not_an_image", "image", ("r.png", "no image")),
    ("truncated PNG", lambda c: c.post("/tag", files=_one(IMG[: len(IMG) // 2], name="t.png")),
     400, "corrupt_image", "image", ("t.png", "truncated")),
    ("a PNG sent as SVG", lambda c: c.post("/tag", files=_one(IMG, "image/svg+xml", "p.svg")),
     400, "not_an_image", "image", ("p.svg",)),
    ("a text file", lambda c: c.post("/tag", files=_one(b"hello", "text/plain", "n.txt")),
     415, "unsupported_media_type", "image", ("n.txt", "text/plain")),
    # ---- decompression bombs (tiny files that claim huge images)
    ("PNG bomb", lambda c: c.post("/tag", files=_one(png_header_only(10**5, 10**5), name="b.png")),
     413, "image_too_large", "image", ("b.png",)),
    ("PNG bomb in a batch", lambda c: c.post(
        "/similar/batch", files=[("images", ("b.png", png_header_only(10**5, 99), "image/png"))]),
     413, "image_too_large", "images[0]", ("b.png",)),
    # ---- bad JSON, or a body that is no form
    ("items not JSON", lambda c: c.post("/tag/batch", **_batch("{not json")),
     422, "invalid", "items", ("not valid JSON",)),
    ("items not a list of objects", lambda c: c.post("/tag/batch", **_batch('{"a": 1}')),
     422, "invalid", "items", ("list of objects",)),
    ("a title that is no string", lambda c: c.post("/tag/batch", **_batch('[{"title": [1]}]')),
     422, "invalid", "items[0].title", ("must be a string",)),
    ("random bytes as JSON", lambda c: c.post(
        "/tag", content=RANDOM_BYTES, headers={"content-type": "application/json"}),
     415, "unsupported_media_type", "content-type", ("application/json", "multipart/form-data")),
    ("JSON instead of a form", lambda c: c.post("/similar", json={"item_id": "red/red1.png"}),
     415, "unsupported_media_type", "content-type", ("application/json",)),
    ("raw bytes, no type", lambda c: c.post("/tag", content=RANDOM_BYTES),
     415, "unsupported_media_type", "content-type", ("(none)",)),
    ("broken multipart", lambda c: c.post(
        "/tag", content=RANDOM_BYTES, headers={"content-type": "multipart/form-data; boundary=b"}),
     400, "bad_request", None, ("multipart",)),
    # ---- deeply nested JSON
    ("items nested past the parser", lambda c: c.post("/tag/batch", **_batch(DEEP)),
     422, "invalid", "items", ("nested too deeply",)),
    ("a field nested past the parser", lambda c: c.post("/tag/batch", **_batch(_nested(50_000))),
     422, "invalid", "items", ("nested too deeply",)),
    ("a field nested within the parser", lambda c: c.post("/tag/batch", **_batch(_nested(500))),
     422, "invalid", "items[0].tags", ("list of strings",)),
    ("a deep JSON body", lambda c: c.post(
        "/tag", content=DEEP.encode(), headers={"content-type": "application/json"}),
     415, "unsupported_media_type", "content-type", ("application/json",)),
    # ---- an unknown label
    ("unknown label", lambda c: c.post("/verify", files=_one(), data={"label": "purple"}),
     422, "unknown_label", None, ("purple", "blue, green, red")),
    ("unknown label in a batch", lambda c: c.post(
        "/verify/batch", **_batch(json.dumps([{"label": "mauve"}]))),
     422, "unknown_label", None, ("mauve",)),
    # ---- k out of range (the service's max_k, 100 by default)
    ("k = 0", lambda c: c.post("/tag", files=_one(), data={"k": "0"}),
     422, "invalid", "k", ("greater than or equal to 1",)),
    ("k = -1", lambda c: c.post("/similar", files=_one(), data={"k": "-1"}),
     422, "invalid", "k", ("greater than or equal to 1",)),
    ("k = 10^9", lambda c: c.post("/similar", files=_one(), data={"k": "1000000000"}),
     422, "invalid", "k", ("1000000000", "limit of 100")),
    ("k = 10^30", lambda c: c.post("/divergent", data={"title": "x", "k": "1" + "0" * 30}),
     422, "invalid", "k", ("limit of 100",)),
    ("k not a number", lambda c: c.post("/tag", files=_one(), data={"k": "ten"}),
     422, "invalid", "k", ("valid integer",)),
    ("neighbours out of range", lambda c: c.get("/items/red/red1.png", params={"neighbours": 99}),
     422, "invalid", "neighbours", ("less than or equal to 50",)),
    # ---- text over the caps
    ("title over the cap", lambda c: c.post("/tag", data={"title": "x" * 5000}),
     422, "invalid", "title", ("5000 characters", "limit is 4000")),
    ("batch description over the cap", lambda c: c.post(
        "/similar/batch", **_batch(json.dumps([{"description": "y" * 4001}]))),
     422, "invalid", "items[0].description", ("4001 characters",)),
    ("too many tags", lambda c: c.post("/tag", data={"tags": ",".join(map(str, range(999)))}),
     422, "invalid", "tags", ("999 tags",)),
]  # fmt: skip


def _check_error(r, status: int, code: str, field: str | None, words: tuple[str, ...]) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "Traceback" not in r.text
    err = r.json()["error"]
    assert err["status"] == status
    assert err["code"] == code
    assert err.get("field") == field
    assert "\n" not in err["message"]
    for word in words:
        assert word in err["message"], (word, err["message"])


@pytest.mark.parametrize(
    ("request_", "status", "code", "field", "words"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_bad_input_gets_one_json_error(
    client, request_: Callable, status: int, code: str, field: str | None, words: tuple[str, ...]
) -> None:
    _check_error(request_(client), status, code, field, words)


@pytest.mark.parametrize(
    ("method", "path", "target"),
    [
        ("post", "/tag", "tag"),  # in the thread pool, under the gate
        ("get", "/items/red/red1.png", "neighbours"),  # a plain route
    ],
)
def test_an_unexpected_exception_is_a_json_500_without_a_traceback(
    app, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, method, path, target
) -> None:
    from fastapi.testclient import TestClient

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom in /srv/secret/path.py")

    monkeypatch.setattr(app.state.pictext.backend, target, boom)
    client = TestClient(app, raise_server_exceptions=False)
    with caplog.at_level("ERROR", logger="pictext.service"):
        r = getattr(client, method)(path, **({"files": _one()} if method == "post" else {}))
    _check_error(r, 500, "internal", None, ("RuntimeError", "server log"))
    assert "secret" not in r.text  # the exception's text may hold server paths: not shown
    logged = [rec for rec in caplog.records if rec.exc_info]
    assert logged, "the traceback belongs in the server log"
    assert "boom" in str(logged[0].exc_info[1])


def test_library_errors_answer_with_their_own_status(app, monkeypatch) -> None:
    """The library's error family maps by itself: nothing in the service translates it."""
    from fastapi.testclient import TestClient

    from pictext.core.errors import BudgetError, StateError
    from pictext.store import UnreadableItemsError
    from pictext.store.failures import Failure

    client = TestClient(app, raise_server_exceptions=False)
    raised: list[Exception] = [
        UnreadableItemsError([Failure("x.png", "image file not found: x.png")]),
        BudgetError("text is 9000000 characters; the budget is 4000", item="title"),
        StateError("the cache at /c is read-only", hint="set PICTEXT_CACHE"),
    ]
    for err in raised:

        def fail(*args: object, _err: Exception = err, **kwargs: object) -> None:
            raise _err

        monkeypatch.setattr(app.state.pictext.backend, "tag", fail)
        r = client.post("/tag", files=_one())
        assert r.status_code == err.status, r.text
        assert r.json() == err.to_dict()
        assert "Traceback" not in r.text


# ---- results say which part answered --------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "data", "kind", "items"),
    [
        ("/similar", {"k": "3"}, "index", 24),
        ("/divergent", {"k": "3"}, "index", 24),
        ("/recommend", {"history": "red/red1.png", "k": "3"}, "index", 24),
        ("/tag", {"k": "2"}, "classifier", 3),
        ("/verify", {"label": "red"}, "classifier", 3),
        ("/caption", {"k": "2"}, "captioner", 24),
    ],
)
def test_answers_name_the_part_that_answered(client, path, data, kind, items) -> None:
    r = client.post(path, files=_one(), data=data)
    assert r.status_code == 200, r.text
    assert r.json()["answered_by"] == {"kind": kind, "path": f"bundle/{kind}", "items": items}


def test_batches_and_id_searches_name_the_part_too(client) -> None:
    files = [("images", ("a.png", IMG, "image/png"))]
    batch = client.post("/tag/batch", files=files).json()
    assert batch["answered_by"]["kind"] == "classifier"
    by_id = client.post("/similar", data={"item_id": "red/red1.png", "k": "2"}).json()
    assert by_id["answered_by"] == {"kind": "index", "path": "bundle/index", "items": 24}


# ---- a bundle is read-only to the service ----------------------------------------------------
def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in [folder, *folder.rglob("*")]
    }


def _set_writable(folder: Path, writable: bool) -> None:
    for p in [folder, *folder.rglob("*")]:
        if p.is_dir():
            p.chmod(0o755 if writable else 0o555)


def test_serve_writes_nothing_into_the_bundle(
    toy_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Served from a read-only folder, the bundle answers every route and gains no file: the
    map goes to the cache, keyed by the index's content. (As root, chmod does not stop a
    write: the snapshot of names, sizes and times is what catches one.)"""
    from fastapi.testclient import TestClient

    from pictext.rank.index import SearchIndex
    from pictext.service.app import create_app
    from pictext.service.catalog import map_file

    bundle = tmp_path / "bundle"
    shutil.copytree(toy_root / "bundle", bundle)
    cache = tmp_path / "cache"
    # the collection's embeddings and captions, as a user has them; no map yet
    shutil.copytree(toy_root / "cache", cache, ignore=shutil.ignore_patterns("maps"))
    before = _snapshot(bundle)
    _set_writable(bundle, False)
    try:
        app = create_app(bundle, toy_config(), encoder_factory=toy_factory, cache_dir=cache)
        client = TestClient(app)
        assert len(client.get("/map").json()["points"]) == 24
        for path in ("/tag", "/similar", "/caption"):
            assert client.post(path, files=_one()).status_code == 200, path
        assert client.get("/items/red/red1.png/thumbnail").status_code == 200
        assert _snapshot(bundle) == before
        saved = map_file(SearchIndex.load(bundle / "index"), "pca", cache)
        assert saved.is_file()
        assert not (bundle / "map.json").exists()
        with caplog.at_level("INFO", logger="pictext.core.projection"):
            create_app(bundle, toy_config(), encoder_factory=toy_factory, cache_dir=cache)
        assert not [r for r in caplog.records if "computing the" in r.getMessage()]
        assert _snapshot(bundle) == before
    finally:
        _set_writable(bundle, True)


def test_two_indexes_never_share_a_map(toy_root: Path, tmp_path: Path) -> None:
    import numpy as np

    from pictext.rank.index import SearchIndex
    from pictext.service.catalog import map_file
    from pictext.store.features import Features

    index = SearchIndex.load(toy_root / "bundle" / "index")
    again = SearchIndex.load(toy_root / "bundle" / "index")
    n = len(index)
    other = SearchIndex.build(
        Features(
            list(index.ids), np.eye(n, dtype=np.float32), np.ones(n, bool), image_encoder="t@1"
        )
    )
    assert map_file(index, "pca", tmp_path) == map_file(again, "pca", tmp_path)
    assert map_file(index, "pca", tmp_path) != map_file(other, "pca", tmp_path)
    assert map_file(index, "pca", tmp_path) != map_file(index, "tsne", tmp_path)
    assert map_file(index, "pca", tmp_path).parent == tmp_path / "maps"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/tag"), ("PUT", "/verify"), ("DELETE", "/similar"), ("PATCH", "/browse")],
)
def test_a_method_a_route_does_not_take_is_405_with_allow(client, method, path):
    res = client.request(method, path)
    assert res.status_code == 405
    assert "POST" in res.headers["allow"]
    assert res.json()["error"]["code"] == "method_not_allowed"
