"""A bounded fuzz test of the service: a few hundred random requests (random bytes, random
JSON, random forms and uploads, random ids) from a fixed seed.

Every answer is JSON (a thumbnail is a PNG), no answer is a 500 or holds a traceback, every
error names its status, and afterwards the server answers the same requests with the same
results as before. A seeded generator, not hypothesis: hypothesis is not a dependency.
"""

from __future__ import annotations

import json
import random
import string
from typing import Any

from service_toys import COLOURS, PER_CLASS, picture, png_bytes, png_header_only

SEED = 20260901
N_REQUESTS = 400

POST_ROUTES = [
    "/tag", "/tag/batch", "/verify", "/verify/batch", "/similar", "/similar/batch",
    "/divergent", "/divergent/batch", "/recommend", "/caption", "/caption/batch",
]  # fmt: skip
FIELDS = [
    "title", "description", "tags", "label", "k", "item_id", "history", "method", "lambda",
    "pool", "items", "mode", "spread", "quantile", "unknown",
]  # fmt: skip
CONTENT_TYPES = [
    None, "application/json", "application/x-www-form-urlencoded", "multipart/form-data",
    "multipart/form-data; boundary=xyz", "text/plain", "image/png", "application/ld+json",
]  # fmt: skip
IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/svg+xml", "image/webp", "text/html"]
IDS = [
    f"{c}/{'deep/' if c == 'green' else ''}{c}{i}.png" for c in COLOURS for i in range(PER_CLASS)
]
ODD_IDS = ["", "..", "../../etc/passwd", "red/../../x", "%00", "a" * 3000, "ünï/cødé.png"]


def _text(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.3:
        return rng.choice(["red", "a blue picture", "green, colour", "", " ", "purple"])
    if pick < 0.5:
        return str(rng.choice([-1, 0, 1, 3, 10**9, 10**30, 0.5, float("nan"), "inf", "1e3"]))
    if pick < 0.6:
        return rng.choice(["x" * 5000, "," * 300, "\x00\x01\x02", "\u202e\ufeff" * 50])
    alphabet = string.printable + "éü中文🙂\u0301"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))


def _json(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth > 4 or pick < 0.3:
        return rng.choice([None, True, -1, 0, 3, 2**70, 1.5, _text(rng), "label", []])
    if pick < 0.6:
        return [_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["title", "description", "tags", "label", _text(rng)]
    return {rng.choice(keys): _json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def _json_text(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.15:
        n = rng.choice([200, 5000, 100_000])
        return "[" * n + "]" * n
    if pick < 0.3:
        text = json.dumps(_json(rng))
        return text[: rng.randint(0, len(text))]  # cut short
    return json.dumps(_json(rng))


def _image(rng: random.Random) -> bytes:
    colour = rng.choice(sorted(COLOURS))
    good = png_bytes(picture(colour, size=(rng.randint(1, 48), rng.randint(1, 48)), seed=7))
    return rng.choice(
        [
            good,
            good[: rng.randint(0, len(good))],
            rng.randbytes(rng.randint(0, 400)),
            png_header_only(rng.choice([1, 70_000]), rng.choice([1, 70_000])),
            b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><rect/></svg>',
            b"<svg>" * rng.randint(1, 50),
            b"",
        ]
    )


# A plausible value per field: half the fields get one, so requests reach past the form checks.
PLAUSIBLE = {
    "title": "a red picture", "description": "mostly blue", "tags": "green, colour",
    "label": "red", "k": "3", "item_id": IDS[0], "history": IDS[1], "method": "dpp",
    "lambda": "0.3", "pool": "50", "items": "", "mode": "farthest", "spread": "0.5",
    "quantile": "0.8", "unknown": "x",
}  # fmt: skip


def _form(rng: random.Random) -> dict[str, Any]:
    data = {}
    for name in rng.sample(FIELDS, rng.randint(0, 5)):
        if rng.random() < 0.5:
            data[name] = PLAUSIBLE[name]
            continue
        value = _json_text(rng) if name == "items" else _text(rng)
        if name == "history" and rng.random() < 0.5:
            value = rng.sample(IDS + ODD_IDS, rng.randint(1, 4))
        if name == "item_id" and rng.random() < 0.5:
            value = rng.choice(IDS + ODD_IDS)
        data[name] = value
    files = []
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 17])):
        field = rng.choice(["image", "images", "images", "other"])
        name = rng.choice(["a.png", "../../etc/passwd", "", "x" * 300, "ü.svg"])
        files.append((field, (name, _image(rng), rng.choice(IMAGE_TYPES))))
    return {"data": data, "files": files or None}


def random_request(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    """One random request: (method, path, keyword arguments of the test client)."""
    pick = rng.random()
    if pick < 0.15:
        item = rng.choice(IDS + ODD_IDS)
        if rng.random() < 0.5:
            size = rng.choice([64, 128, -1, 0, 10**6, "x"])
            return "get", f"/items/{item}/thumbnail", {"params": {"size": size}}
        return "get", f"/items/{item}", {"params": {"neighbours": rng.choice([0, 5, 51, -2])}}
    if pick < 0.2:
        return "get", rng.choice(["/info", "/map", "/nope", "/tag"]), {}
    path = rng.choice(POST_ROUTES)
    if pick < 0.4:  # random bytes under a random declared type
        ctype = rng.choice(CONTENT_TYPES)
        headers = {"content-type": ctype} if ctype else {}
        return "post", path, {"content": rng.randbytes(rng.randint(0, 3000)), "headers": headers}
    if pick < 0.5:  # a JSON body where a form is expected
        body = _json_text(rng).encode()
        return "post", path, {"content": body, "headers": {"content-type": "application/json"}}
    if pick < 0.6:  # a url-encoded form
        return "post", path, {"data": _form(rng)["data"]}
    return "post", path, _form(rng)  # multipart


def _problem(method: str, path: str, r: Any) -> str | None:
    """What is wrong with an answer, or None."""
    if r.status_code >= 500:
        return f"{r.status_code}: {r.text[:200]}"
    if "Traceback" in r.text:
        return "a traceback in the answer"
    if r.status_code == 200 and r.request.url.path == "/":  # the client made "/items/.." "/"
        return None if r.headers["content-type"].startswith("text/html") else "the page is no HTML"
    if method == "get" and path.endswith("/thumbnail") and r.status_code == 200:
        return None if r.headers["content-type"] == "image/png" else "a thumbnail that is no PNG"
    try:
        body = r.json()
    except ValueError:
        return f"{r.status_code} answered with no JSON: {r.text[:80]!r}"
    if r.status_code >= 400:
        err = body.get("error", {}) if isinstance(body, dict) else {}
        if err.get("status") != r.status_code or not isinstance(err.get("message"), str):
            return f"{r.status_code} with a body that names no error: {r.text[:200]}"
        if "\n" in err["message"]:
            return "an error message of several lines"
    return None


def _references(client) -> dict[str, Any]:
    image = {"image": ("ref.png", png_bytes(picture("blue", seed=5)), "image/png")}
    return {
        "similar": client.post("/similar", files=image, data={"k": "5"}).json(),
        "tag": client.post("/tag", files=image, data={"k": "3", "title": "a blue one"}).json(),
        "caption": client.post("/caption", files=image, data={"k": "3"}).json(),
        "item": client.get("/items/red/red1.png").json(),
    }


def test_fuzz_leaves_the_service_answering_the_same(app) -> None:
    from fastapi.testclient import TestClient

    client = TestClient(app, raise_server_exceptions=False)
    before = _references(client)
    assert before["similar"]["hits"], before  # the references are real answers
    assert before["tag"]["top"], before
    rng = random.Random(SEED)
    statuses: dict[int, int] = {}
    problems = []
    for i in range(N_REQUESTS):
        method, path, kwargs = random_request(rng)
        r = getattr(client, method)(path, **kwargs)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        problem = _problem(method, path, r)
        if problem:
            problems.append(f"#{i} {method.upper()} {path[:60]} {kwargs!r:.200}: {problem}")
    assert not problems, "\n".join(problems[:10])
    assert _references(client) == before
    # the fuzz reached past the form checks: some answers, and errors of several kinds
    assert statuses.get(200, 0) >= 10, statuses
    assert len([s for s in statuses if 400 <= s < 500]) >= 4, statuses
