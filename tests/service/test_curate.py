"""Write routes: token, edit -> restart -> still there -> export, 409, add/remove live."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from service_toys import picture, png_bytes, toy_config, toy_factory

from pictext.core.errors import one_line
from pictext.data.collection import DamagedDatabaseError

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "X-Pictext-User": "ann"}
ITEM = "red/red0.png"


@pytest.fixture
def bundle(toy_root: Path, tmp_path: Path) -> Path:
    """A copy of the toy bundle: these tests write its collection database."""
    return Path(shutil.copytree(toy_root / "bundle", tmp_path / "bundle"))


def _client(bundle: Path, toy_root: Path, token: str | None = TOKEN):
    from fastapi.testclient import TestClient

    from pictext.service.app import create_app

    app = create_app(bundle, toy_config(), encoder_factory=toy_factory,
                     cache_dir=toy_root / "cache", token=token)  # fmt: skip
    return TestClient(app)


def _img(colour: str, seed: int) -> dict:
    return {"image": ("new.png", png_bytes(picture(colour, seed=seed)), "image/png")}


def test_a_write_without_the_token_is_refused(bundle: Path, toy_root: Path) -> None:
    with _client(bundle, toy_root, token=None) as off:
        r = off.patch(f"/items/{ITEM}", json={"label": "blue"}, headers=AUTH)
        assert r.status_code == 401
        assert "--token" in r.json()["error"]["message"]
    with _client(bundle, toy_root) as on:
        assert on.patch(f"/items/{ITEM}", json={"label": "blue"}).status_code == 401
        bad = {"Authorization": "Bearer wrong"}
        assert on.delete(f"/items/{ITEM}", headers=bad).status_code == 401
        assert on.get(f"/items/{ITEM}").json()["label"] == "red"  # reads stay open
    assert not (bundle / "collection.sqlite").exists()  # nothing was written


def test_edit_restart_still_there_then_export_reads_back(
    bundle: Path, toy_root: Path, tmp_path: Path
) -> None:
    with _client(bundle, toy_root) as c:
        r = c.patch(f"/items/{ITEM}", json={"label": "blue", "tags": ["odd"], "version": 1},
                    headers=AUTH)  # fmt: skip
        assert r.status_code == 200, r.text
        assert (r.json()["label"], r.json()["tags"], r.json()["version"]) == ("blue", ["odd"], 2)
        stale = c.patch(f"/items/{ITEM}", json={"reviewed": True, "version": 1}, headers=AUTH)
        assert stale.status_code == 409
    with _client(bundle, toy_root) as again:  # a new app on the same database
        item = again.get(f"/items/{ITEM}").json()
        assert item["label"] == "blue"
        assert [(h["field"], h["old"], h["new"], h["by"]) for h in item["curation"]["history"]] == [
            ("label", "red", "blue", "ann"),
            ("tags", [], ["odd"], "ann"),
        ]
        assert again.get("/collection").json()["reviewed"] == 0  # the stale write changed nothing
    from pictext.cli import main
    from pictext.data import load_dataset

    out = tmp_path / "out.jsonl"
    assert main(["export", str(bundle), "--format", "jsonl", "--out", str(out)]) == 0
    back = {it.id: it for it in load_dataset(out).items}
    edited = {it.id: it for it in load_dataset(f"collection:{bundle}").items}
    assert back.keys() == edited.keys()
    assert back[ITEM].label == "blue"
    assert all((back[i].label, back[i].text) == (edited[i].label, edited[i].text) for i in back)


def test_undo_and_accept(bundle: Path, toy_root: Path) -> None:
    with _client(bundle, toy_root) as c:
        c.patch(f"/items/{ITEM}", json={"label": "green"}, headers=AUTH)
        assert c.post(f"/items/{ITEM}/undo", headers=AUTH).json()["label"] == "red"
        r = c.post("/items/accept", json={ITEM: "blue", "red/red1.png": "blue"}, headers=AUTH)
        assert [(s["label"], s["reviewed"]) for s in r.json()["items"]] == [("blue", True)] * 2
        counts = c.get("/collection").json()
        assert counts["reviewed"] == 2
        history = c.get(f"/items/{ITEM}").json()["curation"]["history"]
        assert [h["field"] for h in history] == ["label", "label", "label", "reviewed"]


def test_add_is_found_by_similar_at_once_and_remove_is_gone_everywhere(
    bundle: Path, toy_root: Path
) -> None:
    with _client(bundle, toy_root) as c:
        index_before = (bundle / "index").stat().st_mtime_ns
        query = _img("green", seed=777)
        before = c.post("/similar", files=query, data={"k": "1"}).json()["hits"][0]["id"]
        r = c.post("/items", files=query, data={"label": "green", "title": "new green"},
                   headers=AUTH)  # fmt: skip
        assert r.status_code == 200, r.text
        new = r.json()["id"]
        assert new.startswith("added/")
        assert before != new
        hits = c.post("/similar", files=_img("green", seed=777), data={"k": "1"}).json()["hits"]
        assert hits[0]["id"] == new  # no rebuild: the index folder was not written
        assert (bundle / "index").stat().st_mtime_ns == index_before
        page = c.post("/browse", data={"label": "green", "per_page": "200"}).json()
        assert new in {row["id"] for row in page["items"]}
        assert c.get(f"/items/{new}/thumbnail").status_code == 200
        # remove it: gone from every answer
        assert c.delete(f"/items/{new}", headers=AUTH).status_code == 200
        assert c.get(f"/items/{new}").status_code == 404
        for route in ("/similar", "/divergent"):
            got = c.post(route, files=_img("green", seed=777), data={"k": "30"}).json()["hits"]
            assert new not in {h["id"] for h in got}
        page = c.post("/browse", data={"per_page": "200"}).json()
        assert new not in {row["id"] for row in page["items"]}
        c.delete(f"/items/{ITEM}", headers=AUTH)
        assert ITEM not in {p["id"] for p in c.get("/map").json()["points"]}
        near = c.get("/items/red/red1.png", params={"neighbours": "30"}).json()
        assert ITEM not in {h["id"] for h in near["similar"] + near["divergent"]}
        kept = c.post("/items", files=_img("blue", seed=555), headers=AUTH).json()["id"]
    with _client(bundle, toy_root) as again:  # removals and adds persist across a restart
        assert again.get(f"/items/{ITEM}").status_code == 404
        assert again.get(f"/items/{new}").status_code == 404
        hits = again.post("/similar", files=_img("blue", seed=555), data={"k": "1"}).json()
        assert hits["hits"][0]["id"] == kept


def test_a_damaged_database_stops_the_service_with_one_line(bundle: Path, toy_root: Path) -> None:
    (bundle / "collection.sqlite").write_bytes(b"\0garbage" * 512)
    with pytest.raises(DamagedDatabaseError) as err:
        _client(bundle, toy_root)
    assert "damaged collection database" in one_line(err.value)
    assert (bundle / "collection.sqlite").read_bytes() == b"\0garbage" * 512
