"""Every route of the service on a tiny bundle (toy encoders, real small heads)."""

from __future__ import annotations

import json

import pytest
from service_toys import COLOURS, picture, png_bytes


def _img(colour: str = "red", seed: int = 99, name: str = "up.png") -> dict:
    return {"image": (name, png_bytes(picture(colour, seed=seed)), "image/png")}


def _labels(hits: list[dict]) -> list[str]:
    return [h["label"] for h in hits]


# ---- description, page, docs ----------------------------------------------------------------
def test_info_lists_parts_and_classes(client) -> None:
    info = client.get("/info").json()
    # the toy bundle has no audit/ part: the page says so instead of showing flags
    assert info["parts"] == {"classifier": True, "index": True, "captioner": True, "audit": False}
    assert info["classes"] == sorted(COLOURS)
    assert info["items"] == 24
    assert info["index"]["n"] == 24
    assert info["title"] == "toy colours"


def test_page_and_assets_are_local(client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    for asset in ("/static/app.js", "/static/style.css"):
        r = client.get(asset)
        assert r.status_code == 200, asset
        assert "http://" not in r.text, f"{asset} loads remote files"
        assert "https://" not in r.text, f"{asset} loads remote files"
    assert "https://" not in page.text
    assert "http://" not in page.text


def test_docs_work_offline(client) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert "https://" not in docs.text
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200
    schema = client.get("/openapi.json").json()
    for path in ("/tag", "/verify", "/similar", "/divergent", "/recommend", "/caption"):
        assert path in schema["paths"]
    for path in ("/tag", "/verify", "/similar", "/divergent", "/caption"):
        assert f"{path}/batch" in schema["paths"]
    assert "/items/{item_id}" in schema["paths"]


def test_unknown_route_is_json_404(client) -> None:
    r = client.get("/nope")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


# ---- tag and verify --------------------------------------------------------------------------
@pytest.mark.parametrize("colour", sorted(COLOURS))
def test_tag_picks_the_colour(client, colour: str) -> None:
    r = client.post("/tag", files=_img(colour), data={"k": "3"})
    assert r.status_code == 200, r.text
    body = r.json()
    ps = [t["p"] for t in body["top"]]
    assert body["top"][0]["label"] == colour
    assert len(ps) == 3
    assert ps == sorted(ps, reverse=True)
    assert abs(sum(ps) - 1) < 1e-3
    assert body["image"]["format"] == "PNG"
    assert body["image"]["width"] == 40
    assert "model;dur=" in r.headers["server-timing"]


def test_tag_text_only_and_inputs_reported(client) -> None:
    r = client.post("/tag", data={"title": "a blue picture", "tags": "blue, colour"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["inputs"] == {"image": False, "title": True, "description": False, "tags": True}
    assert body["image"] is None


def test_tag_needs_an_image_or_text(client) -> None:
    r = client.post("/tag", data={"k": "2"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "missing_input"


def test_tag_batch(client) -> None:
    colours = ["red", "green", "blue"]
    files = [("images", (f"{c}.png", png_bytes(picture(c, seed=7)), "image/png")) for c in colours]
    items = json.dumps(
        [{"title": f"a {c} picture number 1", "tags": [c, "colour"]} for c in colours]
    )
    r = client.post("/tag/batch", files=files, data={"items": items, "k": "1"})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [res["top"][0]["label"] for res in results] == colours
    assert [res["image"]["filename"] for res in results] == [f"{c}.png" for c in colours]


def test_verify_agrees_and_disagrees(client) -> None:
    yes = client.post("/verify", files=_img("green"), data={"label": "green"}).json()
    no = client.post("/verify", files=_img("green"), data={"label": "blue"}).json()
    assert yes["verdict"] == "agree"
    assert yes["predicted"] == "green"
    assert no["verdict"] == "disagree"
    assert no["claimed"] == "blue"
    assert no["confidence"] < yes["confidence"]


def test_verify_unknown_and_missing_label(client) -> None:
    r = client.post("/verify", files=_img(), data={"label": "purple"})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "unknown_label"
    assert "purple" in err["message"]
    assert "red" in err["message"]
    r = client.post("/verify", files=_img())
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "label"
    assert "missing field 'label'" in r.json()["error"]["message"]


def test_verify_batch_needs_a_label_per_item(client) -> None:
    files = [("images", ("a.png", png_bytes(picture("red")), "image/png"))]
    r = client.post("/verify/batch", files=files, data={"items": json.dumps([{"title": "x"}])})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "items[0].label"
    ok = client.post("/verify/batch", files=files, data={"items": json.dumps([{"label": "red"}])})
    assert ok.status_code == 200
    assert ok.json()["results"][0]["verdict"] == "agree"


# ---- similar, divergent, recommend ----------------------------------------------------------
def test_similar_upload_finds_the_same_colour(client) -> None:
    r = client.post("/similar", files=_img("blue"), data={"k": "5"})
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert len(hits) == 5
    assert set(_labels(hits)) == {"blue"}
    d = [h["distance"] for h in hits]
    assert d == sorted(d)
    assert hits[0]["thumbnail"].endswith("/thumbnail")
    assert hits[0]["caption"]


def test_divergent_upload_avoids_the_colour(client) -> None:
    hits = client.post("/divergent", files=_img("blue"), data={"k": "5"}).json()["hits"]
    assert len(hits) == 5
    assert "blue" not in _labels(hits)


def test_similar_from_an_item_with_slashes(client) -> None:
    r = client.post("/similar", data={"item_id": "green/deep/green1.png", "k": "4"})
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert "green/deep/green1.png" not in [h["id"] for h in hits]
    assert set(_labels(hits)) == {"green"}


def test_similar_unknown_item_is_404(client) -> None:
    r = client.post("/similar", data={"item_id": "../../etc/passwd"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "unknown_item"


def test_similar_by_text_only(client) -> None:
    r = client.post("/similar", data={"title": "a red picture", "k": "3"})
    assert r.status_code == 200
    assert len(r.json()["hits"]) == 3


def test_search_batches(client) -> None:
    files = [("images", (f"{c}.png", png_bytes(picture(c)), "image/png")) for c in ("red", "blue")]
    sim = client.post("/similar/batch", files=files, data={"k": "3"}).json()["results"]
    div = client.post("/divergent/batch", files=files, data={"k": "3"}).json()["results"]
    assert [set(_labels(r["hits"])) for r in sim] == [{"red"}, {"blue"}]
    assert "red" not in _labels(div[0]["hits"])
    assert "blue" not in _labels(div[1]["hits"])


def test_recommend_from_history_and_upload(client) -> None:
    history = ["red/red1.png", "red/red2.png"]
    r = client.post("/recommend", data={"history": history, "k": "5", "method": "mmr"})
    assert r.status_code == 200, r.text
    ids = [h["id"] for h in r.json()["hits"]]
    assert len(ids) == 5
    assert not set(ids) & set(history)
    r = client.post("/recommend", files=_img("blue"), data={"k": "4", "lambda": "1.0"})
    assert r.status_code == 200
    assert set(_labels(r.json()["hits"])) == {"blue"}


def test_recommend_bad_inputs(client) -> None:
    r = client.post("/recommend", data={"history": "red/nope.png"})
    assert r.status_code == 404
    assert "red/nope.png" in r.json()["error"]["message"]
    r = client.post("/recommend", data={"history": "red/red1.png", "method": "magic"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "method"
    r = client.post("/recommend", data={"history": "red/red1.png", "lambda": "3"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "lambda"
    assert client.post("/recommend", data={}).status_code == 422


# ---- caption ---------------------------------------------------------------------------------
def test_caption_and_caption_search(client) -> None:
    r = client.post("/caption", files=_img("blue"), data={"k": "3"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "blue" in body["caption"]
    assert body["similar"]
    assert set(_labels(body["similar"])) == {"blue"}
    assert all(h["score"] >= 0.9 for h in body["similar"])


def test_caption_needs_an_image(client) -> None:
    r = client.post("/caption", data={"k": "3"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "image"


def test_caption_batch(client) -> None:
    files = [("images", (f"{c}.png", png_bytes(picture(c)), "image/png")) for c in ("red", "green")]
    caps = [x["caption"] for x in client.post("/caption/batch", files=files).json()["results"]]
    assert "red" in caps[0]
    assert "green" in caps[1]


# ---- items, thumbnails, map ------------------------------------------------------------------
def test_item_with_slashes(client) -> None:
    r = client.get("/items/green/deep/green1.png")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["title"] == "a green picture number 1"
    assert body["label"] == "green"
    assert body["indexed"]
    assert len(body["similar"]) == 5
    assert len(body["divergent"]) == 5
    assert body["thumbnail"] == "/items/green/deep/green1.png/thumbnail"


def test_thumbnail_is_a_small_png(client) -> None:
    from io import BytesIO

    from PIL import Image

    r = client.get("/items/green/deep/green1.png/thumbnail", params={"size": 64})
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    with Image.open(BytesIO(r.content)) as img:
        assert max(img.size) <= 64
    assert client.get("/items/red/red1.png/thumbnail", params={"size": 9999}).status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "/static/../app.py",
        "/static/..%2F..%2Fservice%2Fapp.py",
        "/static/%2e%2e/backend.py",
        "/items/unknown.png",
        "/items/../../etc/passwd",
        "/items/..%2F..%2F..%2Fetc%2Fpasswd",
        "/items/%2e%2e/%2e%2e/etc/passwd/thumbnail",
        "/items/red/../../../../etc/passwd/thumbnail",
        "/items//etc/passwd/thumbnail",
        "/items/red%2Fred1.png%00/thumbnail",
    ],
)
def test_unknown_ids_and_traversal_are_404(client, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert "root:" not in r.text
    assert "import " not in r.text
    assert r.json()["error"]["code"] in ("unknown_item", "not_found")


def test_map_points(client) -> None:
    body = client.get("/map").json()
    pts = body["points"]
    assert len(pts) == 24
    assert body["classes"] == sorted(COLOURS)
    assert all(0 <= p["x"] <= 1 and 0 <= p["y"] <= 1 for p in pts)
    # the ranking space separates the colours: each point is nearest to one of its own colour
    xy = {p["id"]: (p["x"], p["y"]) for p in pts}
    lab = {p["id"]: p["label"] for p in pts}
    for i in xy:
        j = min(
            (j for j in xy if j != i),
            key=lambda j: (xy[i][0] - xy[j][0]) ** 2 + (xy[i][1] - xy[j][1]) ** 2,
        )
        assert lab[i] == lab[j]


def test_requests_are_logged(client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="pictext.service"):
        client.post("/tag", files=_img())
    line = next(r.getMessage() for r in caplog.records if "/tag" in r.getMessage())
    assert '"POST /tag" 200' in line
    assert "model=" in line


def test_the_same_upload_is_decoded_and_embedded_once(client) -> None:
    files = _img("green", seed=1234, name="once.png")
    first = client.post("/tag", files=files).headers["server-timing"]
    again = client.post("/similar", files=files).headers["server-timing"]
    assert "decode;dur=" in first
    assert "decode;dur=" not in again


def test_log_lines_cannot_be_forged(client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="pictext.service"):
        client.get("/items/x%0A1.2.3.4%20%22GET%20/admin%22%20200")
    lines = [r.getMessage() for r in caplog.records if "/items/x" in r.getMessage()]
    assert len(lines) == 1
    assert "\n" not in lines[0]
