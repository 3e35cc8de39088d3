"""The write routes: edits with a token, versions, undo, remove, add; kept across restarts."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_toys import build_bundle, picture, png_bytes, toy_config, toy_factory

from pictext.collection.errors import DamagedCollectionError
from pictext.collection.export import export_collection
from pictext.collection.store import Collection
from pictext.core.errors import one_line
from pictext.data.registry import load_dataset

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RED = "red/red0.png"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("items")
    build_bundle(root)
    return root


@pytest.fixture
def bundle(built: Path, tmp_path: Path) -> Path:
    """A fresh copy of the bundle per test: each test's collection.sqlite is its own."""
    return Path(shutil.copytree(built / "bundle", tmp_path / "bundle"))


def _client(bundle: Path, built: Path, token: str | None = TOKEN):
    from fastapi.testclient import TestClient

    from pictext.service.app import create_app

    app = create_app(bundle, toy_config(token=token), encoder_factory=toy_factory,
                     cache_dir=built / "cache")  # fmt: skip
    return TestClient(app)


@pytest.fixture
def client(bundle: Path, built: Path) -> Iterator:
    with _client(bundle, built) as c:
        yield c


def _ids(client) -> set[str]:
    return {r["id"] for r in client.post("/browse", data={"per_page": "200"}).json()["items"]}


def test_writes_need_the_token(bundle: Path, built: Path, client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    assert client.patch(f"/items/{RED}", json={"label": "blue"}).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.patch(f"/items/{RED}", json={"label": "blue"}, headers=wrong).status_code == 403
    assert client.delete(f"/items/{RED}", headers=wrong).status_code == 403
    assert client.get(f"/items/{RED}").json()["label"] == "red"  # reads stay open
    with _client(bundle, built, token=None) as off:
        r = off.patch(f"/items/{RED}", json={"label": "blue"}, headers=AUTH)
        assert r.status_code == 401
        assert "--token" in r.json()["error"]["message"]
    assert not (bundle / "collection.sqlite").exists()  # nothing was written
    assert client.patch(f"/items/{RED}", json={"reviewed": True}, headers=AUTH).status_code == 200
    assert TOKEN not in caplog.text
    assert "nope" not in caplog.text


def test_a_damaged_collection_stops_the_service_in_one_line(bundle: Path, built: Path) -> None:
    (bundle / "collection.sqlite").write_bytes(b"not sqlite" * 100)
    with pytest.raises(DamagedCollectionError) as err:
        _client(bundle, built)
    assert "damaged" in one_line(err.value)
    assert "\n" not in one_line(err.value)
    assert (bundle / "collection.sqlite").read_bytes() == b"not sqlite" * 100


def test_an_edit_survives_a_restart_and_exports(bundle: Path, built: Path, tmp_path) -> None:
    with _client(bundle, built) as c:
        assert c.get(f"/items/{RED}/history").json()["version"] == 1
        r = c.patch(f"/items/{RED}", json={"label": "blue", "tags": ["fixed"], "version": 1},
                    headers={**AUTH, "X-Pictext-User": "ann"})  # fmt: skip
        assert r.status_code == 200, r.text
        assert (r.json()["label"], r.json()["version"]) == ("blue", 2)
        assert c.get(f"/items/{RED}").json()["label"] == "blue"
    with _client(bundle, built) as c:  # a restart: a new app over the same bundle
        item = c.get(f"/items/{RED}").json()
        assert (item["label"], item["tags"]) == ("blue", ["fixed"])
        (entry,) = c.get(f"/items/{RED}/history").json()["history"]
        assert entry["by"] == "ann"
        assert TOKEN not in str(entry)
    with Collection(bundle / "collection.sqlite") as col:
        export_collection(col, "jsonl", tmp_path / "out.jsonl")
    back = load_dataset(tmp_path / "out.jsonl")
    edited = load_dataset(f"collection:{bundle / 'collection.sqlite'}")
    assert [(i.id, i.label, i.text) for i in back] == [(i.id, i.label, i.text) for i in edited]
    assert {i.id: i.label for i in back}[RED] == "blue"


def test_a_stale_version_is_409_and_undo_reverts(client) -> None:
    ok = client.patch(f"/items/{RED}", json={"label": "blue", "version": 1}, headers=AUTH)
    assert ok.status_code == 200
    stale = client.patch(f"/items/{RED}", json={"label": "green", "version": 1}, headers=AUTH)
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "conflict"
    undone = client.post(f"/items/{RED}/undo", headers=AUTH).json()
    assert (undone["label"], undone["version"]) == ("red", 3)
    assert client.get(f"/items/{RED}").json()["label"] == "red"


def test_two_servers_on_one_collection_lose_no_update(bundle: Path, built: Path) -> None:
    with _client(bundle, built) as a, _client(bundle, built) as b:
        a.patch(f"/items/{RED}", json={"reviewed": True}, headers=AUTH)  # creates the file
        version = a.get(f"/items/{RED}/history").json()["version"]
        barrier = threading.Barrier(2)
        status: dict[str, int] = {}

        def write(name: str, client, body: dict) -> None:
            barrier.wait()
            r = client.patch(f"/items/{RED}", json={**body, "version": version}, headers=AUTH)
            status[name] = r.status_code

        threads = [
            threading.Thread(target=write, args=("a", a, {"label": "blue"})),
            threading.Thread(target=write, args=("b", b, {"tags": ["x"]})),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(status.values()) == [200, 409]
        final = b.get(f"/items/{RED}/history").json()
        assert final["version"] == version + 1
        assert (final["label"] == "blue") != (final["tags"] == ["x"])  # exactly one landed


def test_remove_hides_an_item_from_every_answer(client) -> None:
    target = "red/red1.png"
    near = client.get(f"/items/{RED}", params={"neighbours": 20}).json()["similar"]
    assert target in {h["id"] for h in near}
    assert client.delete(f"/items/{target}", headers=AUTH).status_code == 200
    assert client.get(f"/items/{target}").status_code == 404
    assert target not in _ids(client)
    item = client.get(f"/items/{RED}", params={"neighbours": 50}).json()
    assert target not in {h["id"] for h in item["similar"] + item["divergent"]}
    sim = client.post("/similar", files={"image": ("q.png", png_bytes(picture("red")))},
                      data={"k": "50"}).json()  # fmt: skip
    assert target not in {h["id"] for h in sim["hits"]}
    client.post(f"/items/{target}/undo", headers=AUTH)  # undo brings it back
    assert target in _ids(client)


def test_an_added_item_is_found_by_similar_with_no_rebuild(
    client, bundle: Path, built: Path
) -> None:
    image = png_bytes(picture("blue", seed=999))
    r = client.post("/items", files={"image": ("new.png", image, "image/png")},
                    data={"title": "a new blue one", "label": "blue", "tags": "new, blue"},
                    headers=AUTH)  # fmt: skip
    assert r.status_code == 200, r.text
    added = r.json()
    assert added["indexed"] is True
    assert added["id"] in _ids(client)
    stored = list((bundle / "collection.files").rglob("*.png"))
    assert [p.read_bytes() for p in stored] == [image]
    sim = client.post("/similar", files={"image": ("q.png", image)}, data={"k": "3"}).json()
    assert sim["hits"][0]["id"] == added["id"]
    assert client.get(f"{added['url'] if 'url' in added else '/items/' + added['id']}/thumbnail"
                      ).status_code == 200  # fmt: skip
    again = client.post("/items", files={"image": ("n.png", image, "image/png")}, headers=AUTH)
    assert again.status_code == 409
    bad = client.post("/items", files={"image": ("x.png", b"not an image", "image/png")},
                      headers=AUTH)  # fmt: skip
    assert bad.status_code in (400, 415, 422)
    with _client(bundle, built) as again:  # after a restart, still found
        sim = again.post("/similar", files={"image": ("q.png", image)}, data={"k": "3"}).json()
        assert sim["hits"][0]["id"] == added["id"]


def test_a_selection_is_edited_at_once_or_not_at_all(client) -> None:
    ids = ["red/red2.png", "red/red3.png"]
    r = client.patch("/items", json={"ids": ids, "label": "blue", "reviewed": True}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert [(i["label"], i["reviewed"]) for i in r.json()["items"]] == [("blue", True)] * 2
    bad = client.patch("/items", json={"ids": ["red/red4.png", "nope"], "label": "blue"},
                       headers=AUTH)  # fmt: skip
    assert bad.status_code == 404
    assert client.get("/items/red/red4.png").json()["label"] == "red"  # rolled back
